import { randomUUID } from 'node:crypto';
import { Notification } from '../../src/db/entities';
import { emailAddressHash } from '../../src/db/repositories/email-suppressions';
import { ApiTestApp, apiTestEnv } from '../helpers/api-app';
import { HttpStandIn } from '../helpers/provider-stand-ins';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

const PUBLIC_URL = 'https://notify.shop.test';
const SHOP_URL = 'https://shop.test';
const SERVER_TOKEN = 'pm-server-token-0123456789';
const WEBHOOK_PASSWORD = 'pm-webhook-password-0123456789';

/** Postmark's Email API on a stand-in: POST /email answers as Postmark does (MessageID, ErrorCode 0). */
function startPostmarkStandIn(): Promise<HttpStandIn> {
  return new HttpStandIn((req) => {
    const body = JSON.parse(req.body || '{}') as { To?: string };
    return {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        To: body.To,
        SubmittedAt: new Date().toISOString(),
        MessageID: randomUUID(),
        ErrorCode: 0,
        Message: 'OK',
      }),
    };
  }).listen();
}

/**
 * The HTTP email provider with receipts (docs/tracking-and-receipts.md): Postmark's SDK against a
 * stand-in speaking its API, its webhooks on our API, the suppression list at admission and the
 * operators' override.
 */
describe('Postmark email provider, receipts and the suppression list', () => {
  let postmark: HttpStandIn;
  let stack: TestStack;
  let api: ApiTestApp;

  beforeAll(async () => {
    postmark = await startPostmarkStandIn();
    stack = new TestStack({
      env: apiTestEnv({
        EMAIL_PROVIDER: 'postmark',
        POSTMARK_API_URL: postmark.url,
        POSTMARK_SERVER_TOKEN: SERVER_TOKEN,
        POSTMARK_WEBHOOK_PASSWORD: WEBHOOK_PASSWORD,
        TRACKING_SECRET: 'test-tracking-secret-0123456789abcdef',
        PUBLIC_URL,
        SHOP_URL,
      }),
    });
    await stack.start();
    api = await new ApiTestApp(stack).start();
  });
  afterAll(async () => {
    await api?.close();
    await stack?.stop();
    await postmark?.close();
  });

  const sql = <T = Record<string, unknown>>(query: string, params: unknown[] = []): Promise<T[]> =>
    stack.orm.em.fork().getConnection().execute(query, params);
  const engagement = async (notificationId: string, kind: string) => {
    const [row] = await sql<{ count: number }>(
      `select count from notification_engagement where notification_id = ? and channel = 'email' and kind = ?`,
      [notificationId, kind],
    );
    return row?.count ?? 0;
  };
  const basic = (password: string) => `Basic ${Buffer.from(`postmark:${password}`).toString('base64')}`;
  const webhook = (payload: Record<string, unknown>, password = WEBHOOK_PASSWORD) =>
    api.inject({
      method: 'POST',
      url: '/api/webhooks/postmark',
      headers: { authorization: basic(password) },
      payload,
    });
  const emailRequestsTo = (address: string) =>
    postmark.requests.filter((r) => r.path === '/email' && JSON.parse(r.body).To === address);

  /** One order email; the stored row once the event is over. */
  async function sendEmail(userId: string): Promise<Notification> {
    const eventId = await stack.publishEmail(userId);
    await stack.client.eventResult(eventId);
    return (await stack.deliveryAttempts(eventId, userId)).notification;
  }

  it('sends through the Postmark API with the token, metadata and tracked links; acceptance is sent only, the Delivery webhook delivered', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const notification = await sendEmail(userId);
    expect(notification.state).toBe('delivered');
    const [request] = emailRequestsTo(`${userId}@example.test`);
    expect(request.headers['x-postmark-server-token']).toBe(SERVER_TOKEN);
    const body = JSON.parse(request.body);
    expect(body).toMatchObject({
      From: stack.config.emailFrom,
      MessageStream: 'outbound',
      Metadata: { notificationId: notification.id },
      TrackOpens: false,
    });
    expect(body.HtmlBody).toContain(`${PUBLIC_URL}/r/`);
    expect(body.HtmlBody).not.toContain(`href="${SHOP_URL}/orders/`);
    expect(body.Headers).toContainEqual({ Name: 'X-Notification-Id', Value: notification.id });
    await waitFor(async () => ((await engagement(notification.id, 'sent')) === 1 ? true : undefined), 5000);
    expect(await engagement(notification.id, 'delivered')).toBe(0);

    const delivery = {
      RecordType: 'Delivery',
      MessageID: notification.channelStates.email?.providerMessageId,
      Recipient: `${userId}@example.test`,
      DeliveredAt: '2026-12-07T10:00:00Z',
      Metadata: { notificationId: notification.id },
    };
    expect((await webhook(delivery, 'wrong-password-0123456789')).statusCode).toBe(401);
    const anonymous = await api.inject({ method: 'POST', url: '/api/webhooks/postmark', payload: delivery });
    expect(anonymous.statusCode).toBe(401);
    expect(await engagement(notification.id, 'delivered')).toBe(0);
    expect((await webhook(delivery)).statusCode).toBe(204);
    expect((await webhook(delivery)).statusCode).toBe(204);
    const [row] = await sql<{ count: number; first_at: Date }>(
      `select count, first_at from notification_engagement where notification_id = ? and kind = 'delivered'`,
      [notification.id],
    );
    expect(row.count).toBe(2);
    expect(new Date(row.first_at).toISOString()).toBe('2026-12-07T10:00:00.000Z');
  });

  it('a hard bounce fails the channel once and suppresses the address at the door; the operator lifts it and email flows again', async () => {
    const userId = stack.uid('u');
    const address = `${userId}@example.test`;
    await stack.createRecipient({ id: userId });
    const first = await sendEmail(userId);
    const bounce = {
      RecordType: 'Bounce',
      Type: 'HardBounce',
      TypeCode: 1,
      MessageID: first.channelStates.email?.providerMessageId,
      Email: address.toUpperCase(),
      BouncedAt: '2026-12-07T10:01:00Z',
      Description: 'The server was unable to deliver your message (ex: unknown user, mailbox not found).',
      Metadata: { notificationId: first.id },
    };
    expect((await webhook(bounce)).statusCode).toBe(204);
    const failed = await stack.orm.em.fork().findOneOrFail(Notification, { id: first.id });
    expect(failed.state).toBe('failed');
    expect(failed.channelStates.email).toMatchObject({ state: 'failed' });
    expect(failed.channelStates.email?.error).toMatch(/^bounced: The server was unable/);
    expect((await webhook(bounce)).statusCode).toBe(204);
    expect(await engagement(first.id, 'bounced')).toBe(2);
    expect((await stack.orm.em.fork().findOneOrFail(Notification, { id: first.id })).version).toBe(
      failed.version,
    );

    const listed = await api.admin({
      method: 'GET',
      url: `/api/admin/suppressions?address=${encodeURIComponent(address)}`,
    });
    expect(listed.statusCode).toBe(200);
    expect(listed.json().items).toEqual([
      expect.objectContaining({
        reason: 'bounced',
        source: 'postmark',
        notificationId: first.id,
        liftedAt: null,
      }),
    ]);
    expect(listed.json().items[0].addressHint).toBe(`${address[0]}***@example.test`);
    const active = await api.admin({ method: 'GET', url: '/api/admin/suppressions' });
    expect(active.json().items.map((s: { notificationId: string }) => s.notificationId)).toContain(first.id);
    expect(JSON.stringify(active.json())).not.toContain(address);

    const requestsBefore = emailRequestsTo(address).length;
    const suppressed = await sendEmail(userId);
    expect(suppressed.state).toBe('suppressed');
    expect(suppressed.channelStates.email).toMatchObject({
      state: 'suppressed',
      reason: 'suppressed address: bounced',
    });
    expect(emailRequestsTo(address)).toHaveLength(requestsBefore);

    const shopper = await api.as(userId, {
      method: 'DELETE',
      url: `/api/admin/suppressions/${encodeURIComponent(address)}`,
    });
    expect(shopper.statusCode).toBe(403);
    const lifted = await api.admin({
      method: 'DELETE',
      url: `/api/admin/suppressions/${encodeURIComponent(address)}`,
    });
    expect(lifted.statusCode).toBe(200);
    expect(lifted.json()).toEqual({ address, lifted: true, liftedBy: 'key:oncall' });
    const twice = await api.admin({
      method: 'DELETE',
      url: `/api/admin/suppressions/${encodeURIComponent(address)}`,
    });
    expect(twice.statusCode).toBe(404);
    const again = await sendEmail(userId);
    expect(again.state).toBe('delivered');
    expect(emailRequestsTo(address)).toHaveLength(requestsBefore + 1);
  });

  it('a spam complaint found by message id alone counts complained and suppresses, leaving the delivered channel as it was; soft bounces change nothing', async () => {
    const userId = stack.uid('u');
    const address = `${userId}@example.test`;
    await stack.createRecipient({ id: userId });
    const sent = await sendEmail(userId);
    const messageId = sent.channelStates.email?.providerMessageId;
    expect(messageId).toBeTruthy();
    const soft = { RecordType: 'Bounce', Type: 'SoftBounce', MessageID: messageId, Email: address };
    expect((await webhook(soft)).statusCode).toBe(204);
    expect(
      await sql(`select 1 from email_suppressions where address_hash = ?`, [emailAddressHash(address)]),
    ).toEqual([]);
    expect(
      (await webhook({ RecordType: 'SpamComplaint', MessageID: messageId, Email: address })).statusCode,
    ).toBe(204);
    expect(await engagement(sent.id, 'complained')).toBe(1);
    expect((await stack.orm.em.fork().findOneOrFail(Notification, { id: sent.id })).state).toBe('delivered');
    const next = await sendEmail(userId);
    expect(next.channelStates.email).toMatchObject({
      state: 'suppressed',
      reason: 'suppressed address: complained',
    });
  });

  it("fails the channel for good on Postmark's 422 (inactive recipient) and retries a 500", async () => {
    const inactive = stack.uid('u');
    await stack.createRecipient({ id: inactive });
    postmark.respondTo(
      '/email',
      422,
      JSON.stringify({
        ErrorCode: 406,
        Message: 'You tried to send to a recipient that has been marked as inactive.',
      }),
      { 'content-type': 'application/json' },
    );
    const refused = await sendEmail(inactive);
    expect(refused.state).toBe('failed');
    expect(refused.channelStates.email?.error).toMatch(/^Postmark 406: You tried to send to a recipient/);
    expect(emailRequestsTo(`${inactive}@example.test`)).toHaveLength(1);

    const flaky = stack.uid('u');
    await stack.createRecipient({ id: flaky });
    postmark.respondTo('/email', 500, JSON.stringify({ ErrorCode: 0, Message: 'Internal error' }), {
      'content-type': 'application/json',
    });
    const retried = await sendEmail(flaky);
    expect(retried.state).toBe('delivered');
    expect(retried.channelStates.email?.attempts).toBe(2);
    expect(emailRequestsTo(`${flaky}@example.test`)).toHaveLength(2);
  });

  it('answers a bad body with 400 naming the field', async () => {
    const res = await webhook({ MessageID: 'x' });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toContain('RecordType');
  });

  it('documents the receipt, tracking and suppression routes in the OpenAPI document', async () => {
    const doc = (await api.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/admin/suppressions',
        '/api/admin/suppressions/{address}',
        '/api/webhooks/postmark',
        '/api/webhooks/twilio/status',
        '/r/{token}',
        '/o/{file}',
      ]),
    );
    const lift = doc.paths['/api/admin/suppressions/{address}'].delete;
    expect(lift.tags).toEqual(['operators']);
    expect(lift.security.length).toBeGreaterThan(0);
    expect(Object.keys(lift.responses)).toEqual(expect.arrayContaining(['200', '404']));
  });
});

import { twilioSignature } from '../../src/consent/twilio-signature';
import { loadConfig } from '../../src/config';
import { Notification } from '../../src/db/entities';
import { createProviders } from '../../src/delivery/providers/create-providers';
import type { ChannelProvider } from '../../src/delivery/providers/provider';
import { ApiTestApp, apiTestEnv } from '../helpers/api-app';
import { mimePart } from '../helpers/mime-part';
import { startTwilioStandIn, type HttpStandIn } from '../helpers/provider-stand-ins';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

const TRACKING_SECRET = 'test-tracking-secret-0123456789abcdef';
const PUBLIC_URL = 'https://notify.shop.test';
const SHOP_URL = 'https://shop.test';
const TWILIO_AUTH_TOKEN = 'twilio-auth-token-0123456789';

/**
 * Engagement we observe and SMS receipts (docs/tracking-and-receipts.md), through real sends: SMTP to
 * the test peer, Twilio's API on a stand-in, the API's redirect, pixel and status callback.
 */
describe('click and open tracking, inbox reads, Twilio status callbacks', () => {
  let twilio: HttpStandIn;
  let stack: TestStack;
  let api: ApiTestApp;
  const env = () =>
    apiTestEnv({
      TRACKING_SECRET,
      PUBLIC_URL,
      SHOP_URL,
      TWILIO_BASE_URL: twilio.url,
      TWILIO_ACCOUNT_SID: 'AC0123456789abcdef0123456789abcdef',
      TWILIO_AUTH_TOKEN,
      TWILIO_FROM: '+15550000000',
    });

  beforeAll(async () => {
    twilio = await startTwilioStandIn();
    stack = new TestStack({ env: env() });
    await stack.start();
    api = await new ApiTestApp(stack).start();
  });
  afterAll(async () => {
    await api?.close();
    await stack?.stop();
    await twilio?.close();
  });

  const sql = <T = Record<string, unknown>>(query: string, params: unknown[] = []): Promise<T[]> =>
    stack.orm.em.fork().getConnection().execute(query, params);
  const engagement = async (notificationId: string, channel: string, kind: string) => {
    const [row] = await sql<{ count: number }>(
      `select count from notification_engagement where notification_id = ? and channel = ? and kind = ?`,
      [notificationId, channel, kind],
    );
    return row?.count ?? 0;
  };
  /** Acceptance engagement is written just after the outcome that ends the event: poll for it. */
  const eventually = (notificationId: string, channel: string, kind: string, count: number) =>
    waitFor(
      async () => ((await engagement(notificationId, channel, kind)) === count ? true : undefined),
      5000,
    );
  /** The path and query of a link on PUBLIC_URL, for inject (the test API is not on that origin). */
  const pathOf = (link: string) => {
    const url = new URL(link);
    return `${url.pathname}${url.search}`;
  };
  const hrefs = (html: string) =>
    [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1].replace(/&amp;/g, '&'));

  async function sendOrderEmail(
    userId: string,
  ): Promise<{ notification: Notification; html: string; text: string }> {
    const eventId = await stack.publishEmail(userId);
    await stack.client.eventResult(eventId);
    const [mail] = await stack.smtp.waitForMessages(`${userId}@example.test`);
    const { notification } = await stack.deliveryAttempts(eventId, userId);
    return { notification, html: mimePart(mail.raw, 'text/html'), text: mimePart(mail.raw, 'text/plain') };
  }

  it('rewrites the order email links through the signed redirect, adds the pixel, and counts sent + delivered', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const { notification, html, text } = await sendOrderEmail(userId);
    const orderLink = `${SHOP_URL}/orders/`;
    expect(hrefs(html).some((href) => href.startsWith(orderLink))).toBe(false);
    expect(hrefs(html).some((href) => href.startsWith(`${PUBLIC_URL}/r/`))).toBe(true);
    expect(html).toMatch(new RegExp(`<img src="${PUBLIC_URL}/o/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.gif"`));
    expect(text).toContain(`${PUBLIC_URL}/r/`);
    expect(text).not.toContain(orderLink);
    // SMTP has no receipts: acceptance is sent and delivered.
    await eventually(notification.id, 'email', 'sent', 1);
    await eventually(notification.id, 'email', 'delivered', 1);
  });

  it('redirects a valid click with 302 to its target, counting it once and then twice', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const { notification, html } = await sendOrderEmail(userId);
    const tracked = hrefs(html).filter((href) => href.startsWith(`${PUBLIC_URL}/r/`));
    const targets: string[] = [];
    for (const link of tracked) {
      const res = await api.inject({ method: 'GET', url: pathOf(link) });
      expect(res.statusCode).toBe(302);
      targets.push(res.headers.location as string);
    }
    const orderClick = tracked[targets.findIndex((t) => t.startsWith(`${SHOP_URL}/orders/`))];
    expect(orderClick).toBeDefined();
    const [row] = await sql<{ count: number; first_at: Date; seq: string }>(
      `select count, first_at, seq from notification_engagement where notification_id = ? and channel = 'email' and kind = 'clicked'`,
      [notification.id],
    );
    expect(row.count).toBe(tracked.length);
    const again = await api.inject({ method: 'GET', url: pathOf(orderClick) });
    expect(again.statusCode).toBe(302);
    expect(await engagement(notification.id, 'email', 'clicked')).toBe(tracked.length + 1);
    const [after] = await sql<{ seq: string }>(
      `select seq from notification_engagement where notification_id = ? and channel = 'email' and kind = 'clicked'`,
      [notification.id],
    );
    expect(after.seq).toBe(row.seq);
    // The operator's trace shows what was observed, each kind at its first occurrence.
    const trace = await api.admin({ method: 'GET', url: `/api/notifications/${notification.id}/trace` });
    expect(trace.statusCode).toBe(200);
    const kinds = trace.json().timeline.filter((e: { kind: string }) => e.kind.startsWith('engagement.'));
    expect(kinds).toContainEqual(
      expect.objectContaining({
        kind: 'engagement.clicked',
        channel: 'email',
        detail: expect.objectContaining({ count: tracked.length + 1 }),
      }),
    );
    expect(kinds.map((e: { kind: string }) => e.kind)).toEqual(
      expect.arrayContaining(['engagement.sent', 'engagement.delivered']),
    );
  });

  it('never redirects a forged link and counts nothing for it', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const { notification, html } = await sendOrderEmail(userId);
    const link = hrefs(html).find((href) => href.startsWith(`${PUBLIC_URL}/r/`))!;
    const token = new URL(link).pathname.slice('/r/'.length);
    const [payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const forgedPayload = Buffer.from(JSON.stringify({ ...claims, u: 'https://evil.test/phish' })).toString(
      'base64url',
    );
    for (const forged of [
      `${forgedPayload}.${signature}`,
      `${payload}.${'A'.repeat(signature.length)}`,
      'garbage',
    ]) {
      const res = await api.inject({ method: 'GET', url: `/r/${forged}` });
      expect(res.statusCode).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.body).not.toContain('evil.test');
    }
    expect(await engagement(notification.id, 'email', 'clicked')).toBe(0);
  });

  it('counts opens through the pixel; a bad pixel token still answers the image and counts nothing', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const { notification, html } = await sendOrderEmail(userId);
    const pixel = new RegExp(`<img src="(${PUBLIC_URL}/o/[^"]+)"`).exec(html)![1];
    const res = await api.inject({ method: 'GET', url: pathOf(pixel) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/gif');
    expect(res.headers['cache-control']).toContain('no-store');
    expect(res.rawPayload.subarray(0, 6).toString('latin1')).toBe('GIF89a');
    await api.inject({ method: 'GET', url: pathOf(pixel) });
    expect(await engagement(notification.id, 'email', 'opened')).toBe(2);
    const bad = await api.inject({ method: 'GET', url: '/o/not.signed.gif' });
    expect(bad.statusCode).toBe(200);
    expect(await engagement(notification.id, 'email', 'opened')).toBe(2);
  });

  it('never rate-limits pixels and redirects per address (image proxies and link scanners share few addresses)', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const { notification, html } = await sendOrderEmail(userId);
    const limited = await new ApiTestApp(stack).start({
      configure: (config) => ({
        ...config,
        api: { ...config.api, rateLimit: { ...config.api.rateLimit, perUser: 2 } },
      }),
    });
    try {
      const pixel = pathOf(new RegExp(`<img src="(${PUBLIC_URL}/o/[^"]+)"`).exec(html)![1]);
      const click = pathOf(hrefs(html).find((href) => href.startsWith(`${PUBLIC_URL}/r/`))!);
      for (let i = 0; i < 5; i++) {
        expect((await limited.inject({ method: 'GET', url: pixel })).statusCode).toBe(200);
        expect((await limited.inject({ method: 'GET', url: click })).statusCode).toBe(302);
      }
      // Anonymous calls to other routes are limited per address as before.
      const statuses = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await limited.inject({ method: 'GET', url: '/unsubscribe/not-a-token' })).statusCode);
      expect(statuses).toContain(429);
      expect(await engagement(notification.id, 'email', 'opened')).toBe(5);
    } finally {
      await limited.close();
    }
  });

  it('sends original links and no pixel with TRACKING=off, and no pixel with TRACK_OPENS=false', async () => {
    const sendWith = async (extra: Record<string, string>) => {
      const config = loadConfig({ ...env(), SMTP_URL: stack.smtp.url, ...extra });
      const email = createProviders(config, stack.orm, stack.redis).email as ChannelProvider<'email'>;
      const userId = stack.uid('u');
      await stack.createRecipient({ id: userId });
      const eventId = await stack.publishEmail(userId);
      await stack.client.eventResult(eventId);
      const { notification } = await stack.deliveryAttempts(eventId, userId);
      // The same stored content, sent again by a provider built from this configuration.
      await email.send({
        notificationId: notification.id,
        channel: 'email',
        recipient: { id: userId, email: `${userId}+again@example.test` },
        content: (notification.content as { email: never }).email,
        idempotencyKey: `${notification.id}.email.again`,
      });
      await email.close?.();
      const [mail] = await stack.smtp.waitForMessages(`${userId}+again@example.test`);
      return { html: mimePart(mail.raw, 'text/html'), text: mimePart(mail.raw, 'text/plain') };
    };
    const off = await sendWith({ TRACKING: 'off' });
    expect(hrefs(off.html).some((href) => href.startsWith(`${SHOP_URL}/orders/`))).toBe(true);
    expect(off.html).not.toContain(`${PUBLIC_URL}/r/`);
    expect(off.html).not.toContain(`${PUBLIC_URL}/o/`);
    expect(off.text).toContain(`${SHOP_URL}/orders/`);
    const noOpens = await sendWith({ TRACK_OPENS: 'false' });
    expect(noOpens.html).toContain(`${PUBLIC_URL}/r/`);
    expect(noOpens.html).not.toContain(`${PUBLIC_URL}/o/`);
  });

  it('records read from the inbox, once as first and counted again on a repeat', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const eventId = stack.uid('evt');
    await stack.client.publishNotification({
      id: eventId,
      userId,
      templateCode: 'order_created',
      variables: { orderNumber: eventId, total: 5, currency: 'INR' },
      options: { channels: ['in_app'] },
    });
    await stack.client.eventResult(eventId);
    const { notification } = await stack.deliveryAttempts(eventId, userId);
    const feed = await api.as(userId, { method: 'GET', url: '/api/notifications' });
    const item = feed.json().items[0];
    expect(item.actionUrl.startsWith(`${PUBLIC_URL}/r/`)).toBe(true);
    for (let i = 0; i < 2; i++) {
      const res = await api.as(userId, { method: 'POST', url: `/api/notifications/${notification.id}/read` });
      expect(res.statusCode).toBe(200);
    }
    expect(await engagement(notification.id, 'in_app', 'read')).toBe(2);
    const click = await api.inject({ method: 'GET', url: pathOf(item.actionUrl) });
    expect(click.statusCode).toBe(302);
    expect(click.headers.location).toBe(`${SHOP_URL}/orders/${eventId}`);
    expect(await engagement(notification.id, 'in_app', 'clicked')).toBe(1);
  });

  describe('Twilio status callbacks', () => {
    async function sendSms(): Promise<{ notification: Notification; callback: string }> {
      const userId = stack.uid('u');
      await stack.createRecipient({ id: userId, phone: '+15551230000' });
      const before = twilio.requests.length;
      const eventId = stack.uid('evt');
      await stack.client.publishNotification({
        id: eventId,
        userId,
        templateCode: 'order_created',
        variables: { orderNumber: eventId, total: 5, currency: 'INR' },
        options: { channels: ['sms'] },
      });
      await stack.client.eventResult(eventId);
      const { notification } = await stack.deliveryAttempts(eventId, userId);
      const [request] = await twilio.waitForRequests(before + 1).then((all) => all.slice(before));
      return { notification, callback: new URLSearchParams(request.body).get('StatusCallback')! };
    }

    const post = (callback: string, params: Record<string, string>, signature?: string) =>
      api.inject({
        method: 'POST',
        url: pathOf(callback),
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': signature ?? twilioSignature(TWILIO_AUTH_TOKEN, callback, params),
        },
        payload: new URLSearchParams(params).toString(),
      });
    const state = async (id: string) => stack.orm.em.fork().findOneOrFail(Notification, { id });

    it('asks Twilio for status callbacks carrying the notification; refuses a bad signature with 401', async () => {
      const { notification, callback } = await sendSms();
      expect(callback).toBe(`${PUBLIC_URL}/api/webhooks/twilio/status?n=${notification.id}`);
      // Twilio's SMS acceptance is sent only: delivery comes by receipt.
      await eventually(notification.id, 'sms', 'sent', 1);
      expect(await engagement(notification.id, 'sms', 'delivered')).toBe(0);
      const params = { MessageSid: 'SM1', MessageStatus: 'delivered' };
      const forged = await post(callback, params, twilioSignature('another-token', callback, params));
      expect(forged.statusCode).toBe(401);
      const unsigned = await post(callback, { ...params, MessageStatus: 'undelivered' }, 'x');
      expect(unsigned.statusCode).toBe(401);
      expect(await engagement(notification.id, 'sms', 'delivered')).toBe(0);
      expect((await state(notification.id)).channelStates.sms?.state).toBe('delivered');
    });

    it('delivered counts once as first; a repeat bumps the count only', async () => {
      const { notification, callback } = await sendSms();
      const params = { MessageSid: 'SM2', MessageStatus: 'delivered', AccountSid: 'AC0123' };
      expect((await post(callback, params)).statusCode).toBe(204);
      expect(await engagement(notification.id, 'sms', 'delivered')).toBe(1);
      expect((await post(callback, params)).statusCode).toBe(204);
      expect(await engagement(notification.id, 'sms', 'delivered')).toBe(2);
      const [row] = await sql<{ n: number }>(
        `select count(*)::int as n from notification_engagement where notification_id = ? and kind = 'delivered'`,
        [notification.id],
      );
      expect(row.n).toBe(1);
      const after = await state(notification.id);
      expect(after.state).toBe('delivered');
      expect(after.channelStates.sms?.state).toBe('delivered');
    });

    it('undelivered moves the sms channel to failed once; a repeat changes nothing but the count', async () => {
      const { notification, callback } = await sendSms();
      await eventually(notification.id, 'sms', 'sent', 1);
      const params = { MessageSid: 'SM3', MessageStatus: 'undelivered', ErrorCode: '30003' };
      expect((await post(callback, params)).statusCode).toBe(204);
      const moved = await state(notification.id);
      expect(moved.state).toBe('failed');
      expect(moved.channelStates.sms).toMatchObject({
        state: 'failed',
        error: 'undelivered: Twilio error 30003',
      });
      expect((await post(callback, params)).statusCode).toBe(204);
      const again = await state(notification.id);
      expect(again.version).toBe(moved.version);
      expect(await engagement(notification.id, 'sms', 'undelivered')).toBe(2);
      // Statuses on the way (queued, sent) are acknowledged and ignored.
      expect((await post(callback, { MessageSid: 'SM3', MessageStatus: 'sent' })).statusCode).toBe(204);
      const kinds = await sql<{ kind: string }>(
        `select kind from notification_engagement where notification_id = ? order by kind`,
        [notification.id],
      );
      expect(kinds.map((k) => k.kind)).toEqual(['sent', 'undelivered']);
    });

    it('moves the channel once when Twilio posts the same failure twice at the same moment', async () => {
      const { notification, callback } = await sendSms();
      const before = await state(notification.id);
      const params = { MessageSid: 'SM4', MessageStatus: 'failed', ErrorCode: '30006' };
      const answers = await Promise.all([
        post(callback, params),
        post(callback, params),
        post(callback, params),
      ]);
      expect(answers.map((a) => a.statusCode)).toEqual([204, 204, 204]);
      const after = await state(notification.id);
      expect(after.version).toBe(before.version + 1);
      expect(after.channelStates.sms).toMatchObject({
        state: 'failed',
        error: 'undelivered: Twilio error 30006',
      });
      expect(await engagement(notification.id, 'sms', 'undelivered')).toBe(3);
    });
  });
});

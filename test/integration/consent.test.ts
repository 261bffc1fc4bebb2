import { signUnsubscribeToken } from '../../src/consent/unsubscribe-token';
import { Notification } from '../../src/db/entities';
import { ApiTestApp, apiTestEnv } from '../helpers/api-app';
import type { ReceivedMail } from '../helpers/smtp-peer';
import { TestStack } from '../helpers/test-stack';

const UNSUBSCRIBE_SECRET = 'test-unsubscribe-secret-0123456789abcdef';
const PUBLIC_URL = 'https://notify.shop.test';

/** The mail's header block with folded lines joined, as a mail client reads it. */
function headersOf(mail: ReceivedMail): string {
  return mail.raw.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');
}

function listUnsubscribeUrl(mail: ReceivedMail): string {
  const match = /^List-Unsubscribe: <([^>]+)>\s*$/im.exec(headersOf(mail));
  if (!match) throw new Error(`no List-Unsubscribe header in:\n${headersOf(mail)}`);
  return match[1];
}

describe('consent and one-click unsubscribe', () => {
  const stack = new TestStack({ env: apiTestEnv({ UNSUBSCRIBE_SECRET, PUBLIC_URL }) });
  const api = new ApiTestApp(stack);
  beforeAll(async () => {
    await stack.start();
    await api.start({ listen: true });
  });
  afterAll(async () => {
    await api.close();
    await stack.stop();
  });

  /** A direct marketing send (the campaign template) to one recipient; resolves with its stored row once final. */
  async function sendMarketing(userId: string, channels = ['in_app', 'email']): Promise<Notification> {
    const eventId = stack.uid('evt');
    await stack.client.publishNotification({
      id: eventId,
      userId,
      templateCode: 'marketing_announcement',
      variables: { headline: `Sale ${eventId}`, message: 'Everything 20% off.' },
      options: { channels: channels as never },
    });
    await stack.client.eventResult(eventId);
    return stack.orm.em.fork().findOneOrFail(Notification, { eventId, recipientId: userId });
  }

  const optIn = (userId: string, source?: string) =>
    api.as(userId, {
      method: 'PUT',
      url: '/api/preferences',
      payload: { consent: { marketing: true }, ...(source ? { consentSource: source } : {}) },
    });

  /** The path of a public link on this API (the test API listens on loopback, not on PUBLIC_URL). */
  const local = (link: string) => `${api.url}${new URL(link).pathname}`;

  it('sends no marketing without an opt-in, on any channel, and says why', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const row = await sendMarketing(userId);
    expect(row.state).toBe('suppressed');
    expect(row.channelStates).toEqual({
      in_app: expect.objectContaining({ state: 'suppressed', reason: 'consent: marketing needs an opt-in' }),
      email: expect.objectContaining({ state: 'suppressed', reason: 'consent: marketing needs an opt-in' }),
    });
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(0);
  });

  it('records an opt-in with its time and source; the marketing email then carries RFC 8058 headers', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const before = Date.now();
    const res = await optIn(userId, 'inbox');
    expect(res.statusCode).toBe(200);
    const consent = res.json().consent.marketing;
    expect(consent).toMatchObject({ granted: true, source: 'inbox' });
    expect(Date.parse(consent.at)).toBeGreaterThanOrEqual(before - 1000);
    expect(res.json().consentHistory[0]).toMatchObject({
      action: 'opt-in',
      category: 'marketing',
      source: 'inbox',
    });

    const row = await sendMarketing(userId);
    expect(row.state).toBe('delivered');
    const [mail] = await stack.smtp.waitForMessages(`${userId}@example.test`);
    const link = listUnsubscribeUrl(mail);
    expect(link.startsWith(`${PUBLIC_URL}/unsubscribe/`)).toBe(true);
    expect(headersOf(mail)).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\s*$/im);
    // Transactional email carries no such header.
    const order = await stack.publishEmail(userId);
    await stack.client.eventResult(order);
    const mails = await stack.smtp.waitForMessages(`${userId}@example.test`, 2);
    expect(headersOf(mails[1])).not.toMatch(/List-Unsubscribe/i);
  });

  it('unsubscribes with one POST of the header URL, as a mail client does: 2xx, also twice, and the next marketing email is not sent', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    await optIn(userId);
    const first = await sendMarketing(userId);
    const [mail] = await stack.smtp.waitForMessages(`${userId}@example.test`);
    const link = listUnsubscribeUrl(mail);

    for (let i = 0; i < 2; i++) {
      const res = await fetch(local(link), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'List-Unsubscribe=One-Click',
      });
      expect(res.status).toBe(200);
    }
    const prefs = (await api.as(userId, { method: 'GET', url: '/api/preferences' })).json();
    expect(prefs.channels.marketing.email).toBe(false);
    expect(prefs.channels.marketing.in_app).toBe(true);
    // One unsubscribe logged (the second POST changed nothing), with the notification the link came with.
    expect(prefs.consentHistory.filter((e: { action: string }) => e.action === 'unsubscribe')).toEqual([
      expect.objectContaining({
        category: 'marketing',
        channel: 'email',
        source: 'one-click',
        notificationId: first.id,
      }),
    ]);

    const next = await sendMarketing(userId);
    expect(next.channelStates.email).toMatchObject({
      state: 'suppressed',
      reason: 'preference: marketing off for email',
    });
    expect(next.channelStates.in_app).toMatchObject({ state: 'delivered' });
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(1);
  });

  it('shows a page for the link (GET): no script, a form POST button, the other categories', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    await optIn(userId);
    await sendMarketing(userId, ['email']);
    const [mail] = await stack.smtp.waitForMessages(`${userId}@example.test`);
    const link = listUnsubscribeUrl(mail);

    const res = await fetch(local(link));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await res.text();
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain(`<form method="post" action="${link}">`);
    expect(html).toContain('name="List-Unsubscribe" value="One-Click"');
    expect(html).toContain(`action="${link}/categories/account"`);
    // Looking changes nothing.
    const prefs = (await api.as(userId, { method: 'GET', url: '/api/preferences' })).json();
    expect(prefs.channels.marketing.email).toBe(true);

    // The page's button for another category posts there (form body, no session).
    const off = await fetch(`${local(link)}/categories/account`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'email=off',
    });
    expect(off.status).toBe(200);
    expect(await off.text()).toContain('account emails off.');
    const after = (await api.as(userId, { method: 'GET', url: '/api/preferences' })).json();
    expect(after.channels.account.email).toBe(false);
    expect(after.consentHistory[0]).toMatchObject({ action: 'unsubscribe', source: 'email-link' });
  });

  it('refuses a forged or expired link with 400 naming the problem, and changes nothing', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const claims = { recipientId: userId, category: 'marketing', channel: 'email' as const };
    const forged = signUnsubscribeToken(
      { ...claims, issuedAtMs: Date.now() },
      'another-secret-0123456789abcdef0123',
    );
    const expired = signUnsubscribeToken(
      { ...claims, issuedAtMs: Date.now() - 401 * 86_400_000 },
      UNSUBSCRIBE_SECRET,
    );
    const cases: [string, string][] = [
      [forged, 'bad signature'],
      [expired, 'expired'],
      ['not-a-token', 'malformed'],
    ];
    for (const [token, problem] of cases) {
      for (const method of ['GET', 'POST']) {
        const res = await fetch(`${api.url}/unsubscribe/${token}`, {
          method,
          ...(method === 'POST'
            ? {
                headers: { 'content-type': 'application/x-www-form-urlencoded' },
                body: 'List-Unsubscribe=One-Click',
              }
            : {}),
        });
        expect([token, method, res.status]).toEqual([token, method, 400]);
        expect(await res.text()).toContain(`invalid unsubscribe link: ${problem}`);
      }
    }
    const prefs = (await api.as(userId, { method: 'GET', url: '/api/preferences' })).json();
    expect(prefs.channels.marketing.email).toBe(true);
    expect(prefs.consentHistory).toEqual([]);
  });
});

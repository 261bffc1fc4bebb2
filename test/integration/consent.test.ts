import { twilioSignature } from '../../src/consent/twilio-signature';
import { UNSUBSCRIBE_LINK_PLACEHOLDER } from '../../src/consent/unsubscribe-link';
import { signUnsubscribeToken } from '../../src/consent/unsubscribe-token';
import { Notification } from '../../src/db/entities';
import { campaignEventId } from '../../src/domain/workflow-ids';
import { ApiTestApp, apiTestEnv } from '../helpers/api-app';
import { mimePart } from '../helpers/mime-part';
import type { ReceivedMail } from '../helpers/smtp-peer';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

const UNSUBSCRIBE_SECRET = 'test-unsubscribe-secret-0123456789abcdef';
const PUBLIC_URL = 'https://notify.shop.test';
const TWILIO = {
  TWILIO_ACCOUNT_SID: 'AC0123456789abcdef0123456789abcdef',
  TWILIO_AUTH_TOKEN: 'twilio-auth-token-0123456789',
  TWILIO_FROM: '+15550000000',
};

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
  const stack = new TestStack({ env: apiTestEnv({ UNSUBSCRIBE_SECRET, PUBLIC_URL, ...TWILIO }) });
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

  it('puts the same signed link in the footer of a marketing email (HTML and text), not in a transactional one; stored content keeps the placeholder', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    await optIn(userId);
    const row = await sendMarketing(userId, ['email']);
    const [mail] = await stack.smtp.waitForMessages(`${userId}@example.test`);
    const link = listUnsubscribeUrl(mail);
    const html = mimePart(mail.raw, 'text/html');
    const text = mimePart(mail.raw, 'text/plain');
    expect([...html.matchAll(/href="([^"]*\/unsubscribe\/[^"]*)"/g)].map((m) => m[1])).toEqual([link]);
    expect(html).toMatch(/>Unsubscribe<\/a>/);
    expect(text.split(/\r?\n/)).toContain(`Unsubscribe: ${link}`);
    for (const part of [html, text]) expect(part).not.toContain(UNSUBSCRIBE_LINK_PLACEHOLDER);
    // The footer link opens the page (GET), which changes nothing.
    const page = await fetch(local(link));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`<form method="post" action="${link}">`);
    // What is stored (trace, resend) holds the placeholder, never a token.
    expect(row.content.email!.html).toContain(UNSUBSCRIBE_LINK_PLACEHOLDER);
    expect(row.content.email!.text).toContain(UNSUBSCRIBE_LINK_PLACEHOLDER);
    expect(JSON.stringify(row.content)).not.toContain('/unsubscribe/');

    const order = await stack.publishEmail(userId);
    await stack.client.eventResult(order);
    const mails = await stack.smtp.waitForMessages(`${userId}@example.test`, 2);
    const orderHtml = mimePart(mails[1].raw, 'text/html');
    expect(orderHtml).toMatch(/^<!doctype html>/i); // in the layout, footer included
    for (const part of [orderHtml, mimePart(mails[1].raw, 'text/plain')]) {
      expect(part).not.toMatch(/unsubscribe/i);
      expect(part).not.toContain(UNSUBSCRIBE_LINK_PLACEHOLDER);
    }
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

  it('shows the unsubscribe in the admin trace of the notification whose link was used', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    await optIn(userId);
    const row = await sendMarketing(userId, ['email']);
    const [mail] = await stack.smtp.waitForMessages(`${userId}@example.test`);
    await fetch(local(listUnsubscribeUrl(mail)), {
      method: 'POST',
      body: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const trace = (await api.admin({ method: 'GET', url: `/api/notifications/${row.id}/trace` })).json();
    expect(trace.timeline).toContainEqual(
      expect.objectContaining({
        source: 'postgres',
        kind: 'consent.unsubscribe',
        channel: 'email',
        summary: 'unsubscribe marketing on email (source one-click)',
      }),
    );
  });

  it('runs a campaign to the recipients with consent only', async () => {
    const role = stack.uid('role');
    const [yes, no, withdrawn] = [stack.uid('u'), stack.uid('u'), stack.uid('u')];
    for (const id of [yes, no, withdrawn]) await stack.createRecipient({ id, roles: [role] });
    await optIn(yes);
    await optIn(withdrawn);
    await api.as(withdrawn, {
      method: 'PUT',
      url: '/api/preferences',
      payload: { consent: { marketing: false } },
    });
    const created = await api.admin({
      method: 'POST',
      url: '/api/campaigns',
      payload: {
        name: `Consent ${role}`,
        templateCode: 'marketing_announcement',
        segment: { roles: [role] },
        variables: { headline: 'Consent sale', message: 'Only for those who asked.' },
      },
    });
    expect(created.statusCode).toBe(201);
    const { id } = created.json();
    const detail = await waitFor(async () => {
      const response = (await api.admin({ method: 'GET', url: `/api/campaigns/${id}` })).json();
      return response.state === 'completed' ? response : undefined;
    }, 30_000);
    expect(detail.notifications).toEqual({ delivered: 1, suppressed: 2 });
    await stack.smtp.waitForMessages(`${yes}@example.test`);
    const rows = await stack.orm.em.fork().find(Notification, { eventId: campaignEventId(id) });
    const reasons = Object.fromEntries(
      rows.map((r) => [r.recipientId, r.channelStates.email?.reason ?? null]),
    );
    expect(reasons).toEqual({
      [yes]: null,
      [no]: 'consent: marketing needs an opt-in',
      [withdrawn]: 'consent: marketing needs an opt-in',
    });
    expect(stack.smtp.messagesTo(`${no}@example.test`)).toHaveLength(0);
    expect(stack.smtp.messagesTo(`${withdrawn}@example.test`)).toHaveLength(0);
  });

  it('imports consent decisions (source import, newest wins) and names the bad fields', async () => {
    const [a, b] = [stack.uid('u'), stack.uid('u')];
    for (const id of [a, b]) await stack.createRecipient({ id });
    const nobody = stack.uid('nobody');
    const res = await api.admin({
      method: 'POST',
      url: '/api/admin/consents/import',
      payload: [
        { userId: a, category: 'marketing', granted: true, at: '2026-01-02T10:00:00Z' },
        { userId: a, category: 'marketing', granted: false, at: '2025-06-01T10:00:00Z' },
        { userId: b, category: 'marketing', granted: true },
        { userId: nobody, category: 'marketing', granted: true },
      ],
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ received: 4, unknownUserIds: [nobody] });
    const prefs = (await api.admin({ method: 'GET', url: `/api/admin/recipients/${a}/preferences` })).json();
    expect(prefs.consent.marketing).toEqual({
      granted: true,
      at: '2026-01-02T10:00:00.000Z',
      source: 'import',
    });
    // An import older than what is stored changes nothing.
    await api.admin({
      method: 'POST',
      url: '/api/admin/consents/import',
      payload: [{ userId: a, category: 'marketing', granted: false, at: '2025-12-31T10:00:00Z' }],
    });
    const again = (await api.admin({ method: 'GET', url: `/api/admin/recipients/${a}/preferences` })).json();
    expect(again.consent.marketing.granted).toBe(true);
    expect(again.consentHistory.map((e: { action: string; source: string }) => [e.action, e.source])).toEqual(
      [['opt-in', 'import']],
    );

    const bad = await api.admin({
      method: 'POST',
      url: '/api/admin/consents/import',
      payload: [{ userId: a, category: 'order_updates', granted: 'yes' }],
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().fields).toEqual(expect.arrayContaining(['0.category', '0.granted']));
    expect(
      (await api.service({ method: 'POST', url: '/api/admin/consents/import', payload: [] })).statusCode,
    ).toBe(403);
    // An operator's opt-in through the recipient's preferences is recorded as source admin.
    const admin = await api.admin({
      method: 'PUT',
      url: `/api/admin/recipients/${b}/preferences`,
      payload: { consent: { marketing: false } },
    });
    expect(admin.json().consent.marketing).toMatchObject({ granted: false, source: 'admin' });
  });

  it('turns marketing sms off on a STOP reply signed like Twilio signs it; refuses a bad signature with 403', async () => {
    const userId = stack.uid('u');
    const phone = `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
    await stack.createRecipient({ id: userId, phone });
    await optIn(userId);
    const url = `${api.url}/api/webhooks/twilio/inbound`;
    const params = { MessageSid: 'SM0123', From: phone, To: TWILIO.TWILIO_FROM, Body: ' stop ' };
    const post = (signature: string) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
        body: new URLSearchParams(params).toString(),
      });

    const forged = await post(
      twilioSignature('another-token', `${PUBLIC_URL}/api/webhooks/twilio/inbound`, params),
    );
    expect(forged.status).toBe(403);
    const unsigned = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
    });
    expect(unsigned.status).toBe(403);
    let prefs = (await api.as(userId, { method: 'GET', url: '/api/preferences' })).json();
    expect(prefs.channels.marketing.sms).toBe(true);

    const signed = await post(
      twilioSignature(TWILIO.TWILIO_AUTH_TOKEN, `${PUBLIC_URL}/api/webhooks/twilio/inbound`, params),
    );
    expect(signed.status).toBe(200);
    expect(await signed.text()).toContain('<Response></Response>');
    prefs = (await api.as(userId, { method: 'GET', url: '/api/preferences' })).json();
    expect(prefs.channels.marketing.sms).toBe(false);
    expect(prefs.channels.marketing.email).toBe(true);
    expect(prefs.consentHistory[0]).toMatchObject({
      action: 'unsubscribe',
      channel: 'sms',
      source: 'sms-stop',
    });

    const next = await sendMarketing(userId, ['sms']);
    expect(next.channelStates.sms).toMatchObject({
      state: 'suppressed',
      reason: 'preference: marketing off for sms',
    });
  });
});

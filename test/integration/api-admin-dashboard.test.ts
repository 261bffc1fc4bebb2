import { sendJobId } from '../../src/domain/channels';
import { Notification, SendRecord } from '../../src/db/entities';
import { WebhookProvider } from '../../src/delivery/providers/webhook-provider';
import { ADMIN_KEY, ApiTestApp, apiTestEnv, orderCreated, token } from '../helpers/api-app';
import { LOCAL_STAND_IN_POLICY, startWebhookReceiver, type HttpStandIn } from '../helpers/provider-stand-ins';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

type Overview = {
  from: string;
  to: string;
  perMinute: { at: string; events: number; delivered: number; failed: number }[];
  totals: { events: number; delivered: number; failed: number };
  queues: {
    channel: string;
    queue: string;
    waiting: number;
    active: number;
    delayed: number;
    failed: number;
    completed: number;
    paused: number;
  }[];
  recentFailures: {
    notificationId: string;
    eventId: string;
    recipientId: string;
    channel: string;
    error: string | null;
    at: string;
  }[];
};

/** docs/contracts.md, "Browser surfaces": the routes behind the operators' dashboard, and the dev sign-in. */
describe("HTTP API: operators' dashboard routes", () => {
  let receiver: HttpStandIn;
  const stack = new TestStack({
    env: apiTestEnv({ SEND_WEBHOOK_ATTEMPTS: '2', SEND_WEBHOOK_BACKOFF_MS: '100' }),
    providers: () => ({
      webhook: new WebhookProvider({ secret: 'whsec_admin_dashboard_test', policy: LOCAL_STAND_IN_POLICY }),
    }),
  });
  const api = new ApiTestApp(stack);
  const apps: ApiTestApp[] = [];
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    await stack.start();
    await api.start();
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await api.close();
    await stack.stop();
    await receiver?.close();
  });

  const overview = async (minutes = 5): Promise<Overview> => {
    const res = await api.admin({ method: 'GET', url: `/api/admin/overview?minutes=${minutes}` });
    expect(res.statusCode).toBe(200);
    return res.json();
  };

  async function deliveredOrderEvent(): Promise<Notification> {
    const userId = stack.uid('u');
    const eventId = stack.uid('evt');
    await stack.createRecipient({ id: userId });
    expect(
      (await api.service({ method: 'POST', url: '/api/events', payload: orderCreated(eventId, userId) }))
        .statusCode,
    ).toBe(202);
    await stack.client.eventResult(eventId);
    return stack.orm.em.fork().findOneOrFail(Notification, { eventId });
  }

  /** A webhook send whose both attempts get 502: failed for good, its job kept as failed. */
  async function failedWebhookSend(): Promise<Notification> {
    const userId = stack.uid('u');
    const eventId = stack.uid('evt');
    await stack.createRecipient({ id: userId, webhookUrl: `${receiver.url}/failing/${userId}` });
    receiver.respondTo(`/failing/${userId}`, 502, 'bad gateway', {}, 2);
    await stack.client.publishNotification({
      id: eventId,
      userId,
      templateCode: 'order_shipped',
      variables: { orderNumber: eventId },
      options: { channels: ['webhook'] },
    });
    const result = await stack.client.eventResult(eventId);
    expect(result.notifications[0].state).toBe('failed');
    return stack.orm.em.fork().findOneOrFail(Notification, { eventId });
  }

  describe('GET /api/admin/overview', () => {
    it('answers every minute of the window, oldest first, with zeros, and the queue depths', async () => {
      const before = Date.now();
      const o = await overview(30);
      const after = Date.now();
      expect(o.perMinute).toHaveLength(30);
      expect(o.perMinute[0].at).toBe(o.from);
      expect(Date.parse(o.to) - Date.parse(o.from)).toBe(30 * 60_000);
      o.perMinute.forEach((m, i) => expect(Date.parse(m.at)).toBe(Date.parse(o.from) + i * 60_000));
      // The current minute (the server's "now", somewhere between before and after) is the last bucket.
      const last = Date.parse(o.perMinute[29].at);
      expect(last).toBeLessThanOrEqual(after);
      expect(last + 60_000).toBeGreaterThan(before);
      expect(Date.parse(o.to)).toBeGreaterThan(before);
      expect(o.queues.map((q) => [q.channel, q.queue])).toEqual([
        ['in_app', 'send-in_app'],
        ['email', 'send-email'],
        ['sms', 'send-sms'],
        ['push', 'send-push'],
        ['webhook', 'send-webhook'],
      ]);
      for (const q of o.queues)
        expect(q).toMatchObject({
          waiting: expect.any(Number),
          active: expect.any(Number),
          delayed: expect.any(Number),
          failed: expect.any(Number),
          completed: expect.any(Number),
          paused: expect.any(Number),
        });

      for (const minutes of ['0', '1441', 'x']) {
        const res = await api.admin({ method: 'GET', url: `/api/admin/overview?minutes=${minutes}` });
        expect(res.statusCode).toBe(400);
        expect(res.json()).toMatchObject({ fields: ['minutes'], in: 'querystring' });
      }
      expect((await api.admin({ method: 'GET', url: '/api/admin/overview' })).json().perMinute).toHaveLength(
        60,
      );
    });

    it('counts events, deliveries and failures of real events through the pipeline', async () => {
      const start = await overview();
      const delivered = await deliveredOrderEvent();
      const failed = await failedWebhookSend();
      const end = await overview();

      // ORDER_CREATED: in_app + email delivered; the failed webhook send: one event, no delivery, one failure.
      expect(end.totals.events - start.totals.events).toBe(2);
      expect(end.totals.delivered - start.totals.delivered).toBe(2);
      expect(end.totals.failed - start.totals.failed).toBe(1);
      const sum = (key: 'events' | 'delivered' | 'failed') => end.perMinute.reduce((n, m) => n + m[key], 0);
      expect(sum('delivered')).toBe(end.totals.delivered);
      expect(sum('failed')).toBe(end.totals.failed);
      expect(sum('events')).toBeGreaterThanOrEqual(end.totals.events);
      // The minute the notification was stored holds its event.
      const minuteOf = (date: Date) => new Date(Math.floor(date.getTime() / 60_000) * 60_000).toISOString();
      expect(
        end.perMinute.find((m) => m.at === minuteOf(delivered.createdAt))?.events,
      ).toBeGreaterThanOrEqual(1);

      expect(end.recentFailures[0]).toEqual({
        notificationId: failed.id,
        eventId: failed.eventId,
        recipientId: failed.recipientId,
        channel: 'webhook',
        error: 'http-webhook responded 502',
        at: expect.any(String),
      });
      expect(end.queues.find((q) => q.channel === 'webhook')!.failed).toBeGreaterThanOrEqual(1);
    }, 30_000);
  });

  describe('GET /api/admin/search', () => {
    it('finds a notification by its id, workflow id, event id, recipient id or key', async () => {
      const n = await deliveredOrderEvent();
      for (const q of [
        n.id,
        n.id.toUpperCase(),
        n.workflowId,
        n.eventId,
        n.recipientId,
        `notification-${n.eventId}-${n.recipientId}`,
      ]) {
        const res = await api.admin({ method: 'GET', url: `/api/admin/search?q=${encodeURIComponent(q)}` });
        expect([q, res.statusCode]).toEqual([q, 200]);
        expect(res.json().items).toEqual([
          {
            id: n.id,
            workflowId: n.workflowId,
            eventId: n.eventId,
            eventType: 'ORDER_CREATED',
            recipientId: n.recipientId,
            state: 'delivered',
            channels: ['in_app', 'email'],
            templateCode: 'order_created',
            createdAt: n.createdAt.toISOString(),
          },
        ]);
      }
      // Exact matches only.
      expect(
        (await api.admin({ method: 'GET', url: `/api/admin/search?q=${n.eventId.slice(0, -1)}` })).json()
          .items,
      ).toEqual([]);
      expect((await api.admin({ method: 'GET', url: '/api/admin/search?q=' })).statusCode).toBe(400);
      expect(
        (await api.admin({ method: 'GET', url: `/api/admin/search?q=${'x'.repeat(201)}` })).statusCode,
      ).toBe(400);
      // The dashboard then opens the trace.
      expect((await api.admin({ method: 'GET', url: `/api/notifications/${n.id}/trace` })).statusCode).toBe(
        200,
      );
    }, 20_000);
  });

  describe('failed jobs', () => {
    it('lists failed send jobs and moves one back to waiting; it is then delivered', async () => {
      const n = await failedWebhookSend();
      const jobId = sendJobId(n.id, 'webhook');
      const list = await api.admin({ method: 'GET', url: '/api/admin/failed-jobs?channel=webhook' });
      expect(list.statusCode).toBe(200);
      const item = list.json().items.find((j: { jobId: string }) => j.jobId === jobId);
      expect(item).toEqual({
        channel: 'webhook',
        jobId,
        notificationId: n.id,
        workflowId: null,
        attemptsMade: 2,
        failedReason: 'http-webhook responded 502',
        failedAt: expect.any(String),
      });
      expect(Date.parse(item.failedAt)).toBeLessThanOrEqual(Date.now());
      expect(
        (await api.admin({ method: 'GET', url: '/api/admin/failed-jobs' }))
          .json()
          .items.map((j: { jobId: string }) => j.jobId),
      ).toContain(jobId);
      expect(
        (await api.admin({ method: 'GET', url: '/api/admin/failed-jobs?channel=email' })).json().items,
      ).toEqual([]);
      expect(
        (await api.admin({ method: 'GET', url: '/api/admin/failed-jobs?channel=fax' })).json(),
      ).toMatchObject({ fields: ['channel'] });

      const retry = await api.admin({
        method: 'POST',
        url: '/api/admin/failed-jobs/retry',
        payload: { channel: 'webhook', jobId },
      });
      expect(retry.statusCode).toBe(200);
      expect(retry.json().retried).toEqual([expect.objectContaining({ jobId, attemptsMade: 2 })]);
      const job = await stack.queues.queue('webhook').getJob(jobId);
      expect(await job!.getState()).not.toBe('failed');
      // The receiver answers 2xx now: the retried job delivers.
      await waitFor(async () => ((await job!.getState()) === 'completed' ? true : undefined));
      const record = await stack.orm.em
        .fork()
        .findOneOrFail(SendRecord, { notificationId: n.id, channel: 'webhook' });
      expect(record.status).toBe('sent');
      expect(
        (await api.admin({ method: 'GET', url: '/api/admin/failed-jobs?channel=webhook' }))
          .json()
          .items.map((j: { jobId: string }) => j.jobId),
      ).not.toContain(jobId);
      expect(
        (await api.admin({ method: 'POST', url: '/api/admin/failed-jobs/retry', payload: { jobId } })).json(),
      ).toEqual({ retried: [] });
      expect(
        (
          await api.admin({ method: 'POST', url: '/api/admin/failed-jobs/retry', payload: { job: jobId } })
        ).json(),
      ).toMatchObject({ fields: ['job'] });
    }, 30_000);
  });

  describe('recipients', () => {
    it('finds recipients by id prefix or a part of name or email; LIKE wildcards match themselves', async () => {
      const prefix = stack.uid('shopper');
      await stack.createRecipient({
        id: `${prefix}_a`,
        name: 'Asha 100% Cotton',
        email: `asha.${prefix}@shop.test`,
      });
      await stack.createRecipient({
        id: `${prefix}_b`,
        name: 'Ben 1000 Cotton',
        email: `ben_${prefix}@shop.test`,
      });
      await stack.createRecipient({ id: `${prefix}xb`, name: 'Cleo', email: `cleo-${prefix}@shop.test` });
      const search = async (q: string, limit?: number) => {
        const res = await api.admin({
          method: 'GET',
          url: `/api/admin/recipients?q=${encodeURIComponent(q)}${limit ? `&limit=${limit}` : ''}`,
        });
        expect(res.statusCode).toBe(200);
        return res.json().items as { id: string }[];
      };
      expect((await search(prefix)).map((r) => r.id).sort()).toEqual([
        `${prefix}_a`,
        `${prefix}_b`,
        `${prefix}xb`,
      ]);
      expect((await search(`${prefix}_`)).map((r) => r.id).sort()).toEqual([`${prefix}_a`, `${prefix}_b`]);
      expect((await search('100% cotton')).map((r) => r.id)).toEqual([`${prefix}_a`]);
      expect((await search(`BEN_${prefix}`)).map((r) => r.id)).toEqual([`${prefix}_b`]);
      expect(await search(`asha_${prefix}`)).toEqual([]);
      expect(await search(prefix, 1)).toHaveLength(1);
      const [asha] = await search('100% cotton');
      expect(asha).toEqual({
        id: `${prefix}_a`,
        name: 'Asha 100% Cotton',
        email: `asha.${prefix}@shop.test`,
        phone: null,
        timezone: 'UTC',
        locale: 'en',
        muted: false,
        createdAt: expect.any(String),
      });
      for (const query of ['limit=0', 'limit=201', 'q=', 'other=1']) {
        expect((await api.admin({ method: 'GET', url: `/api/admin/recipients?${query}` })).statusCode).toBe(
          400,
        );
      }
      expect(
        (await api.admin({ method: 'GET', url: '/api/admin/recipients' })).json().items.length,
      ).toBeGreaterThanOrEqual(3);
    });

    it("reads and changes a recipient's preferences like the recipient would; mandatory cells stay on", async () => {
      const userId = stack.uid('u');
      await stack.createRecipient({ id: userId });
      const url = `/api/admin/recipients/${userId}/preferences`;
      const initial = await api.admin({ method: 'GET', url });
      expect(initial.statusCode).toBe(200);
      expect(initial.json()).toEqual(
        (await api.as(userId, { method: 'GET', url: '/api/preferences' })).json(),
      );

      const forced = await api.admin({
        method: 'PUT',
        url,
        payload: { channels: { order_updates: { email: false } } },
      });
      expect(forced.statusCode).toBe(400);
      expect(forced.json()).toMatchObject({ fields: ['channels.order_updates.email'], in: 'body' });

      const changed = await api.admin({
        method: 'PUT',
        url,
        payload: { muted: true, channels: { marketing: { email: false } } },
      });
      expect(changed.statusCode).toBe(200);
      expect(changed.json()).toMatchObject({
        muted: true,
        channels: { marketing: { email: false, in_app: true }, order_updates: { email: true } },
      });
      expect((await api.as(userId, { method: 'GET', url: '/api/preferences' })).json()).toEqual(
        changed.json(),
      );

      expect(
        (await api.admin({ method: 'GET', url: `/api/admin/recipients/${stack.uid('nobody')}/preferences` }))
          .statusCode,
      ).toBe(404);
      expect((await api.admin({ method: 'PUT', url, payload: { colour: 'red' } })).json()).toMatchObject({
        fields: ['colour'],
      });
      // Operators only.
      expect((await api.as(userId, { method: 'GET', url })).statusCode).toBe(403);
      expect((await api.service({ method: 'GET', url })).statusCode).toBe(403);
    });
  });

  it('opens every dashboard route to an admin session (with the CSRF token for POST/PUT), not to a shopper session', async () => {
    const signIn = async (payload: Record<string, string>) => {
      const res = await api.inject({ method: 'POST', url: '/api/session', payload });
      return {
        cookie: String(res.headers['set-cookie']).split(';')[0],
        csrfToken: res.json().csrfToken as string,
      };
    };
    const admin = await signIn({ adminKey: ADMIN_KEY });
    for (const url of [
      '/api/admin/overview?minutes=1',
      '/api/admin/search?q=x',
      '/api/admin/failed-jobs',
      '/api/admin/recipients?limit=1',
    ]) {
      expect([
        url,
        (await api.inject({ method: 'GET', url, headers: { cookie: admin.cookie } })).statusCode,
      ]).toEqual([url, 200]);
    }
    const retry = (headers: Record<string, string>) =>
      api.inject({
        method: 'POST',
        url: '/api/admin/failed-jobs/retry',
        payload: { jobId: 'none.email' },
        headers: { cookie: admin.cookie, ...headers },
      });
    expect((await retry({})).statusCode).toBe(403);
    expect((await retry({ 'x-csrf-token': admin.csrfToken })).json()).toEqual({ retried: [] });

    const shopper = await signIn({ token: await token(stack.uid('u')) });
    expect(
      (await api.inject({ method: 'GET', url: '/api/admin/overview', headers: { cookie: shopper.cookie } }))
        .statusCode,
    ).toBe(403);
    const none = await api.inject({
      method: 'GET',
      url: '/api/admin/overview',
      headers: { 'x-requested-with': 'fetch' },
    });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBeUndefined();
  });

  describe('dev sign-in', () => {
    it('does not exist unless DEV_LOGIN is on', async () => {
      expect((await api.inject({ method: 'GET', url: '/api/dev/users' })).statusCode).toBe(404);
      expect(
        (await api.inject({ method: 'POST', url: '/api/dev/session', payload: { userId: 'u_42' } }))
          .statusCode,
      ).toBe(404);
    });

    it('lists the demo users and opens a shopper session for one of them', async () => {
      const dev = new ApiTestApp(stack);
      apps.push(dev);
      await dev.start({ configure: (c) => ({ ...c, api: { ...c.api, devLogin: true } }) });
      const users = await dev.inject({ method: 'GET', url: '/api/dev/users' });
      expect(users.statusCode).toBe(200);
      expect(users.json().items).toEqual([
        { id: 'u_42', name: 'Asha' },
        { id: 'u_43', name: 'Ben' },
        { id: 'u_admin', name: 'Ops team' },
      ]);

      const unknown = await dev.inject({
        method: 'POST',
        url: '/api/dev/session',
        payload: { userId: 'u_nobody' },
      });
      expect(unknown.statusCode).toBe(400);
      expect(unknown.json()).toMatchObject({ fields: ['userId'], in: 'body' });

      const session = await dev.inject({
        method: 'POST',
        url: '/api/dev/session',
        payload: { userId: 'u_43' },
      });
      expect(session.statusCode).toBe(200);
      expect(session.json()).toMatchObject({
        kind: 'user',
        subject: 'u_43',
        admin: false,
        csrfToken: expect.any(String),
      });
      // A 12 h token, cut to the 8 h session TTL.
      expect(Date.parse(session.json().expiresAt) - Date.now()).toBeGreaterThan(8 * 3600_000 - 60_000);
      const setCookie = String(session.headers['set-cookie']);
      expect(setCookie).toMatch(
        /^ns_session=[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Strict$/,
      );
      const cookie = setCookie.split(';')[0];
      expect(
        (
          await dev.inject({ method: 'GET', url: '/api/notifications/unread-count', headers: { cookie } })
        ).json(),
      ).toEqual({ count: 0 });
      expect(
        (await dev.inject({ method: 'GET', url: '/api/session', headers: { cookie } })).json(),
      ).toMatchObject({ kind: 'user', subject: 'u_43' });
    });
  });
});

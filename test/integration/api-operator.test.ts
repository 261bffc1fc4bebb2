import { Notification } from '../../src/db/entities';
import { orderJourneyWorkflowId } from '../../src/domain/order-journey';
import { eventWorkflowId, notificationWorkflowId } from '../../src/domain/workflow-ids';
import { ADMIN_KEY, ApiTestApp, apiTestEnv, orderCreated, SERVICE_KEY, token } from '../helpers/api-app';
import { createOptedInRecipient } from '../helpers/consent';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('HTTP API: operator-facing routes', () => {
  const stack = new TestStack({ env: apiTestEnv() });
  const api = new ApiTestApp(stack);
  beforeAll(async () => {
    await stack.start();
    await api.start();
  });
  afterAll(async () => {
    await api.close();
    await stack.stop();
  });

  describe('admin authentication', () => {
    it('accepts an admin key (header or Basic password) or an admin-role token; refuses service keys and plain users', async () => {
      const url = '/api/templates?code=order_created';
      expect((await api.admin({ method: 'GET', url })).statusCode).toBe(200);
      expect(
        (await api.inject({ method: 'GET', url, headers: { authorization: basic('ops', ADMIN_KEY) } }))
          .statusCode,
      ).toBe(200);
      expect(
        (
          await api.inject({
            method: 'GET',
            url,
            headers: { authorization: `Bearer ${await token('u_ops', { admin: true })}` },
          })
        ).statusCode,
      ).toBe(200);

      expect((await api.service({ method: 'GET', url })).statusCode).toBe(403);
      expect((await api.as('u_1', { method: 'GET', url })).statusCode).toBe(403);
      expect(
        (await api.inject({ method: 'GET', url, headers: { authorization: basic('ops', SERVICE_KEY) } }))
          .statusCode,
      ).toBe(403);
      const none = await api.inject({ method: 'GET', url });
      expect(none.statusCode).toBe(401);
      expect(none.headers['www-authenticate']).toMatch(/^Basic realm=/);
      expect(
        (
          await api.inject({
            method: 'GET',
            url,
            headers: { authorization: basic('ops', 'wrong-password-123') },
          })
        ).statusCode,
      ).toBe(401);
      // An admin key also works on service routes.
      expect(
        (await api.admin({ method: 'GET', url: '/api/notifications/notification-none-u_0/status' }))
          .statusCode,
      ).toBe(404);
    });
  });

  describe('templates', () => {
    it('lists the newest version of each template, or every version', async () => {
      const latest = await api.admin({ method: 'GET', url: '/api/templates?code=order_created&locale=en' });
      expect(latest.statusCode).toBe(200);
      const channels = latest
        .json()
        .items.map((t: { channel: string }) => t.channel)
        .sort();
      expect(channels).toEqual(['email', 'in_app', 'push', 'sms']);
      expect(latest.json().items[0]).toMatchObject({
        code: 'order_created',
        locale: 'en',
        category: 'order_updates',
        version: expect.any(Number),
        fields: expect.any(Object),
      });
      const bad = await api.admin({ method: 'GET', url: '/api/templates?channel=fax' });
      expect(bad.json()).toMatchObject({ fields: ['channel'], in: 'querystring' });
    });

    it('refuses a change made on a version that is no longer the newest, and a create of one that exists (baseVersion)', async () => {
      const code = `edit_race_${stack.id}`;
      const url = `/api/templates/${code}/versions`;
      const fields = { title: 'Hello {{name}}', body: 'Hi' };
      // Two operators create the same template at once: one wins, the other is told, nothing stacks.
      const creates = await Promise.all(
        [1, 2].map(() =>
          api.admin({
            method: 'POST',
            url,
            payload: { channel: 'in_app', category: 'account', fields, baseVersion: 0 },
          }),
        ),
      );
      expect(creates.map((r) => r.statusCode).sort()).toEqual([201, 409]);
      const refused = creates.find((r) => r.statusCode === 409)!;
      expect(refused.json()).toMatchObject({
        fields: ['baseVersion'],
        message: `template ${code} (in_app, en) exists already (version 1): add a version to it instead`,
      });

      // Two edits made on version 1: the first becomes version 2, the second is refused naming both versions.
      const first = await api.admin({
        method: 'POST',
        url,
        payload: { channel: 'in_app', fields: { ...fields, body: 'first' }, baseVersion: 1 },
      });
      expect(first.json()).toMatchObject({ version: 2 });
      const second = await api.admin({
        method: 'POST',
        url,
        payload: { channel: 'in_app', fields: { ...fields, body: 'second' }, baseVersion: 1 },
      });
      expect(second.statusCode).toBe(409);
      expect(second.json().message).toBe(
        `template ${code} (in_app, en) is at version 2, this change was made on version 1: reload it and apply the change again`,
      );
      const stored = await api.admin({ method: 'GET', url: `/api/templates?code=${code}&versions=all` });
      expect(
        stored
          .json()
          .items.map((t: { version: number; fields: { body: string } }) => [t.version, t.fields.body]),
      ).toEqual([
        [2, 'first'],
        [1, 'Hi'],
      ]);
      // Without baseVersion a version is appended as before.
      expect(
        (await api.admin({ method: 'POST', url, payload: { channel: 'in_app', fields } })).json(),
      ).toMatchObject({ version: 3 });
    });

    it('creates versions, previews them, and a direct send uses the newest', async () => {
      const code = `promo_${stack.id}`;
      const v1 = await api.admin({
        method: 'POST',
        url: `/api/templates/${code}/versions`,
        payload: {
          channel: 'in_app',
          category: 'marketing',
          fields: { title: 'Hello {{name}}', body: 'Sale on {{item}}' },
        },
      });
      expect(v1.statusCode).toBe(201);
      expect(v1.json()).toMatchObject({
        code,
        channel: 'in_app',
        locale: 'en',
        version: 1,
        category: 'marketing',
      });
      const v2 = await api.admin({
        method: 'POST',
        url: `/api/templates/${code}/versions`,
        payload: { channel: 'in_app', fields: { title: 'Hi {{name}}!', body: '{{item}} is 20% off' } },
      });
      expect(v2.json()).toMatchObject({ version: 2, category: 'marketing' });

      const all = await api.admin({ method: 'GET', url: `/api/templates?code=${code}&versions=all` });
      expect(all.json().items.map((t: { version: number }) => t.version)).toEqual([2, 1]);

      const preview = await api.admin({
        method: 'POST',
        url: `/api/templates/${code}/preview`,
        payload: { channel: 'in_app', variables: { name: 'Asha', item: 'tea' } },
      });
      expect(preview.json()).toEqual({
        code,
        channel: 'in_app',
        locale: 'en',
        version: 2,
        rendered: { title: 'Hi Asha!', body: 'tea is 20% off' },
      });
      const old = await api.admin({
        method: 'POST',
        url: `/api/templates/${code}/preview`,
        payload: { channel: 'in_app', version: 1, variables: { name: 'Asha', item: 'tea' } },
      });
      expect(old.json().rendered.title).toBe('Hello Asha');
      const draft = await api.admin({
        method: 'POST',
        url: `/api/templates/${code}/preview`,
        payload: { channel: 'in_app', fields: { title: '{{n}} & co' }, variables: { n: 'A' } },
      });
      expect(draft.json()).toMatchObject({ version: null, rendered: { title: 'A & co' } });

      const userId = stack.uid('u');
      // A marketing template: sent only with an opt-in (docs/consent.md).
      await createOptedInRecipient(stack, { id: userId });
      const sent = await api.service({
        method: 'POST',
        url: '/api/notifications',
        payload: { userId, templateCode: code, variables: { name: 'Ben', item: 'socks' } },
      });
      expect(sent.statusCode).toBe(202);
      await stack.client.eventResult(sent.json().eventId);
      const stored = await stack.orm.em.fork().findOneOrFail(Notification, { eventId: sent.json().eventId });
      expect(stored).toMatchObject({ title: 'Hi Ben!', templateVersions: { in_app: 2 } });
    });

    it('names what is wrong with a new version or a preview', async () => {
      const code = `bad_${stack.id}`;
      const post = (payload: Record<string, unknown>) =>
        api.admin({ method: 'POST', url: `/api/templates/${code}/versions`, payload });
      const noCategory = await post({ channel: 'sms', fields: { text: 'hi' } });
      expect(noCategory.json()).toMatchObject({ fields: ['category'] });
      const missingField = await post({
        channel: 'email',
        category: 'account',
        fields: { subject: 'x', text: 'y' },
      });
      expect(missingField.json()).toMatchObject({ fields: ['fields.html'] });
      const syntax = await post({ channel: 'sms', category: 'account', fields: { text: 'Hi {{#if name}}' } });
      expect(syntax.statusCode).toBe(400);
      expect(syntax.json().fields).toEqual(['fields.text']);
      const webhook = await post({ channel: 'webhook', category: 'account', fields: { text: 'x' } });
      expect(webhook.json().fields).toEqual(['channel']);
      const wrongCategory = await api.admin({
        method: 'POST',
        url: '/api/templates/order_created/versions',
        payload: { channel: 'sms', category: 'marketing', fields: { text: 'x' } },
      });
      expect(wrongCategory.json()).toMatchObject({
        fields: ['category'],
        message: expect.stringMatching(/order_updates/),
      });
      const badCode = await api.admin({
        method: 'POST',
        url: '/api/templates/Bad%20Code/versions',
        payload: { channel: 'sms', fields: { text: 'x' } },
      });
      expect(badCode.json()).toMatchObject({ fields: ['code'], in: 'params' });

      const missingVariable = await api.admin({
        method: 'POST',
        url: '/api/templates/order_created/preview',
        payload: { channel: 'email', variables: { total: 5 } },
      });
      expect(missingVariable.statusCode).toBe(400);
      expect(missingVariable.json().fields).toEqual(['variables.orderNumber']);
      const unknown = await api.admin({
        method: 'POST',
        url: '/api/templates/no_such/preview',
        payload: { channel: 'email' },
      });
      expect(unknown.statusCode).toBe(404);
    });
  });

  describe('GET /api/notifications/:id/trace', () => {
    type Trace = {
      notificationId: string | null;
      workflowId: string;
      status: Record<string, unknown>;
      workflows: { role: string; workflowId: string; runId: string; status: string; webUiUrl: string }[];
      states: { state: string; at: string }[];
      timeline: {
        at: string;
        source: string;
        kind: string;
        summary: string;
        workflowId?: string;
        detail?: Record<string, unknown>;
      }[];
      channels: Record<string, unknown>;
    };
    const traceOf = async (id: string): Promise<Trace> => {
      const res = await api.admin({ method: 'GET', url: `/api/notifications/${id}/trace` });
      expect(res.statusCode).toBe(200);
      return res.json();
    };

    it("tells one delivered notification's story: event, its event workflow with a Web UI link, states, jobs and attempts", async () => {
      const userId = stack.uid('u');
      const eventId = stack.uid('evt');
      await stack.createRecipient({ id: userId });
      const envelope = orderCreated(eventId, userId);
      await api.service({ method: 'POST', url: '/api/events', payload: envelope });
      await stack.client.eventResult(eventId);
      const stored = await stack.orm.em.fork().findOneOrFail(Notification, { eventId });

      const trace = await traceOf(stored.id);
      expect(trace).toMatchObject({
        notificationId: stored.id,
        workflowId: eventWorkflowId(eventId),
        status: {
          state: 'delivered',
          notificationId: stored.id,
          channels: {
            in_app: { state: 'delivered', attempts: 1 },
            email: { state: 'delivered', attempts: 1 },
          },
        },
      });
      expect((trace as unknown as { event: unknown }).event).toMatchObject({
        id: eventId,
        type: 'ORDER_CREATED',
        userId,
        data: envelope.data,
      });
      expect((trace as unknown as { notification: unknown }).notification).toMatchObject({
        id: stored.id,
        state: 'delivered',
        recipientId: userId,
        lifecycle: 2,
        workflowId: eventWorkflowId(eventId),
      });
      // One workflow owns the notification: its event's (no per-recipient workflow any more); its order's
      // journey is linked beside it.
      expect(trace.workflows.map((w) => [w.role, w.workflowId, w.status])).toEqual([
        ['event', eventWorkflowId(eventId), 'COMPLETED'],
        ['journey', orderJourneyWorkflowId(String(envelope.data.orderNumber)), 'RUNNING'],
      ]);
      expect(trace.workflows[0].webUiUrl).toBe(
        `http://temporal-ui.test:8233/namespaces/default/workflows/${encodeURIComponent(eventWorkflowId(eventId))}/${trace.workflows[0].runId}/history`,
      );
      // Stored and handed off in the event's first step, then delivered by the channel workers.
      expect(trace.states.map((s) => s.state)).toEqual(['sending', 'delivered']);
      expect(trace.states[0].at).toBe(stored.createdAt.toISOString());
      for (const channel of ['in_app', 'email']) {
        expect(trace.channels[channel]).toMatchObject({
          status: { state: 'delivered', attempts: 1 },
          job: { id: `${stored.id}.${channel}`, state: 'completed', attemptsMade: expect.any(Number) },
          sendRecord: { status: 'sent' },
          attempts: [{ attempt: 1, status: 'delivered' }],
        });
      }
      // The event workflow's steps are local activities: their markers carry this recipient's state.
      // The channel worker that closed the event reported it delivered with its signal: no reconcile step.
      expect(trace.timeline.filter((e) => e.kind === 'step').map((e) => e.summary)).toEqual([
        'openEvent: sending',
      ]);
      expect(trace.timeline.find((e) => e.kind === 'signal')).toMatchObject({
        summary: 'signal outcomesReady',
        workflowId: eventWorkflowId(eventId),
      });
      const kinds = trace.timeline.map((e) => `${e.source}:${e.kind}`);
      expect(kinds).toEqual(
        expect.arrayContaining([
          'temporal:workflow.started',
          'temporal:step',
          'temporal:signal',
          'postgres:notification.stored',
          'bullmq:job.added',
          'postgres:attempt',
          'temporal:workflow.completed',
        ]),
      );
      expect(kinds).not.toContain('temporal:child.started');
      const times = trace.timeline.map((e) => e.at);
      expect([...times].sort()).toEqual(times);

      // The same trace by the notification's key.
      const byKey = await traceOf(notificationWorkflowId(eventId, userId));
      expect(byKey).toMatchObject({ notificationId: stored.id, workflowId: eventWorkflowId(eventId) });
      expect(byKey.states.map((s) => s.state)).toEqual(['sending', 'delivered']);
    });

    it('traces a waiting notification by its UUID (its row exists from the start), then its cancel; 404s unknown ids', async () => {
      const userId = stack.uid('u');
      const eventId = stack.uid('evt');
      await stack.createRecipient({ id: userId });
      await api.service({
        method: 'POST',
        url: '/api/events',
        payload: { ...orderCreated(eventId, userId), options: { delayMs: 3_600_000 } },
      });
      const stored = await waitFor(() =>
        stack.orm.em
          .fork()
          .findOne(Notification, { eventId })
          .then((n) => n ?? undefined),
      );
      expect(stored).toMatchObject({ state: 'scheduled', lifecycle: 2 });

      // The row is written by the first step before its workflow task completes: wait until the history
      // holds the step too (a loaded machine leaves seconds between them).
      const waiting = await waitFor(async () => {
        const trace = await traceOf(stored.id);
        return trace.timeline.some((e) => e.kind === 'step') ? trace : undefined;
      });
      const sendAt = stored.sendAt!.toISOString();
      expect(waiting).toMatchObject({
        notificationId: stored.id,
        workflowId: eventWorkflowId(eventId),
        status: { state: 'scheduled', sendAt, channels: {} },
        channels: {},
      });
      expect((waiting as unknown as { notification: unknown }).notification).toMatchObject({
        state: 'scheduled',
        sendAt,
      });
      expect(waiting.workflows.map((w) => [w.role, w.workflowId, w.status])).toEqual([
        ['event', eventWorkflowId(eventId), 'RUNNING'],
        [
          'journey',
          orderJourneyWorkflowId(String(orderCreated(eventId, userId).data.orderNumber)),
          'RUNNING',
        ],
      ]);
      expect(waiting.states).toEqual([{ state: 'scheduled', at: stored.createdAt.toISOString() }]);
      expect(waiting.timeline.find((e) => e.kind === 'step')).toMatchObject({
        summary: `openEvent: scheduled until ${sendAt}`,
      });
      // The timer's end as the history tells it (its start plus its duration): the send time, give or take the
      // workflow task's length (the history stamps the timer when the task completes; the workflow measured the
      // duration from the task's start, and a loaded machine makes that task last seconds).
      const timer = waiting.timeline.find((e) => e.kind === 'timer.started') as
        { detail: { until: string } } | undefined;
      expect(Math.abs(Date.parse(timer!.detail.until) - Date.parse(sendAt))).toBeLessThan(10_000);

      await stack.client.cancel({ eventId, userId }, 'test cleanup');
      const cancelled = await traceOf(stored.id);
      expect(cancelled.status).toMatchObject({ state: 'cancelled', error: 'cancelled: test cleanup' });
      expect(cancelled.states.map((s) => s.state)).toEqual(['scheduled', 'cancelled']);
      expect(cancelled.timeline.find((e) => e.kind === 'update')).toMatchObject({
        summary: 'update cancelNotification',
      });
      expect(cancelled.timeline.filter((e) => e.kind === 'step').map((e) => e.summary)).toContain(
        'controlRecipients: cancelled (cancelled: test cleanup)',
      );

      expect(
        (
          await api.admin({
            method: 'GET',
            url: '/api/notifications/00000000-0000-4000-8000-000000000000/trace',
          })
        ).statusCode,
      ).toBe(404);
      expect(
        (
          await api.admin({
            method: 'GET',
            url: `/api/notifications/${notificationWorkflowId(eventId, 'nobody')}/trace`,
          })
        ).statusCode,
      ).toBe(404);
      expect(
        (await api.service({ method: 'GET', url: `/api/notifications/${stored.id}/trace` })).statusCode,
      ).toBe(403);
    });
  });

  describe('BullMQ dashboard at /admin/queues', () => {
    it('sits behind admin auth and lists every channel queue', async () => {
      const none = await api.inject({ method: 'GET', url: '/admin/queues' });
      expect(none.statusCode).toBe(401);
      expect(none.headers['www-authenticate']).toMatch(/^Basic/);
      expect(
        (
          await api.inject({
            method: 'GET',
            url: '/admin/queues',
            headers: { authorization: basic('x', SERVICE_KEY) },
          })
        ).statusCode,
      ).toBe(403);

      const page = await api.inject({
        method: 'GET',
        url: '/admin/queues',
        headers: { authorization: basic('ops', ADMIN_KEY) },
      });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/text\/html/);
      const queues = await api.admin({ method: 'GET', url: '/admin/queues/api/queues' });
      expect(queues.statusCode).toBe(200);
      expect(
        queues
          .json()
          .queues.map((q: { name: string }) => q.name)
          .sort(),
      ).toEqual(['send-email', 'send-in_app', 'send-push', 'send-sms', 'send-webhook']);
    });
  });

  describe('rate limits', () => {
    it('limits requests per API key and per user, answering 429 with Retry-After', async () => {
      const limited = new ApiTestApp(stack);
      await limited.start({
        configure: (config) => ({
          ...config,
          queuePrefix: `{rl-${stack.id}}`,
          api: {
            ...config.api,
            rateLimit: { ...config.api.rateLimit, perKey: 3, perUser: 2, windowMs: 60_000 },
          },
        }),
      });
      try {
        const status = () =>
          limited.service({ method: 'GET', url: '/api/notifications/notification-none-u_0/status' });
        expect([
          (await status()).statusCode,
          (await status()).statusCode,
          (await status()).statusCode,
        ]).toEqual([404, 404, 404]);
        const over = await status();
        expect(over.statusCode).toBe(429);
        expect(over.headers['retry-after']).toEqual(expect.any(String));
        expect(over.json()).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
        // Another key has its own budget.
        expect(
          (await limited.admin({ method: 'GET', url: '/api/notifications/notification-none-u_0/status' }))
            .statusCode,
        ).toBe(404);

        const userA = stack.uid('u');
        const feed = (userId: string) =>
          limited.as(userId, { method: 'GET', url: '/api/notifications/unread-count' });
        expect([
          (await feed(userA)).statusCode,
          (await feed(userA)).statusCode,
          (await feed(userA)).statusCode,
        ]).toEqual([200, 200, 429]);
        expect((await feed(stack.uid('u'))).statusCode).toBe(200);
        // Health checks are never limited.
        for (let i = 0; i < 4; i++)
          expect((await limited.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      } finally {
        await limited.close();
      }
    });
  });
});

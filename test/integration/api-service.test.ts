import { createHash } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { loadConfig } from '../../src/config';
import { Notification, PushSubscription, Recipient } from '../../src/db/entities';
import { eventWorkflowId, notificationKey } from '../../src/domain/workflow-ids';
import { ApiTestApp, apiTestEnv, orderCreated, SERVICE_KEY, token } from '../helpers/api-app';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

describe('HTTP API: service-facing routes', () => {
  const stack = new TestStack({ env: apiTestEnv({ API_BODY_LIMIT_BYTES: String(256 * 1024) }) });
  const api = new ApiTestApp(stack);
  beforeAll(async () => {
    await stack.start();
    await api.start();
  });
  afterAll(async () => {
    await api.close();
    await stack.stop();
  });

  describe('POST /api/events', () => {
    it('starts the event workflow, answers 202 with its id, and the notification is delivered', async () => {
      const userId = stack.uid('u');
      const eventId = stack.uid('evt');
      await stack.createRecipient({ id: userId });

      const res = await api.service({
        method: 'POST',
        url: '/api/events',
        payload: orderCreated(eventId, userId),
      });
      expect(res.statusCode).toBe(202);
      expect(res.json()).toEqual({
        eventId,
        workflowId: eventWorkflowId(eventId),
        started: true,
        notificationKeys: [notificationKey(eventId, userId)],
        notificationWorkflowIds: [notificationKey(eventId, userId)],
      });
      const result = await stack.client.eventResult(eventId);
      expect(result.notifications).toEqual([expect.objectContaining({ userId, state: 'delivered' })]);
    });

    it('is idempotent: the same event id answers the same workflow id and starts nothing new', async () => {
      const userId = stack.uid('u');
      const eventId = stack.uid('evt');
      await stack.createRecipient({ id: userId });
      const first = await api.service({
        method: 'POST',
        url: '/api/events',
        payload: orderCreated(eventId, userId),
      });
      const again = await api.service({
        method: 'POST',
        url: '/api/events',
        payload: orderCreated(eventId, userId),
      });
      expect(first.statusCode).toBe(202);
      expect(again.statusCode).toBe(202);
      expect(again.json()).toEqual({ ...first.json(), started: false });

      await stack.client.eventResult(eventId);
      // Still nothing new once the first run closed.
      const late = await api.service({
        method: 'POST',
        url: '/api/events',
        payload: orderCreated(eventId, userId),
      });
      expect(late.json()).toMatchObject({ workflowId: eventWorkflowId(eventId), started: false });
      expect(await stack.orm.em.fork().count(Notification, { eventId })).toBe(1);
    });

    it('rejects an invalid envelope with 400 naming the field, and starts no workflow', async () => {
      const eventId = stack.uid('evt');
      const res = await api.service({
        method: 'POST',
        url: '/api/events',
        payload: { ...orderCreated(eventId, 'u_1'), options: { priority: 'asap' } },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({
        statusCode: 400,
        error: 'Bad Request',
        fields: ['options.priority'],
        in: 'body',
      });
      expect(res.json().message).toMatch(/options\.priority/);
      await expect(
        stack.temporalClient.workflow.getHandle(eventWorkflowId(eventId)).describe(),
      ).rejects.toThrow(WorkflowNotFoundError);
    });

    it('names unknown fields, cross-field mistakes and a missing recipient', async () => {
      const unknown = await api.service({
        method: 'POST',
        url: '/api/events',
        payload: { ...orderCreated(stack.uid('evt'), 'u_1'), colour: 'red' },
      });
      expect(unknown.statusCode).toBe(400);
      expect(unknown.json().fields).toEqual(['colour']);

      const { userId: _omit, ...noRecipient } = orderCreated(stack.uid('evt'), 'u_1');
      const missing = await api.service({ method: 'POST', url: '/api/events', payload: noRecipient });
      expect(missing.statusCode).toBe(400);
      expect(missing.json().fields).toEqual(['userId']);
    });

    it('answers 400 for malformed JSON, 415 for another content type and 413 for an oversized body, never 500', async () => {
      const malformed = await api.service({
        method: 'POST',
        url: '/api/events',
        payload: '{"id": "evt_1",',
        headers: { 'content-type': 'application/json' },
      });
      expect(malformed.statusCode).toBe(400);
      expect(malformed.json()).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(malformed.body).not.toMatch(/at .*\.js:\d+/); // no stack trace

      const text = await api.service({
        method: 'POST',
        url: '/api/events',
        payload: 'hello',
        headers: { 'content-type': 'text/plain' },
      });
      expect(text.statusCode).toBe(415);

      const huge = await api.service({
        method: 'POST',
        url: '/api/events',
        payload: { ...orderCreated(stack.uid('evt'), 'u_1'), data: { blob: 'x'.repeat(300 * 1024) } },
      });
      expect(huge.statusCode).toBe(413);
      expect(huge.json()).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });

      const array = await api.service({
        method: 'POST',
        url: '/api/events',
        payload: '[1,2]',
        headers: { 'content-type': 'application/json' },
      });
      expect(array.statusCode).toBe(400);
    });
  });

  describe('authentication', () => {
    it('answers 401 without or with a wrong key, and 403 for a user token on a service route', async () => {
      const none = await api.inject({
        method: 'POST',
        url: '/api/events',
        payload: orderCreated(stack.uid('evt'), 'u_1'),
      });
      expect(none.statusCode).toBe(401);
      expect(none.headers['www-authenticate']).toMatch(/X-API-Key/);
      expect(none.json().message).toMatch(/missing credentials/);

      const wrong = await api.inject({
        method: 'POST',
        url: '/api/events',
        headers: { 'x-api-key': `${SERVICE_KEY}x` },
        payload: orderCreated(stack.uid('evt'), 'u_1'),
      });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json().message).toBe('invalid API key');

      const user = await api.inject({
        method: 'POST',
        url: '/api/events',
        headers: { authorization: `Bearer ${await token('u_1')}` },
        payload: orderCreated(stack.uid('evt'), 'u_1'),
      });
      expect(user.statusCode).toBe(403);

      const badScheme = await api.inject({
        method: 'GET',
        url: '/api/notifications/x/status',
        headers: { authorization: 'Digest abc' },
      });
      expect(badScheme.statusCode).toBe(401);
    });

    it('checks credentials before validating the body (no field hints for strangers)', async () => {
      const res = await api.inject({ method: 'POST', url: '/api/events', payload: { nonsense: true } });
      expect(res.statusCode).toBe(401);
    });
  });

  describe('POST /api/notifications and /api/notifications/batch (direct sends)', () => {
    it('sends one notification by template code with the original options shape', async () => {
      const userId = stack.uid('u');
      await stack.createRecipient({ id: userId });
      const res = await api.service({
        method: 'POST',
        url: '/api/notifications',
        payload: {
          userId,
          templateCode: 'order_shipped',
          variables: { orderNumber: 'B-7', carrier: 'BlueDart' },
          options: {
            priority: 'high',
            actionUrl: '/orders/B-7',
            actionText: 'Track',
            delay: 0,
            channels: ['in_app'],
          },
        },
      });
      expect(res.statusCode).toBe(202);
      const body = res.json();
      expect(body).toMatchObject({
        started: true,
        notificationKeys: [expect.stringMatching(/^notification-direct_/)],
      });
      const result = await stack.client.eventResult(body.eventId);
      expect(result.notifications).toEqual([expect.objectContaining({ userId, state: 'delivered' })]);
      const stored = await stack.orm.em.fork().findOneOrFail(Notification, { eventId: body.eventId });
      expect(stored).toMatchObject({
        title: 'Order B-7 shipped',
        actionUrl: '/orders/B-7',
        actionText: 'Track',
        priority: 'high',
        channels: ['in_app'],
      });
    });

    it('sends a batch to several users, idempotent on an explicit id', async () => {
      const userIds = [stack.uid('u'), stack.uid('u')];
      for (const id of userIds) await stack.createRecipient({ id });
      const id = stack.uid('batch');
      const payload = {
        id,
        userIds,
        templateCode: 'order_delivered',
        variables: { orderNumber: 'C-1' },
        options: { channels: ['in_app'] },
      };
      const res = await api.service({ method: 'POST', url: '/api/notifications/batch', payload });
      expect(res.statusCode).toBe(202);
      expect(res.json()).toEqual({
        eventId: id,
        workflowId: eventWorkflowId(id),
        started: true,
        notificationKeys: userIds.map((u) => notificationKey(id, u)),
        notificationWorkflowIds: userIds.map((u) => notificationKey(id, u)),
      });
      const again = await api.service({ method: 'POST', url: '/api/notifications/batch', payload });
      expect(again.json().started).toBe(false);
      const result = await stack.client.eventResult(id);
      expect(result.notifications.map((n) => n.state)).toEqual(['delivered', 'delivered']);
    });

    it('names bad fields: unknown template, bad priority, missing userIds, variables too large', async () => {
      const unknownTemplate = await api.service({
        method: 'POST',
        url: '/api/notifications',
        payload: { userId: 'u_1', templateCode: 'no_such_template' },
      });
      expect(unknownTemplate.statusCode).toBe(400);
      expect(unknownTemplate.json()).toMatchObject({ fields: ['templateCode'] });

      const badPriority = await api.service({
        method: 'POST',
        url: '/api/notifications',
        payload: { userId: 'u_1', templateCode: 'order_created', options: { priority: 'asap' } },
      });
      expect(badPriority.json()).toMatchObject({ fields: ['options.priority'] });

      const noUsers = await api.service({
        method: 'POST',
        url: '/api/notifications/batch',
        payload: { userIds: [], templateCode: 'order_created' },
      });
      expect(noUsers.statusCode).toBe(400);
      expect(noUsers.json().fields).toEqual(['userIds']);

      const bigVariables = await api.service({
        method: 'POST',
        url: '/api/notifications',
        payload: {
          userId: 'u_1',
          templateCode: 'order_created',
          variables: { orderNumber: 'A-1', blob: 'x'.repeat(70 * 1024) },
        },
      });
      expect(bigVariables.statusCode).toBe(400);
      expect(bigVariables.json().fields).toEqual(['variables']);
    });
  });

  describe('status, cancel and reschedule', () => {
    async function scheduled(delayMs: number) {
      const userId = stack.uid('u');
      const eventId = stack.uid('evt');
      await stack.createRecipient({ id: userId });
      const res = await api.service({
        method: 'POST',
        url: '/api/events',
        payload: { ...orderCreated(eventId, userId), options: { delayMs } },
      });
      const key = res.json().notificationKeys[0] as string;
      // The event workflow stores the waiting notification in its first step.
      await waitFor(
        async () =>
          (await api.service({ method: 'GET', url: `/api/notifications/${key}/status` })).statusCode === 200
            ? true
            : undefined,
        10_000,
      );
      return { userId, eventId, key, workflowId: eventWorkflowId(eventId) };
    }

    it('reads the status of a waiting notification by its key, then cancels it (an update: answered at once)', async () => {
      const { key, workflowId } = await scheduled(3_600_000);
      const status = await api.service({ method: 'GET', url: `/api/notifications/${key}/status` });
      expect(status.statusCode).toBe(200);
      expect(status.json()).toMatchObject({
        workflowId,
        status: { state: 'scheduled', sendAt: expect.any(String), channels: {} },
      });

      const cancel = await api.service({
        method: 'POST',
        url: `/api/notifications/${key}/cancel`,
        payload: { reason: 'order voided' },
      });
      expect(cancel.statusCode).toBe(200);
      expect(cancel.json().status).toMatchObject({ state: 'cancelled', error: 'cancelled: order voided' });

      const again = await api.service({ method: 'POST', url: `/api/notifications/${key}/cancel` });
      expect(again.statusCode).toBe(409);
      expect(again.json().message).toMatch(/cancelled/);
    });

    it('reschedules a waiting notification; a time in the past sends it now, readable by its UUID afterwards', async () => {
      const { key, workflowId } = await scheduled(3_600_000);
      const later = new Date(Date.now() + 7_200_000).toISOString();
      const moved = await api.service({
        method: 'POST',
        url: `/api/notifications/${key}/reschedule`,
        payload: { sendAt: later },
      });
      expect(moved.statusCode).toBe(200);
      expect(moved.json().status).toMatchObject({ state: 'scheduled', sendAt: later });

      const now = await api.service({
        method: 'POST',
        url: `/api/notifications/${key}/reschedule`,
        payload: { sendAt: new Date(Date.now() - 1000).toISOString() },
      });
      expect(now.statusCode).toBe(200);
      const delivered = await waitFor<{ status: { notificationId: string } }>(async () => {
        const res = await api.service({ method: 'GET', url: `/api/notifications/${key}/status` });
        return res.json().status?.state === 'delivered' ? res.json() : undefined;
      });
      const notificationId = delivered.status.notificationId;
      const byUuid = await api.service({ method: 'GET', url: `/api/notifications/${notificationId}/status` });
      expect(byUuid.statusCode).toBe(200);
      expect(byUuid.json()).toMatchObject({
        workflowId,
        status: { state: 'delivered', channels: { in_app: { state: 'delivered' } } },
      });

      const tooLate = await api.service({
        method: 'POST',
        url: `/api/notifications/${notificationId}/reschedule`,
        payload: { sendAt: later },
      });
      expect(tooLate.statusCode).toBe(409);
    });

    it('validates ids and bodies, and answers 404 for unknown notifications', async () => {
      const unknownUuid = await api.service({
        method: 'GET',
        url: '/api/notifications/00000000-0000-4000-8000-000000000000/status',
      });
      expect(unknownUuid.statusCode).toBe(404);
      const unknownWorkflow = await api.service({
        method: 'GET',
        url: '/api/notifications/notification-nope-u_0/status',
      });
      expect(unknownWorkflow.statusCode).toBe(404);
      // An event workflow id is not a notification.
      const { eventId } = await scheduled(3_600_000);
      const eventWf = await api.service({
        method: 'GET',
        url: `/api/notifications/${eventWorkflowId(eventId)}/status`,
      });
      expect(eventWf.statusCode).toBe(404);

      const badId = await api.service({
        method: 'GET',
        url: `/api/notifications/${encodeURIComponent('bad id!')}/status`,
      });
      expect(badId.statusCode).toBe(400);
      expect(badId.json()).toMatchObject({ fields: ['id'], in: 'params' });

      const badDate = await api.service({
        method: 'POST',
        url: '/api/notifications/notification-x-u/reschedule',
        payload: { sendAt: 'tomorrow' },
      });
      expect(badDate.statusCode).toBe(400);
      expect(badDate.json().fields).toEqual(['sendAt']);
    });
  });

  describe('PUT /api/recipients/:id', () => {
    it('creates (201) then updates (200) a recipient with push subscriptions, quiet hours and webhook URL', async () => {
      const id = stack.uid('u');
      const created = await api.service({
        method: 'PUT',
        url: `/api/recipients/${id}`,
        payload: {
          email: 'asha@example.test',
          phone: '+919800000001',
          timezone: 'Asia/Kolkata',
          locale: 'en-IN',
          roles: ['customer'],
          quietHours: { start: '22:00', end: '07:00', timezone: 'Asia/Kolkata' },
          webhookUrl: 'https://hooks.example.test/n',
          pushSubscriptions: [
            {
              endpoint: 'https://fcm.googleapis.com/fcm/send/sub-1',
              keys: {
                p256dh:
                  'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM',
                auth: 'tBHItJI5svbpez7KI4CCXg',
              },
            },
          ],
        },
      });
      expect(created.statusCode).toBe(201);
      expect(created.json()).toMatchObject({
        id,
        email: 'asha@example.test',
        timezone: 'Asia/Kolkata',
        roles: ['customer'],
        pushSubscriptions: [{ endpoint: 'https://fcm.googleapis.com/fcm/send/sub-1' }],
      });

      const updated = await api.service({
        method: 'PUT',
        url: `/api/recipients/${id}`,
        payload: { phone: null, muted: true, pushSubscriptions: [] },
      });
      expect(updated.statusCode).toBe(200);
      expect(updated.json()).toMatchObject({
        id,
        email: 'asha@example.test',
        phone: null,
        muted: true,
        pushSubscriptions: [],
      });

      const em = stack.orm.em.fork();
      expect(await em.findOneOrFail(Recipient, { id })).toMatchObject({
        phone: null,
        muted: true,
        quietHours: { start: '22:00', end: '07:00', timezone: 'Asia/Kolkata' },
      });
      expect(await em.count(PushSubscription, { recipientId: id })).toBe(0);
    });

    it('names each bad field', async () => {
      const id = stack.uid('u');
      const cases: [Record<string, unknown>, string][] = [
        [{ email: 'not-an-email' }, 'email'],
        [{ phone: '98000' }, 'phone'],
        [{ timezone: 'Mars/Base' }, 'timezone'],
        [{ quietHours: { start: '25:00', end: '07:00', timezone: 'UTC' } }, 'quietHours.start'],
        [{ quietHours: { start: '07:00', end: '07:00', timezone: 'UTC' } }, 'quietHours.end'],
        [{ webhookUrl: 'ftp://x' }, 'webhookUrl'],
        [
          {
            pushSubscriptions: [{ endpoint: 'https://fcm.googleapis.com/fcm/send/p', keys: { p256dh: 'x' } }],
          },
          'pushSubscriptions.0.keys.auth',
        ],
        [{ nickname: 'A' }, 'nickname'],
      ];
      for (const [payload, field] of cases) {
        const res = await api.service({ method: 'PUT', url: `/api/recipients/${id}`, payload });
        expect({ field, status: res.statusCode, fields: res.json().fields }).toEqual({
          field,
          status: 400,
          fields: [field],
        });
      }
      const badId = await api.service({
        method: 'PUT',
        url: `/api/recipients/${encodeURIComponent('a b')}`,
        payload: {},
      });
      expect(badId.json()).toMatchObject({ fields: ['id'], in: 'params' });
    });
  });

  describe('validation of query strings and empty bodies', () => {
    it('refuses unknown query parameters and a body where none belongs', async () => {
      const query = await api.service({
        method: 'GET',
        url: '/api/notifications/notification-x-u/status?verbose=1',
      });
      expect(query.statusCode).toBe(400);
      expect(query.json()).toMatchObject({ fields: ['verbose'], in: 'querystring' });
      const body = await api.as('u_1', {
        method: 'POST',
        url: '/api/notifications/read-all',
        payload: { before: 'now' },
      });
      expect(body.statusCode).toBe(400);
      expect(body.json()).toMatchObject({ fields: ['before'], in: 'body' });
    });
  });

  describe('configuration', () => {
    it('hashes plain keys at load, takes SHA-256 hex as is, and names a bad entry in one line', () => {
      const hash = createHash('sha256').update('another-key-0123456789').digest('hex');
      const config = loadConfig({
        API_KEYS: `a:plain-key-0123456789, b:${hash.toUpperCase()}`,
        JWT_SECRET: 'x'.repeat(32),
      });
      expect(config.api.serviceKeys).toEqual([
        { name: 'a', sha256: createHash('sha256').update('plain-key-0123456789').digest('hex') },
        { name: 'b', sha256: hash },
      ]);
      expect(JSON.stringify(config.api)).not.toContain('plain-key-0123456789');
      expect(() => loadConfig({ API_KEYS: 'a:short' })).toThrow(
        /^invalid configuration: API_KEYS: entry 1 must be name:key/,
      );
      expect(() => loadConfig({ ADMIN_API_KEYS: 'a:plain-key-0123456789,a:plain-key-9876543210' })).toThrow(
        /ADMIN_API_KEYS: key name "a" appears twice/,
      );
      expect(() => loadConfig({ JWT_SECRET: 'too-short' })).toThrow(
        /JWT_SECRET: must be at least 32 characters/,
      );
      expect(() => loadConfig({ JWT_SECRET: 'x'.repeat(32), JWT_JWKS_URL: 'https://id.test/jwks' })).toThrow(
        /set one of the two/,
      );
      expect(() => loadConfig({ API_RATE_LIMIT_PER_KEY: '-1' })).toThrow(/API_RATE_LIMIT_PER_KEY/);
    });
  });

  describe('health', () => {
    it('answers /healthz and /readyz without credentials', async () => {
      expect((await api.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
      const ready = await api.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toMatchObject({
        status: 'ready',
        checks: { postgres: { ok: true }, redis: { ok: true }, temporal: { ok: true } },
      });
    });

    it('serves the OpenAPI document with every route', async () => {
      const doc = (await api.inject({ method: 'GET', url: '/docs/json' })).json();
      expect(doc.openapi).toBe('3.0.3');
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining([
          '/api/events',
          '/api/notifications',
          '/api/notifications/batch',
          '/api/notifications/{id}/status',
          '/api/notifications/{id}/cancel',
          '/api/notifications/{id}/reschedule',
          '/api/recipients/{id}',
          '/api/notifications/unread-count',
          '/api/notifications/{id}/read',
          '/api/notifications/read-all',
          '/api/notifications/stream',
          '/api/preferences',
          '/api/templates',
          '/api/templates/{code}/versions',
          '/api/templates/{code}/preview',
          '/api/notifications/{id}/trace',
          '/healthz',
          '/readyz',
        ]),
      );
      expect(doc.components.securitySchemes.apiKey).toMatchObject({
        type: 'apiKey',
        in: 'header',
        name: 'x-api-key',
      });
      expect(
        doc.paths['/api/events'].post.requestBody.content['application/json'].schema.properties.type.enum,
      ).toContain('ORDER_CREATED');
      expect(Object.keys(doc.paths).some((p) => p.startsWith('/admin'))).toBe(false);
    });

    it('answers an unknown route with a 404 body', async () => {
      const res = await api.inject({ method: 'GET', url: '/api/nope' });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ statusCode: 404, error: 'Not Found' });
    });
  });
});

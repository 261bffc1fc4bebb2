import type { EventResult } from '../../src/domain/notification-request';
import { DIGEST_ITEM_SIGNAL, digestWorkflowId, LOW_STOCK_DIGEST } from '../../src/domain/digest';
import {
  campaignEventId,
  campaignWorkflowId,
  eventWorkflowId,
  followUpWorkflowId,
} from '../../src/domain/workflow-ids';
import { recipientRef } from '../../src/db/recipient-refs';
import { ADMIN_KEY, ApiTestApp, apiTestEnv, token } from '../helpers/api-app';
import { grantMarketingConsent } from '../helpers/consent';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/**
 * Erasure (DELETE /api/recipients/:id, docs/data-lifecycle.md "Erasure") on the real dev server,
 * Postgres, Redis and an SMTP peer: a shopper with a delivered notification, one waiting on a timer in an
 * event shared with another recipient, a payment reminder waiting, a low-stock digest window open, an
 * order journey, a push subscription, a preference and a marketing consent.
 */
describe('erasure of a recipient', () => {
  const stack = new TestStack({
    env: apiTestEnv({ LOW_STOCK_DIGEST_WINDOW_MS: '600000', PAYMENT_REMINDER_DELAY_MS: '600000' }),
  });
  const api = new ApiTestApp(stack);
  beforeAll(async () => {
    await stack.start();
    await api.start();
  });
  afterAll(async () => {
    await api.close();
    await stack.stop();
  });

  const sql = <T>(query: string, params: unknown[] = []) =>
    stack.orm.em.fork().getConnection().execute<T[]>(query, params);

  /** Every table and text-like column of the public schema holding `needle` anywhere: [table.column, rows]. */
  async function rowsMentioning(needle: string): Promise<[string, number][]> {
    const columns = await sql<{ table_name: string; column_name: string }>(
      `select table_name, column_name from information_schema.columns
        where table_schema = 'public' and data_type in ('text', 'character varying', 'jsonb', 'json', 'ARRAY')
          and table_name not like 'mikro_orm%'`,
    );
    const found: [string, number][] = [];
    for (const { table_name: table, column_name: column } of columns) {
      const [{ n }] = await sql<{ n: number }>(
        `select count(*)::int as n from "${table}" where "${column}"::text like ?`,
        [`%${needle}%`],
      );
      if (n > 0) found.push([`${table}.${column}`, n]);
    }
    return found;
  }

  /** Executions on this stack's task queues (visibility is eventually consistent: callers poll). */
  async function executions(query = '') {
    const taskQueue = stack.config.temporal.taskQueue;
    const list: { workflowId: string; type: string; status: string; attrs: string }[] = [];
    for await (const e of stack.temporalClient.workflow.list({
      query: `TaskQueue = '${taskQueue}'${query ? ` AND (${query})` : ''}`,
    }))
      list.push({
        workflowId: e.workflowId,
        type: e.type,
        status: e.status.name,
        attrs: JSON.stringify(e.searchAttributes),
      });
    return list;
  }

  const publish = async (type: string, userId: string, data: Record<string, unknown>) => {
    const id = stack.uid('evt');
    await stack.client.publishEvent({ id, type, occurredAt: new Date().toISOString(), userId, data });
    return id;
  };

  async function shopperWithOpenWork(shopper: string, other: string) {
    await stack.createRecipient({ id: shopper, roles: ['admin'] });
    await stack.createRecipient({ id: other });
    await sql(
      `insert into push_subscriptions (recipient_id, endpoint, p256dh, auth) values (?, ?, 'p256dh-key', 'auth-key')`,
      [shopper, `https://push.example.test/${shopper}`],
    );
    await sql(
      `insert into preferences (recipient_id, category, channel, enabled) values (?, 'marketing', 'sms', false)`,
      [shopper],
    );
    await grantMarketingConsent(stack, [shopper]);
    // Delivered: ORDER_CREATED (opens the order's journey too).
    const orderNumber = stack.uid('A');
    const created = await publish('ORDER_CREATED', shopper, { orderNumber, total: 10, currency: 'INR' });
    expect((await stack.client.eventResult(created)).notifications[0].state).toBe('delivered');
    // Waiting on a timer, in an event shared with another recipient.
    const shared = stack.uid('evt');
    await stack.client.publishBatchNotification({
      id: shared,
      userIds: [shopper, other],
      templateCode: 'order_created',
      variables: { orderNumber: shared, total: 5, currency: 'INR' },
      options: { channels: ['email'], delayMs: 600_000 },
    });
    // A payment reminder waiting, and a low-stock digest window open.
    const failed = await publish('PAYMENT_FAILED', shopper, { orderNumber, amount: 10, currency: 'INR' });
    await stack.client.eventResult(failed);
    const lowStock = await publish('INVENTORY_LOW_STOCK', shopper, { productName: 'Mug', currentStock: 1 });
    await stack.client.eventResult(lowStock);
    const ref = (await recipientRef(stack.orm.em.fork(), shopper))!;
    const reminderId = followUpWorkflowId('payment_reminder', orderNumber, ref);
    const digestId = digestWorkflowId(ref, LOW_STOCK_DIGEST.key);
    for (const id of [reminderId, digestId, eventWorkflowId(shared)])
      await waitFor(async () =>
        (await stack.temporalClient.workflow.getHandle(id).describe()).status.name === 'RUNNING'
          ? true
          : undefined,
      );
    await waitFor(async () =>
      (await stack.client.status(shared, shopper)).state === 'scheduled' ? true : undefined,
    );
    return { ref, shared, reminderId, digestId, orderNumber };
  }

  it('cancels open work, deletes every row and key, keeps a tombstone, and leaves the other recipient traceable', async () => {
    const shopper = stack.uid('u');
    const other = stack.uid('u');
    const { ref, shared, reminderId, digestId } = await shopperWithOpenWork(shopper, other);
    // A shopper API call leaves a rate-limit counter in Redis.
    expect((await api.as(shopper, { method: 'GET', url: '/api/notifications' })).statusCode).toBe(200);
    const rateKey = `${stack.config.queuePrefix}:api-rate-limit:user:${shopper}`;
    expect(await stack.redis.exists(rateKey)).toBe(1);
    // A browser session of the shopper (and an operator's, which stays).
    const signIn = async (payload: Record<string, unknown>) => {
      const res = await api.inject({ method: 'POST', url: '/api/session', payload });
      expect(res.statusCode).toBe(200);
      const line = ([] as string[])
        .concat(res.headers['set-cookie'] ?? [])
        .find((l) => l.startsWith('ns_session='));
      return line!.split(';')[0];
    };
    const shopperCookie = await signIn({ token: await token(shopper) });
    const adminCookie = await signIn({ adminKey: ADMIN_KEY });
    const inbox = (cookie: string) =>
      api.inject({ method: 'GET', url: '/api/notifications/unread-count', headers: { cookie } });
    expect((await inbox(shopperCookie)).statusCode).toBe(200);
    const mailsBefore = stack.smtp.messagesTo(`${shopper}@example.test`).length;
    // The operators' look-up resolves the user id to the ref the workflows carry.
    const listed = await waitFor(async () => {
      const res = await api.admin({ method: 'GET', url: `/api/admin/recipients/${shopper}/workflows` });
      const body = res.json<{ ref: string; query: string; workflows: { workflowId: string }[] }>();
      const ids = body.workflows.map((w) => w.workflowId);
      return ids.includes(reminderId) && ids.includes(digestId) ? body : undefined;
    });
    expect(listed.ref).toBe(ref);
    expect(listed.query).toContain(`NotificationRecipientRef = '${ref}'`);
    // The scan below finds what is stored: before the erasure, the shopper is in several tables.
    expect((await rowsMentioning(shopper)).map(([column]) => column)).toEqual(
      expect.arrayContaining([
        'recipients.id',
        'notifications.recipient_id',
        'push_subscriptions.recipient_id',
      ]),
    );

    const erased = await api.admin({ method: 'DELETE', url: `/api/recipients/${shopper}` });
    expect(erased.statusCode).toBe(200);
    const answer = erased.json();
    expect(answer).toMatchObject({
      erased: true,
      counts: { pushSubscriptions: 1, preferences: 1, consents: 1, consentEvents: 1 },
      cancelled: { digests: 1, notCancelled: 0 },
      redisKeys: 2,
    });
    // Delivered ORDER_CREATED and PAYMENT_FAILED, the shared one, the reminder, the digested low-stock one.
    expect(answer.counts.notifications).toBe(5);
    expect(answer.cancelled.notifications).toBe(2);
    expect(answer.cancelled.journeys).toBe(1);
    const [tombstone] = await sql<{ counts: unknown }>(`select counts from erased_recipients where id = ?`, [
      answer.tombstoneId,
    ]);
    expect(tombstone.counts).toEqual(answer.counts);

    // The waiting notification ends cancelled and never sends; the other recipient's part goes on.
    const reminder = (await stack.temporalClient.workflow.getHandle(reminderId).result()) as EventResult;
    expect(reminder.notifications[0].state).toBe('cancelled');
    expect((await stack.temporalClient.workflow.getHandle(digestId).describe()).status.name).toBe(
      'TERMINATED',
    );
    await stack.client.reschedule({ eventId: shared, userId: other }, new Date());
    const result = await stack.client.eventResult(shared);
    expect(Object.fromEntries(result.notifications.map((n) => [n.userId, n.state]))).toEqual({
      [shopper]: 'cancelled',
      [other]: 'delivered',
    });
    await stack.smtp.waitForMessages(`${other}@example.test`);
    expect(stack.smtp.messagesTo(`${shopper}@example.test`)).toHaveLength(mailsBefore);
    const [otherRow] = await sql<{ id: string }>(
      `select id from notifications where event_id = ? and recipient_id = ?`,
      [shared, other],
    );
    const trace = await api.admin({ method: 'GET', url: `/api/notifications/${otherRow.id}/trace` });
    expect(trace.statusCode).toBe(200);
    expect(trace.json().workflows.map((w: { workflowId: string }) => w.workflowId)).toContain(
      eventWorkflowId(shared),
    );

    // Nothing stored, in Redis or in Temporal's ids and search attributes leads back to the shopper.
    expect(await rowsMentioning(shopper)).toEqual([]);
    expect(await rowsMentioning(ref)).toEqual([]);
    expect(await stack.redis.exists(rateKey)).toBe(0);
    expect((await inbox(shopperCookie)).statusCode).toBe(401);
    expect(
      (await api.inject({ method: 'GET', url: '/api/templates', headers: { cookie: adminCookie } }))
        .statusCode,
    ).toBe(200);
    expect(await executions(`NotificationUserId = '${shopper}'`)).toEqual([]);
    const all = await waitFor(async () => {
      const list = await executions();
      return list.some((e) => e.workflowId === reminderId) ? list : undefined;
    });
    expect(all.filter((e) => e.workflowId.includes(shopper) || e.attrs.includes(shopper))).toEqual([]);

    // Idempotent: a second erasure finds no recipient; a later event treats the id as unknown.
    expect((await api.admin({ method: 'DELETE', url: `/api/recipients/${shopper}` })).statusCode).toBe(404);
    const late = await publish('ORDER_CREATED', shopper, {
      orderNumber: stack.uid('A'),
      total: 1,
      currency: 'INR',
    });
    expect((await stack.client.eventResult(late)).notifications).toEqual([
      expect.objectContaining({
        userId: shopper,
        state: 'failed',
        error: `recipient "${shopper}" does not exist`,
      }),
    ]);
    expect(await sql(`select 1 from recipients where id = ?`, [shopper])).toEqual([]);
  }, 120_000);

  it('removes a send job still queued: the channel worker started afterwards sends nothing', async () => {
    const shopper = stack.uid('u');
    await stack.createRecipient({ id: shopper });
    await stack.stopDeliveryWorkers();
    try {
      const eventId = await stack.publishEmail(shopper);
      const [row] = await waitFor(async () => {
        const rows = await sql<{ id: string }>(
          `select id from notifications where event_id = ? and state = 'sending'`,
          [eventId],
        );
        return rows.length ? rows : undefined;
      });
      const jobId = `${row.id}.email`;
      expect(await stack.queues.queue('email').getJob(jobId)).toBeDefined();
      const erased = await api.admin({ method: 'DELETE', url: `/api/recipients/${shopper}` });
      expect(erased.json()).toMatchObject({ cancelled: { notifications: 1, notCancelled: 0, sendJobs: 1 } });
      expect(await stack.queues.queue('email').getJob(jobId)).toBeUndefined();
      expect((await stack.client.eventResult(eventId)).notifications).toEqual([
        expect.objectContaining({ userId: shopper, state: 'cancelled' }),
      ]);
    } finally {
      stack.startDeliveryWorkers();
    }
    // A mail published after the restart arrives; the erased one never does.
    const other = stack.uid('u');
    await stack.createRecipient({ id: other });
    await stack.client.eventResult(await stack.publishEmail(other));
    await stack.smtp.waitForMessages(`${other}@example.test`);
    expect(stack.smtp.messagesTo(`${shopper}@example.test`)).toHaveLength(0);
  });

  it('a campaign scheduled with the shopper in its segment forgets the id and reaches only the others', async () => {
    const shopper = stack.uid('u');
    const other = stack.uid('u');
    for (const id of [shopper, other]) await stack.createRecipient({ id });
    await grantMarketingConsent(stack, [shopper, other]);
    const { campaignId } = await stack.client.scheduleCampaign({
      name: 'Sale',
      templateCode: 'marketing_announcement',
      segment: { userIds: [shopper, other] },
      channels: ['in_app'],
      scheduledAt: new Date(Date.now() + 3600_000).toISOString(),
      variables: { headline: 'Winter sale', message: 'Everything 20% off.' },
    });
    await waitFor(async () =>
      (await sql(`select 1 from campaigns where id = ?`, [campaignId])).length ? true : undefined,
    );
    const erased = await api.admin({ method: 'DELETE', url: `/api/recipients/${shopper}` });
    expect(erased.json().counts.campaignSegments).toBe(1);
    const [stored] = await sql<{ segment: unknown }>(`select segment from campaigns where id = ?`, [
      campaignId,
    ]);
    expect(stored.segment).toEqual({ userIds: [other] });
    await stack.client.reschedule(campaignWorkflowId(campaignId), new Date());
    expect(await stack.client.campaignResult(campaignId)).toMatchObject({ state: 'completed', started: 1 });
    expect(
      await sql(`select recipient_id from notifications where event_id = ?`, [campaignEventId(campaignId)]),
    ).toEqual([{ recipient_id: other }]);
    expect(await sql(`select 1 from recipients where id = ?`, [shopper])).toEqual([]);
  });

  it('ends a digest workflow release 4 started under the user id', async () => {
    const shopper = stack.uid('u');
    await stack.createRecipient({ id: shopper });
    // As release 4 signalled it: `digest-<userId>-<key>`, a window open for ten minutes.
    const legacyId = digestWorkflowId(shopper, LOW_STOCK_DIGEST.key);
    await stack.temporalClient.workflow.signalWithStart('digestWorkflow', {
      workflowId: legacyId,
      taskQueue: stack.config.temporal.taskQueue,
      args: [
        { recipientId: shopper, key: LOW_STOCK_DIGEST.key, templateCode: LOW_STOCK_DIGEST.templateCode },
      ],
      signal: DIGEST_ITEM_SIGNAL,
      signalArgs: [
        {
          item: {
            eventId: stack.uid('low'),
            occurredAt: new Date().toISOString(),
            summary: 'Mug: 1 left',
            data: {},
          },
          closeAtMs: Date.now() + 600_000,
        },
      ],
    });
    const erased = await api.admin({ method: 'DELETE', url: `/api/recipients/${shopper}` });
    expect(erased.json().cancelled.digests).toBe(1);
    expect((await stack.temporalClient.workflow.getHandle(legacyId).describe()).status.name).toBe(
      'TERMINATED',
    );
  });

  it('answers 404 for an unknown recipient and refuses a shopper token', async () => {
    const nobody = stack.uid('u');
    expect((await api.admin({ method: 'DELETE', url: `/api/recipients/${nobody}` })).statusCode).toBe(404);
    const shopper = stack.uid('u');
    await stack.createRecipient({ id: shopper });
    expect((await api.as(shopper, { method: 'DELETE', url: `/api/recipients/${shopper}` })).statusCode).toBe(
      403,
    );
    expect(await sql(`select 1 from recipients where id = ?`, [shopper])).toHaveLength(1);
    const doc = (await api.inject({ method: 'GET', url: '/docs/json' })).json<{
      paths: Record<string, Record<string, { tags?: string[] }>>;
    }>();
    expect(doc.paths['/api/recipients/{id}'].delete.tags).toEqual(['operators']);
    expect(doc.paths['/api/admin/recipients/{id}/workflows'].get.tags).toEqual(['operators']);
  });
});

describe('erasure while a provider is being called', () => {
  const stack = new TestStack({ env: apiTestEnv({ DELIVERY_DEADLINE_MS: '3000' }) });
  const api = new ApiTestApp(stack);
  beforeAll(async () => {
    await stack.start();
    await api.start();
  });
  afterAll(async () => {
    await api.close();
    await stack.stop();
  });

  it('cannot stop that send; its outcome finds no row, and the event workflow still finishes', async () => {
    const shopper = stack.uid('u');
    await stack.createRecipient({ id: shopper });
    const held = stack.smtp.holdNext();
    const eventId = await stack.publishEmail(shopper);
    await held.arrived; // the SMTP server has the message and has not answered yet
    const erased = await api.admin({ method: 'DELETE', url: `/api/recipients/${shopper}` });
    expect(erased.json()).toMatchObject({ counts: { notifications: 1 }, cancelled: { notCancelled: 1 } });
    held.release();
    const result = await stack.client.eventResult(eventId);
    // Its row is gone: the deadline's reconcile reports the recipient final instead of waiting forever.
    expect(result.notifications).toEqual([
      expect.objectContaining({
        userId: shopper,
        state: 'cancelled',
        error: 'notification deleted while sending: the recipient was erased',
      }),
    ]);
    const rows = await stack.orm.em
      .fork()
      .getConnection()
      .execute(`select 1 from notifications where event_id = ?`, [eventId]);
    expect(rows).toEqual([]);
  }, 60_000);
});

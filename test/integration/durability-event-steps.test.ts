import { randomUUID } from 'node:crypto';
import { createActivities } from '../../activities';
import { Notification } from '../../src/db/entities';
import { sendJobId, type Channel } from '../../src/domain/channels';
import { eventWorkflowId } from '../../src/domain/workflow-ids';
import { findWorkflowsWithoutTimer } from '../../src/operations/open-work';
import { ApiTestApp, apiTestEnv } from '../helpers/api-app';
import { PrivateRedis } from '../helpers/private-services';
import { grantMarketingConsent } from '../helpers/consent';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/**
 * The event workflow's own steps under faults of our infrastructure (docs/contracts.md, "Durability
 * invariants"): real Redis refusing writes (OOM) at a delayed send's wake-up, a horizon that runs out,
 * the workflow's clock deciding due-ness, and a dead worker's claim whose job vanished.
 */
/** A TestStack on a Redis of its own that the test may make refuse writes; started and stopped with the describe block. */
function stackOnPrivateRedis(env: Record<string, string>): {
  redis: () => PrivateRedis;
  stack: () => TestStack;
} {
  let redis: PrivateRedis;
  let stack: TestStack;
  beforeAll(async () => {
    redis = await PrivateRedis.start();
    stack = await new TestStack({ env: { REDIS_URL: redis.url, ...env } }).start();
  });
  afterAll(async () => {
    await redis?.acceptWrites().catch(() => undefined);
    await stack?.stop();
    await redis?.close();
  });
  return { redis: () => redis, stack: () => stack };
}

/** A direct send of order_created to a new recipient, due after `delayMs`. */
async function publishDelayed(
  stack: TestStack,
  channels: Channel[],
  delayMs: number,
): Promise<{ userId: string; eventId: string }> {
  const userId = stack.uid('u');
  await stack.createRecipient({ id: userId });
  const eventId = stack.uid('evt');
  await stack.client.publishNotification({
    id: eventId,
    userId,
    templateCode: 'order_created',
    variables: { orderNumber: eventId, total: 5, currency: 'INR' },
    options: { channels, delayMs },
  });
  return { userId, eventId };
}

describe('durability: event steps under infrastructure faults', () => {
  const services = stackOnPrivateRedis({ DELIVERY_DEADLINE_MS: '20000' });
  let redis: PrivateRedis;
  let stack: TestStack;
  beforeAll(() => {
    redis = services.redis();
    stack = services.stack();
  });

  const row = (eventId: string, userId: string) =>
    stack.orm.em.fork().findOneOrFail(Notification, { eventId, recipientId: userId });

  /** The event's first step called directly (no workflow), with the time it runs at, so a test can drive the later steps by hand. */
  async function openWithoutWorkflow(channels: Channel[], delayMs: number) {
    const activities = createActivities({
      orm: stack.orm,
      queues: stack.queues,
      temporalClient: stack.temporalClient,
      config: stack.config,
    });
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const eventId = stack.uid('evt');
    const nowMs = Date.now();
    const event = {
      id: eventId,
      templateCode: 'order_created',
      occurredAt: new Date(nowMs).toISOString(),
      userId,
      data: { orderNumber: eventId, total: 5, currency: 'INR' },
      options: { channels, delayMs },
    };
    const opened = await activities.openEvent({ event, workflowId: eventWorkflowId(eventId), nowMs });
    return { activities, userId, eventId, nowMs, opened };
  }

  it('I3/I2: a delayed send whose wake-up meets Redis refusing writes is handed off once Redis recovers, and arrives once', async () => {
    const { userId, eventId } = await publishDelayed(stack, ['in_app', 'email'], 2500);
    await waitFor(async () => ((await row(eventId, userId)).state === 'scheduled' ? true : undefined));
    await redis.refuseWrites();
    // The wake-up comes and goes inside the outage: the step stores the row as sending, then cannot queue.
    await waitFor(async () => ((await row(eventId, userId)).state === 'sending' ? true : undefined), 15_000);
    expect(
      await stack.queues.queue('email').getJob(sendJobId((await row(eventId, userId)).id, 'email')),
    ).toBeUndefined();
    // I2 meanwhile: the workflow's step is retrying (a pending workflow task, later a backoff timer), never a bare wait.
    expect(await findWorkflowsWithoutTimer(stack.temporalClient, [eventWorkflowId(eventId)])).toEqual([]);
    await redis.acceptWrites();

    const result = await stack.client.eventResult(eventId);
    expect(result.notifications[0].state).toBe('delivered');
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(1);
    const stored = await row(eventId, userId);
    expect(stored.channelStates).toMatchObject({
      in_app: { state: 'delivered' },
      email: { state: 'delivered' },
    });
  }, 60_000);

  it('I5: the workflow clock decides due-ness; a row a moment ahead of it comes back as a wake-up, never lost or early', async () => {
    const { activities, userId, eventId, nowMs, opened } = await openWithoutWorkflow(['in_app'], 60_000);
    expect(opened.recipients[0]).toMatchObject({
      state: 'scheduled',
      sendAt: new Date(nowMs + 60_000).toISOString(),
    });
    // The workflow's clock runs 3 s behind the stored send time: nothing goes early, the time comes back to wait for.
    const early = await activities.dispatchDue({ spec: opened.spec, inline: true, nowMs: nowMs + 57_000 });
    expect(early).toMatchObject({ examined: 0, wakeTimes: [nowMs + 60_000] });
    // This worker's clock (and Postgres') says the send time is a minute away; the workflow's timer fired: it is due.
    const due = await activities.dispatchDue({ spec: opened.spec, inline: true, nowMs: nowMs + 60_000 });
    expect(due.recipients[0]).toMatchObject({ userId, state: 'sending' });
    const stored = await row(eventId, userId);
    expect(await stack.queues.queue('in_app').getJob(sendJobId(stored.id, 'in_app'))).toBeDefined();
  });

  it('I1: a dead worker’s claim whose job vanished is handed off again at the deadline instead of extended forever', async () => {
    await stack.stopDeliveryWorkers();
    try {
      const { activities, userId, eventId, nowMs, opened } = await openWithoutWorkflow(['email'], 0);
      const id = opened.recipients[0].notificationId!;
      // A worker claimed the send and died; then its job vanished with Redis.
      await stack.orm.em
        .fork()
        .getConnection()
        .execute(
          `insert into send_records (notification_id, channel, status, claimed_by, claimed_at) values (?, 'email', 'sending', ?, now() - interval '10 minutes')`,
          [id, `dead-host:1/${randomUUID()}`],
        );
      await (await stack.queues.queue('email').getJob(sendJobId(id, 'email')))!.remove();

      const reconciled = await activities.reconcileEvent({
        spec: opened.spec,
        inline: true,
        nowMs: nowMs + 25_000,
      });
      expect(reconciled.open).toBe(1);
      expect((await row(eventId, userId)).channelStates.email).toMatchObject({
        state: 'queued',
        handOffs: 2,
      });
      expect(await stack.queues.queue('email').getJob(sendJobId(id, 'email'))).toBeDefined();
    } finally {
      stack.startDeliveryWorkers();
    }
  });
});

describe('durability: the horizon', () => {
  const services = stackOnPrivateRedis({ INFRA_RETRY_HORIZON_MS: '4000', ...apiTestEnv() });
  let redis: PrivateRedis;
  let stack: TestStack;
  beforeAll(() => {
    redis = services.redis();
    stack = services.stack();
  });

  it('I4: Redis refusing writes for longer than the horizon ends the notification expired (not failed), and the workflow closes', async () => {
    const { userId, eventId } = await publishDelayed(stack, ['email'], 1500);
    await waitFor(async () =>
      (await stack.orm.em.fork().findOne(Notification, { eventId }))?.state === 'scheduled'
        ? true
        : undefined,
    );
    await redis.refuseWrites();
    try {
      const result = await stack.client.eventResult(eventId);
      expect(result.notifications[0]).toMatchObject({ userId, state: 'expired' });
      const stored = await stack.orm.em.fork().findOneOrFail(Notification, { eventId });
      expect(stored.state).toBe('expired');
      expect(stored.error).toMatch(/^expired: dispatchDue: our own infrastructure stayed unreachable/);
      expect(stored.channelStates.email).toMatchObject({ state: 'expired' });
      expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(0);
    } finally {
      await redis.acceptWrites();
    }

    // The outage is over: an operator's redrive sends it, once.
    const api = await new ApiTestApp(stack).start();
    try {
      expect(
        (await api.service({ method: 'POST', url: `/api/admin/events/${eventId}/redrive` })).statusCode,
      ).toBe(403);
      expect(
        (await api.admin({ method: 'POST', url: `/api/admin/events/${stack.uid('evt')}/redrive` }))
          .statusCode,
      ).toBe(404);
      const redrive = await api.admin({ method: 'POST', url: `/api/admin/events/${eventId}/redrive` });
      expect(redrive.statusCode).toBe(202);
      expect(redrive.json()).toEqual({
        eventId,
        workflowId: eventWorkflowId(eventId),
        expired: 1,
        started: true,
      });
    } finally {
      await api.close();
    }
    const redriven = await stack.temporalClient.workflow.getHandle(eventWorkflowId(eventId)).result();
    expect(redriven.notifications[0]).toMatchObject({ userId, state: 'delivered' });
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(1);
    expect((await stack.orm.em.fork().findOneOrFail(Notification, { eventId })).state).toBe('delivered');
    // Nothing expired is left: a second redrive finds nothing to send.
    const again = await new ApiTestApp(stack).start();
    try {
      expect(
        (await again.admin({ method: 'POST', url: `/api/admin/events/${eventId}/redrive` })).statusCode,
      ).toBe(404);
    } finally {
      await again.close();
    }
  }, 90_000);
});

describe('durability: campaigns settle', () => {
  const stack = new TestStack({ env: { DELIVERY_DEADLINE_MS: '2000' } });
  beforeAll(() => stack.start());
  afterAll(() => stack.stop());

  it('I1: a campaign whose jobs vanished with Redis hands them off again and completes only when every notification is final', async () => {
    await stack.stopDeliveryWorkers();
    const role = stack.uid('promo');
    const members = [1, 2, 3].map(() => stack.uid('u'));
    for (const id of members) await stack.createRecipient({ id, roles: [role] });
    await grantMarketingConsent(stack, members);
    const { campaignId } = await stack.client.scheduleCampaign({
      name: `Sale ${role}`,
      templateCode: 'marketing_announcement',
      segment: { roles: [role] },
      channels: ['email'],
      variables: { headline: `Winter sale ${role}`, message: 'Everything 20% off until Sunday.' },
    });
    const eventId = `campaign_${campaignId}`;
    const sending = async () =>
      (await stack.orm.em.fork().find(Notification, { eventId })).filter((n) => n.state === 'sending').length;
    await waitFor(async () => ((await sending()) === 3 ? true : undefined));
    // Redis loses every job (a restart without persistence) while no worker took them.
    const keys = await stack.queueKeys();
    expect(keys.length).toBeGreaterThan(0);
    await stack.redis.del(...keys);
    stack.startDeliveryWorkers();

    expect(await stack.client.campaignResult(campaignId)).toMatchObject({
      state: 'completed',
      targeted: 3,
      started: 3,
    });
    const rows = await stack.orm.em.fork().find(Notification, { eventId });
    expect(rows.map((r) => r.state)).toEqual(['delivered', 'delivered', 'delivered']);
    for (const id of members) expect(stack.smtp.messagesTo(`${id}@example.test`)).toHaveLength(1);
    expect(rows.every((r) => (r.channelStates.email?.handOffs ?? 1) >= 2)).toBe(true);
  }, 60_000);
});

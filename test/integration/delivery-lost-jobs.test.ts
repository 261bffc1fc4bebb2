import { WorkflowNotFoundError } from '@temporalio/client';
import { Notification, SendRecord } from '../../src/db/entities';
import { eventWorkflowId } from '../../src/domain/workflow-ids';
import type { OutcomeRecorder, Waker } from '../../src/state/outcome-recorder';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/**
 * Jobs or outcomes lost between BullMQ, Postgres and Temporal: at the channel deadline the event
 * workflow hands a vanished job off again, and reconciles a send whose outcome got lost from its
 * send record, which also keeps it to one message.
 */
describe('delivery fabric: lost jobs and lost outcomes', () => {
  /** Event ids whose next channel outcome is dropped before it reaches Postgres. */
  const loseNextOutcome = new Set<string>();
  /** Event workflow ids whose next wake-up signal (`outcomesReady`) is dropped. */
  const loseNextWake = new Set<string>();
  const stack = new TestStack({
    env: { DELIVERY_DEADLINE_MS: '2000' },
    recorder: (real) =>
      Object.assign(Object.create(real) as OutcomeRecorder, {
        record: async (...args: Parameters<OutcomeRecorder['record']>) => {
          if (loseNextOutcome.delete(args[1].eventId)) return;
          await real.record(...args);
        },
        // A send writes `sent`, its attempt and the outcome in one statement: a stale version makes the
        // outcome part miss, so it goes on to `record` above, which loses it.
        recordSent: async function (
          this: OutcomeRecorder,
          ...args: Parameters<OutcomeRecorder['recordSent']>
        ) {
          const [em, known, outcome, sent] = args;
          await real.recordSent.call(
            this,
            em,
            loseNextOutcome.has(known.eventId) ? { ...known, version: -1 } : known,
            outcome,
            sent,
          );
        },
      }),
    waker:
      (real): Waker =>
      async (workflowId) => {
        if (loseNextWake.delete(workflowId)) return;
        await real(workflowId);
      },
  });
  beforeAll(() => stack.start());
  afterAll(() => stack.stop());

  /** What a Redis restart without persistence leaves of this service: nothing. */
  async function emptyRedis(): Promise<number> {
    const keys = await stack.queueKeys();
    if (keys.length) await stack.redis.del(...keys);
    return keys.length;
  }

  const row = (eventId: string) => stack.orm.em.fork().findOneOrFail(Notification, { eventId });
  const signals = async (eventId: string) =>
    ((await stack.temporalClient.workflow.getHandle(eventWorkflowId(eventId)).fetchHistory()).events ?? [])
      .map((e) => e.workflowExecutionSignaledEventAttributes?.signalName)
      .filter(Boolean);

  it('re-hands off a job that vanished with Redis, and the email arrives once', async () => {
    await stack.stopDeliveryWorkers();
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const eventId = await stack.publishEmail(userId);
    const queued = await waitFor(async () => {
      try {
        const status = await stack.client.status(eventId, userId);
        return status.channels.email?.state === 'queued' ? status : undefined;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      }
    });
    // Handed off twice while waiting: the job id dedupes it.
    await stack.queues.enqueue({ notificationId: queued.notificationId!, channel: 'email' }, 'normal');
    expect(await stack.queues.queue('email').getJobCountByTypes('waiting', 'prioritized')).toBe(1);
    expect((await row(eventId)).channelStates.email).toMatchObject({ state: 'queued', handOffs: 1 });

    expect(await emptyRedis()).toBeGreaterThan(0);
    expect(await stack.queues.queue('email').getJobCountByTypes('waiting', 'prioritized')).toBe(0);
    stack.startDeliveryWorkers();

    const result = await stack.client.eventResult(eventId);
    expect(result.notifications[0].state).toBe('delivered');
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(1);
    expect((await stack.deliveryAttempts(eventId, userId)).attempts.map((a) => a.status)).toEqual([
      'delivered',
    ]);
    // Delivered by the second hand-off the deadline made, not by the job that vanished.
    expect((await row(eventId)).channelStates.email).toMatchObject({ state: 'delivered', handOffs: 2 });
  }, 20_000);

  it('reconciles an outcome lost after the send from the send record, and does not send again', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const eventId = stack.uid('evt');
    loseNextOutcome.add(eventId);
    const started = Date.now();
    await stack.client.publishNotification({
      id: eventId,
      userId,
      templateCode: 'order_created',
      variables: { orderNumber: eventId, total: 5, currency: 'INR' },
      options: { channels: ['email'] },
    });

    const result = await stack.client.eventResult(eventId);
    expect(result.notifications[0].state).toBe('delivered');
    expect(loseNextOutcome.size).toBe(0);
    // Nothing woke the workflow: it found the delivery at the channel deadline.
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(await signals(eventId)).toEqual([]);
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(1);
    const { attempts, notification } = await stack.deliveryAttempts(eventId, userId);
    expect(attempts.map((a) => a.status)).toEqual(['delivered']);
    const record = await stack.orm.em
      .fork()
      .findOneOrFail(SendRecord, { notificationId: notification.id, channel: 'email' });
    expect(record).toMatchObject({ status: 'sent', providerMessageId: attempts[0].providerMessageId });
    // The row the worker never updated now says what the send record says; no second hand-off.
    expect(notification).toMatchObject({ state: 'delivered' });
    expect(notification.channelStates.email).toMatchObject({
      state: 'delivered',
      handOffs: 1,
      providerMessageId: attempts[0].providerMessageId,
    });
  }, 20_000);

  it('finishes at the deadline when the wake-up signal is lost, from the outcome already in Postgres', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const eventId = stack.uid('evt');
    loseNextWake.add(eventWorkflowId(eventId));
    const started = Date.now();
    await stack.client.publishNotification({
      id: eventId,
      userId,
      templateCode: 'order_created',
      variables: { orderNumber: eventId, total: 5, currency: 'INR' },
      options: { channels: ['email'] },
    });

    // The worker recorded the delivery; only the workflow does not know yet.
    await waitFor(async () => ((await row(eventId)).state === 'delivered' ? true : undefined), 10_000);
    expect(loseNextWake.size).toBe(0);
    const result = await stack.client.eventResult(eventId);
    expect(result.notifications[0].state).toBe('delivered');
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(await signals(eventId)).toEqual([]);
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(1);
    expect((await stack.deliveryAttempts(eventId, userId)).attempts.map((a) => a.status)).toEqual([
      'delivered',
    ]);
  }, 20_000);
});

import { WorkflowNotFoundError } from '@temporalio/client';
import { notificationWorkflowId } from '../../src/domain/workflow-ids';
import type { OutcomeReporter } from '../../src/delivery/outcome-reporter';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/** Jobs or outcomes lost between BullMQ and Temporal: the workflow's deadline hands the job off again, the send record keeps it to one message. */
describe('delivery fabric: lost jobs and lost outcomes', () => {
  /** Workflow ids whose next outcome is dropped on the way to Temporal. */
  const loseNextOutcome = new Set<string>();
  const stack = new TestStack({
    env: { DELIVERY_DEADLINE_MS: '2000' },
    outcomes: (real): OutcomeReporter => ({
      report: async (workflowId, outcome) => {
        if (loseNextOutcome.delete(workflowId)) return;
        await real.report(workflowId, outcome);
      },
    }),
  });
  beforeAll(() => stack.start());
  afterAll(() => stack.stop());

  /** What a Redis restart without persistence leaves of this service: nothing. */
  async function emptyRedis(): Promise<number> {
    const keys = await stack.redis.keys(`${stack.config.queuePrefix}:*`);
    if (keys.length) await stack.redis.del(...keys);
    return keys.length;
  }

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
    const job = { notificationId: queued.notificationId!, channel: 'email' as const, workflowId: notificationWorkflowId(eventId, userId), userId };
    // Handed off twice while waiting: the job id dedupes it.
    await stack.queues.enqueue(job, 'normal');
    expect(await stack.queues.queue('email').getJobCountByTypes('waiting', 'prioritized')).toBe(1);

    expect(await emptyRedis()).toBeGreaterThan(0);
    expect(await stack.queues.queue('email').getJobCountByTypes('waiting', 'prioritized')).toBe(0);
    stack.startDeliveryWorkers();

    const result = await stack.client.eventResult(eventId);
    expect(result.notifications[0].state).toBe('delivered');
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(1);
    expect((await stack.deliveryAttempts(eventId, userId)).attempts.map((a) => a.status)).toEqual(['delivered']);
  }, 20_000);

  it('re-hands off when the outcome is lost after the send, and does not send again', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const eventId = stack.uid('evt');
    loseNextOutcome.add(notificationWorkflowId(eventId, userId));
    await stack.client.publishNotification({ id: eventId, userId, templateCode: 'order_created', variables: { orderNumber: eventId, total: 5, currency: 'INR' }, options: { channels: ['email'] } });

    const result = await stack.client.eventResult(eventId);
    expect(result.notifications[0].state).toBe('delivered');
    expect(loseNextOutcome.size).toBe(0);
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(1);
    const { attempts } = await stack.deliveryAttempts(eventId, userId);
    expect(attempts.map((a) => a.status)).toEqual(['delivered', 'skipped_duplicate']);
    expect(attempts[1].providerMessageId).toBe(attempts[0].providerMessageId);
  }, 20_000);
});

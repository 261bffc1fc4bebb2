import { Notification } from '../../src/db/entities';
import { childEnvFor, NodeProcess } from '../helpers/node-process';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/** The workflow worker as its own process, killed and started again while a notification sleeps. */
describe('workflow worker process restart', () => {
  const stack = new TestStack({ temporalWorker: false });
  const workers: NodeProcess[] = [];
  beforeAll(() => stack.start());
  afterAll(async () => {
    for (const worker of workers) if (worker.exitCode === null) worker.kill('SIGKILL');
    await stack.stop();
  });

  async function startWorkflowWorker(): Promise<NodeProcess> {
    const worker = new NodeProcess(
      'src/bin/worker.ts',
      ['--workflows-only'],
      childEnvFor(stack.config, { WORKFLOW_BUNDLE_PATH: process.env.TEST_WORKFLOW_BUNDLE! }),
    );
    workers.push(worker);
    await worker.waitForLine(/^workflow workers polling task queues /, 30_000);
    // --workflows-only, DATABASE_POOL_MAX unset: the workflow worker's 20 + 2 for the periodic scans.
    expect(worker.output).toContain('postgres pool: at most 22 connections');
    return worker;
  }

  it('loses no sleeping notification when the worker is SIGKILLed, and sends it once after a restart', async () => {
    const first = await startWorkflowWorker();
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const eventId = stack.uid('evt');
    await stack.client.publishEvent({
      id: eventId,
      type: 'ORDER_CREATED',
      occurredAt: new Date().toISOString(),
      userId,
      data: { orderNumber: 'K-1', total: 1, currency: 'INR' },
      // Long enough that a loaded machine still sees it waiting before the worker is killed.
      options: { delayMs: 8000, channels: ['email'] },
    });
    // The event workflow (event-<eventId>) owns the recipient; a waiting notification is a row stored with its send time.
    const scheduled = await waitFor(async () => {
      const status = await stack.client.status(eventId, userId).catch(() => undefined);
      return status?.state === 'scheduled' ? status : undefined;
    });
    const row = await stack.orm.em.fork().findOneOrFail(Notification, { eventId, recipientId: userId });
    expect(row.state).toBe('scheduled');
    expect(row.sendAt?.toISOString()).toBe(scheduled.sendAt);

    first.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    // The durable timer fires while no worker runs.
    await waitFor(() => (Date.now() > Date.parse(scheduled.sendAt!) + 1000 ? true : undefined));
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(0);

    const second = await startWorkflowWorker();
    await stack.smtp.waitForMessages(`${userId}@example.test`, 1, 30_000);
    const result = await stack.client.eventResult(eventId);
    expect(result.notifications).toEqual([
      expect.objectContaining({
        userId,
        workflowId: `event-${eventId}`,
        notificationId: row.id,
        state: 'delivered',
      }),
    ]);
    expect((await stack.client.status(eventId, userId)).channels.email).toMatchObject({
      state: 'delivered',
      attempts: 1,
    });
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(1);
    expect((await second.stop()).code).toBe(0);
  }, 90_000);
});

import { randomBytes } from 'node:crypto';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { AesGcmPayloadCodec } from '../../src/temporal/payload-codec';
import { notificationWorkflowId } from '../../src/domain/workflow-ids';
import type { NotificationRequest } from '../../src/domain/notification-request';
import type { NotificationStatus } from '../../src/domain/notification-status';
import { LONGEST_DELAY_DAYS, listOpenRelease0 } from '../../src/release-0/open-executions';
import { childEnvFor, NodeProcess } from '../helpers/node-process';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/**
 * `npm run release0:open` (docs/release-0.md) against the real dev server: a release-0
 * notificationWorkflow started the way release 0 started them is listed while it waits and not once it
 * ended; so is an event workflow that took no patch (a stand-in on a task queue of its own, as
 * businessEventWorkflowV0 ran); a release-1 event workflow (its first task took the lean-event-path
 * patch) is never listed.
 */
describe('release0:open', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await new TestStack().start();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  function request(eventId: string, userId: string, delayMs: number): NotificationRequest {
    return {
      eventId,
      eventType: null,
      templateCode: 'order_created',
      category: 'transactional',
      userId,
      data: { orderNumber: eventId, total: 5, currency: 'INR' },
      options: { priority: 'normal', delayMs, sendAt: null, channels: ['email'] },
      channels: ['email'],
      fallbacks: {},
      deliveryDeadlineMs: 15000,
    };
  }

  async function startRelease0(eventId: string, userId: string, delayMs: number) {
    return stack.temporalClient.workflow.start('notificationWorkflow', {
      workflowId: notificationWorkflowId(eventId, userId),
      taskQueue: stack.config.temporal.taskQueue,
      args: [request(eventId, userId, delayMs)],
    });
  }

  async function listedIds(): Promise<string[]> {
    return (await listOpenRelease0(stack.temporalClient)).map((e) => e.workflowId);
  }

  it('lists a waiting release-0 notification until it ends, with start and latest close', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const handle = await startRelease0(stack.uid('evt'), userId, 24 * 3600 * 1000);
    await waitFor(async () => (await listedIds()).includes(handle.workflowId) || undefined);

    const listed = (await listOpenRelease0(stack.temporalClient)).find(
      (e) => e.workflowId === handle.workflowId,
    )!;
    expect(listed.type).toBe('notificationWorkflow');
    expect(listed.closesBy.getTime() - listed.startTime.getTime()).toBe(
      LONGEST_DELAY_DAYS * 24 * 3600 * 1000,
    );

    const cli = new NodeProcess('src/bin/release-0-open.ts', ['--json'], childEnvFor(stack.config));
    expect((await cli.exited).code).toBe(0);
    const printed = JSON.parse(cli.output.find((line) => line.startsWith('['))!) as {
      workflowId: string;
      type: string;
    }[];
    expect(printed).toContainEqual(
      expect.objectContaining({ workflowId: handle.workflowId, type: 'notificationWorkflow' }),
    );

    await handle.signal('cancel', { reason: 'release0:open test' });
    expect(((await handle.result()) as NotificationStatus).state).toBe('cancelled');
    await waitFor(async () => !(await listedIds()).includes(handle.workflowId) || undefined);
  });

  it('runs a release-0 notification to delivery on the current worker, then no longer lists it', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const eventId = stack.uid('evt');
    const handle = await startRelease0(eventId, userId, 0);
    const status = (await handle.result()) as NotificationStatus;
    expect(status.state).toBe('delivered');
    const { notification, attempts } = await stack.deliveryAttempts(eventId, userId);
    expect(notification.state).toBe('delivered');
    expect(attempts.map((a) => a.status)).toEqual(['delivered']);
    await waitFor(async () => !(await listedIds()).includes(handle.workflowId) || undefined);
  });

  it('lists an event workflow that took no patch until it ends', async () => {
    const connection = await NativeConnection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS });
    const taskQueue = `release-0-open-${randomBytes(4).toString('hex')}`;
    const worker = await Worker.create({
      connection,
      taskQueue,
      workflowsPath: require.resolve('./release-0-open/workflows'),
    });
    const run = worker.run();
    try {
      const handle = await stack.temporalClient.workflow.start('businessEventWorkflow', {
        workflowId: `event-${stack.uid('evt')}`,
        taskQueue,
      });
      const listed = await waitFor(async () =>
        (await listOpenRelease0(stack.temporalClient)).find((e) => e.workflowId === handle.workflowId),
      );
      expect(listed.type).toBe('businessEventWorkflow');
      await handle.signal('release');
      await handle.result();
      await waitFor(async () => !(await listedIds()).includes(handle.workflowId) || undefined);
    } finally {
      worker.shutdown();
      await run;
      await connection.close();
    }
  }, 60_000);

  it('does not list release-1 event workflows', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const eventId = stack.uid('evt');
    await stack.client.publishNotification({
      id: eventId,
      userId,
      templateCode: 'order_created',
      variables: { orderNumber: eventId, total: 5, currency: 'INR' },
      options: { channels: ['email'], delayMs: 3600 * 1000 },
    });
    // Once its first task completed, the event workflow carries the patch: never a candidate.
    await waitFor(
      async () => (await stack.client.status(eventId, userId)).state === 'scheduled' || undefined,
    );
    const ids = await listedIds();
    expect(ids.filter((id) => id.includes(eventId))).toEqual([]);
    await stack.client.cancel({ eventId, userId });
  });

  it('lists past an execution whose memo another key encrypted (another service, a retired key)', async () => {
    // A client of another service on the same namespace, with a key this process does not have.
    const foreign = new Client({
      connection: stack.temporalClient.connection,
      namespace: stack.config.temporal.namespace,
      dataConverter: {
        payloadCodecs: [
          new AesGcmPayloadCodec({ keys: { foreign: randomBytes(32) }, currentKeyId: 'foreign' }),
        ],
      },
    });
    // No worker polls its queue: it stays running with no patch taken, so the listing looks at it.
    const handle = await foreign.workflow.start('businessEventWorkflow', {
      workflowId: stack.uid('foreign'),
      taskQueue: stack.uid('nobody-polls'),
      args: [{}],
      memo: { note: 'sealed with another key' },
    });
    try {
      await waitFor(async () => {
        const { count } = await stack.temporalClient.workflow.count(`WorkflowId = '${handle.workflowId}'`);
        return count > 0 || undefined;
      });
      const ids = await listedIds();
      expect(ids).not.toContain(handle.workflowId);
    } finally {
      await handle.terminate('test done');
    }
  });
});

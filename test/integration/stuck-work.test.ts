import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { Client } from '@temporalio/client';
import { Redis } from 'ioredis';
import { NativeConnection, Worker } from '@temporalio/worker';
import { DeliveryMetrics } from '../../src/delivery/delivery-metrics';
import { SendQueues } from '../../src/delivery/send-queues';
import { startMetricsServer } from '../../src/runtime/metrics-server';
import { Notification } from '../../src/db/entities';
import { migrate, openOrm } from '../../src/db/orm';
import { dropDatabase, recreateProcessDatabase } from '../../src/db/process-database';
import { eventWorkflowId } from '../../src/domain/workflow-ids';
import { findStuckWork, type StuckWork, type StuckWorkDeps } from '../../src/operations/stuck-work';
import {
  readStuckWorkSummary,
  startStuckWorkMonitor,
  startStuckWorkScans,
  type StuckWorkSummary,
} from '../../src/operations/stuck-work-monitor';
import { ApiTestApp, apiTestEnv } from '../helpers/api-app';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/**
 * Stuck work created by real means (docs/contracts.md, "Stuck work"), found by reading only:
 * - past deadline: an email handed off while no channel worker runs, then the workflow worker stopped,
 *   so nobody reconciles the channel when its deadline (DELIVERY_DEADLINE_MS = 2 s) passes;
 * - queued without job: that email's job removed from Redis with BullMQ's own API;
 * - workflow without timer: a tiny workflow on a task queue of the scan that waits for a signal with no
 *   deadline (the shape issue 15 found an event workflow in; the fixed event workflow no longer takes it).
 * The test runs on a database of its own so rows of other test files are not counted.
 */
describe('stuck work', () => {
  const DATABASE_PREFIX = 'notifications_stuck_test_';
  const adminUrl = process.env.TEST_DATABASE_URL!;
  let databaseName = '';
  let stack: TestStack;
  let tinyConnection: NativeConnection;
  let tinyWorker: Worker;
  let tinyRun: Promise<void>;
  const tinyQueue = `stuck-tiny-${randomBytes(4).toString('hex')}`;
  let deps: StuckWorkDeps;
  let userId = '';
  const opened: string[] = [];

  beforeAll(async () => {
    databaseName = await recreateProcessDatabase(adminUrl, DATABASE_PREFIX);
    const url = new URL(adminUrl);
    url.pathname = `/${databaseName}`;
    const orm = await openOrm(url.toString());
    await migrate(orm).finally(() => orm.close());
    stack = await new TestStack({
      deliveryWorkers: false,
      env: { DATABASE_URL: url.toString(), DELIVERY_DEADLINE_MS: '2000', ...apiTestEnv() },
    }).start();
    userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    tinyConnection = await NativeConnection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS });
    tinyWorker = await Worker.create({
      connection: tinyConnection,
      taskQueue: tinyQueue,
      workflowsPath: require.resolve('./open-work/workflows'),
    });
    tinyRun = tinyWorker.run();
    deps = {
      orm: stack.orm,
      queues: stack.queues,
      client: stack.temporalClient,
      taskQueues: [stack.config.temporal.taskQueue, stack.config.temporal.campaignTaskQueue, tinyQueue],
    };
  }, 120_000);

  afterAll(async () => {
    const plain = new Client({ connection: stack.temporalClient.connection });
    await Promise.all(
      opened.map((id) =>
        plain.workflow
          .getHandle(id)
          .terminate('test over')
          .catch(() => undefined),
      ),
    );
    tinyWorker?.shutdown();
    await tinyRun;
    await tinyConnection?.close();
    await stack?.stop();
    if (databaseName) await dropDatabase(adminUrl, databaseName);
  });

  /** Immediate scan bounds: no grace, so the test need not wait a minute. */
  const scan = (extra: Parameters<typeof findStuckWork>[1] = {}): Promise<StuckWork> =>
    findStuckWork(deps, { deadlineGraceMs: 0, handOffGraceMs: 0, workflowMinAgeMs: 0, ...extra });

  async function sendEmail(delayMs = 0): Promise<Notification> {
    const eventId = stack.uid('evt');
    await stack.client.publishNotification({
      id: eventId,
      userId,
      templateCode: 'order_created',
      variables: { orderNumber: eventId, total: 5, currency: 'INR' },
      options: { channels: ['email'], delayMs },
    });
    opened.push(eventWorkflowId(eventId));
    const wanted = delayMs > 0 ? 'scheduled' : 'sending';
    return waitFor(async () => {
      const n = await stack.orm.em.fork().findOne(Notification, { eventId });
      return n?.state === wanted && (delayMs > 0 || n.channelStates.email?.state === 'queued')
        ? n
        : undefined;
    });
  }

  let sent: Notification;
  let tinyWorkflowId = '';

  it('finds nothing stuck in healthy work: a handed-off email with its job, a delayed send holding its timer', async () => {
    sent = await sendEmail();
    await sendEmail(3_600_000);
    // Visibility lags a moment behind a start: wait until both event workflows are listed.
    const found = await waitFor(async () => {
      const s = await scan({ deadlineGraceMs: 60_000 });
      return s.scope.workflowsListed === 2 ? s : undefined;
    });
    expect(found.errors).toEqual([]);
    expect(found.eventsPastDeadline).toEqual([]);
    expect(found.queuedWithoutJob).toEqual([]);
    expect(found.workflowsWithoutTimer).toEqual([]);
    expect(found.scope.rowsExamined).toBe(1);
    expect(found.scope.workflowsChecked).toBe(2);
    expect(found.expired).toBe(0);
  });

  it('finds a workflow that waits without a timer once it is older than the minimum age', async () => {
    tinyWorkflowId = `${tinyQueue}-waits`;
    const plain = new Client({ connection: stack.temporalClient.connection });
    await plain.workflow.start('waitsForSignal', { taskQueue: tinyQueue, workflowId: tinyWorkflowId });
    opened.push(tinyWorkflowId);
    const found = await waitFor(async () => {
      const s = await scan();
      return s.workflowsWithoutTimer.length > 0 ? s : undefined;
    });
    expect(found.workflowsWithoutTimer).toEqual([
      expect.objectContaining({ workflowId: tinyWorkflowId, workflowType: 'waitsForSignal' }),
    ]);
    // Not yet a minute old: the default scan leaves it alone.
    expect((await findStuckWork(deps)).workflowsWithoutTimer).toEqual([]);
  });

  it('finds the email past its deadline once no workflow worker reconciles it, and without job once its job was removed', async () => {
    await stack.stopTemporalWorker();
    const deadlineAt = sent.channelStates.email!.deadlineAt!;
    const past = await waitFor(async () => {
      const s = await scan();
      return s.eventsPastDeadline.length > 0 ? s : undefined;
    }, 15_000);
    expect(past.eventsPastDeadline).toEqual([
      {
        notificationId: sent.id,
        eventId: sent.eventId,
        workflowId: sent.workflowId,
        channel: 'email',
        deadlineAt: expect.any(String),
      },
    ]);
    expect(Date.parse(past.eventsPastDeadline[0].deadlineAt)).toBeGreaterThanOrEqual(Date.parse(deadlineAt));
    // The job is still in Redis: not counted as lost; the event workflow's deadline timer fired and waits for a worker (pending task): not stuck.
    expect(past.queuedWithoutJob).toEqual([]);
    expect(past.workflowsWithoutTimer.map((w) => w.workflowId)).toEqual([tinyWorkflowId]);

    const job = await stack.queues.queue('email').getJob(`${sent.id}.email`);
    expect(job).toBeTruthy();
    await job!.remove();
    const lost = await scan();
    expect(lost.queuedWithoutJob).toEqual([
      {
        notificationId: sent.id,
        eventId: sent.eventId,
        workflowId: sent.workflowId,
        channel: 'email',
        jobId: `${sent.id}.email`,
        since: expect.any(String),
      },
    ]);
    // A hand-off younger than the grace is not judged yet (its job may be on the way).
    expect((await scan({ handOffGraceMs: 3_600_000 })).queuedWithoutJob).toEqual([]);
  });

  it('bounds a scan: only the oldest rows and at most the given number of histories, rotating through the rest', async () => {
    const bounded = await scan({ maxRows: 0, maxHistories: 1 });
    expect(bounded.scope).toMatchObject({
      rowsExamined: 0,
      rowsTruncated: true,
      workflowsChecked: 1,
      workflowsTruncated: true,
    });
    const cursors = [bounded.scope.nextWorkflowCursor];
    const seen = new Set<string>();
    // Three running workflows (two event workflows, the tiny one), one history per scan: every one is read within three scans.
    for (let i = 0; i < 3; i++) {
      const next = await scan({ maxHistories: 1, workflowCursor: cursors[cursors.length - 1] });
      next.workflowsWithoutTimer.forEach((w) => seen.add(w.workflowId));
      cursors.push(next.scope.nextWorkflowCursor);
    }
    expect([...seen]).toEqual([tinyWorkflowId]);
    expect(cursors).toContain(null);
  });

  it('reports the counts as the notifications_stuck gauges and on the admin overview with trace links', async () => {
    const monitor = startStuckWorkMonitor(
      { ...deps, redis: stack.redis, queuePrefix: stack.config.queuePrefix },
      { intervalMs: 3_600_000, scan: { deadlineGraceMs: 0, handOffGraceMs: 0, workflowMinAgeMs: 0 } },
    );
    const summary = await waitFor(() => monitor.latest() ?? undefined);
    await monitor.stop();
    expect(summary).toMatchObject({
      pastDeadline: 1,
      queuedWithoutJob: 1,
      workflowsWithoutTimer: 1,
      expired: 0,
      errors: [],
    });
    expect(await readStuckWorkSummary(stack.redis, stack.config.queuePrefix)).toEqual(summary);

    const metrics = new DeliveryMetrics();
    // A process that does not scan exports none of these (no false "never scanned").
    expect(await metrics.metrics()).not.toContain('notifications_stuck');
    metrics.trackStuckWork(monitor.latest);
    const text = await metrics.metrics();
    expect(text).toContain('notifications_stuck{kind="past_deadline"} 1');
    expect(text).toContain('notifications_stuck{kind="queued_without_job"} 1');
    expect(text).toContain('notifications_stuck{kind="workflow_without_timer"} 1');
    expect(text).toContain('notifications_expired 0');

    const api = await new ApiTestApp(stack).start();
    try {
      const res = await api.admin({ method: 'GET', url: '/api/admin/overview?minutes=5' });
      expect(res.statusCode).toBe(200);
      const stuck = res.json().stuck as StuckWorkSummary;
      expect(stuck).toMatchObject({
        pastDeadline: 1,
        queuedWithoutJob: 1,
        workflowsWithoutTimer: 1,
        expired: 0,
        scannedAt: summary.scannedAt,
      });
      expect(stuck).not.toHaveProperty('rotation');
      expect(stuck.samples.map((s) => [s.kind, s.notificationId ?? s.workflowId])).toEqual([
        ['past_deadline', sent.id],
        ['queued_without_job', sent.id],
        ['workflow_without_timer', tinyWorkflowId],
      ]);
    } finally {
      await api.close();
    }
  });

  it('names a store that does not answer and still counts the other parts', async () => {
    // A peer that accepts connections and never answers (a Redis hung on a full disk): the service's
    // connections (no retry limit) queue commands on it instead of failing them.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const deadRedis = new Redis({
      host: '127.0.0.1',
      port: (silent.address() as AddressInfo).port,
      maxRetriesPerRequest: null,
    });
    deadRedis.on('error', () => undefined);
    const deadQueues = new SendQueues({
      connection: deadRedis,
      prefix: stack.config.queuePrefix,
      layout: stack.config.redisKeyLayout,
      channels: stack.config.channels,
    });
    try {
      const found = await findStuckWork(
        { ...deps, queues: deadQueues },
        { deadlineGraceMs: 0, handOffGraceMs: 0, workflowMinAgeMs: 0, partTimeoutMs: 1000 },
      );
      expect(found.errors).toEqual([{ part: 'queued_without_job', message: 'no answer within 1000 ms' }]);
      expect(found.eventsPastDeadline.map((p) => p.notificationId)).toEqual([sent.id]);
      expect(found.workflowsWithoutTimer.map((w) => w.workflowId)).toEqual([tinyWorkflowId]);
    } finally {
      deadRedis.disconnect();
      silent.close();
    }
  });

  it("a worker process's scans (STUCK_WORK_SCAN_MS) feed its GET /metrics; 0 turns them off", async () => {
    const log: string[] = [];
    const metrics = new DeliveryMetrics();
    const input = {
      config: stack.config,
      orm: stack.orm,
      redis: stack.redis,
      queues: stack.queues,
      temporalClient: stack.temporalClient,
      metrics,
      log: (line: string) => log.push(line),
    };
    expect(startStuckWorkScans({ ...input, env: { STUCK_WORK_SCAN_MS: '0' } })).toBeNull();
    expect(() => startStuckWorkScans({ ...input, env: { STUCK_WORK_SCAN_MS: 'often' } })).toThrow(
      'STUCK_WORK_SCAN_MS',
    );
    await stack.redis.del(`${stack.config.queuePrefix}:stuck-work:lock`);
    const monitor = startStuckWorkScans({ ...input, env: { STUCK_WORK_SCAN_MS: '1000' } })!;
    const server = await startMetricsServer(metrics.registry, 0, '127.0.0.1');
    try {
      // The email stays queued without its job; with the default graces it counts once its row is a minute old.
      const body = await waitFor(async () => {
        const text = await (await fetch(server.url)).text();
        return /notifications_stuck_scan_timestamp_seconds [1-9]/.test(text) ? text : undefined;
      });
      expect(body).toMatch(/notifications_stuck\{kind="past_deadline"\} \d+/);
      expect(body).toMatch(/notifications_stuck\{kind="queued_without_job"\} \d+/);
      // The tiny workflow is younger than a minute, but the published summary found it before: it is read again and still counts.
      expect(body).toContain('notifications_stuck{kind="workflow_without_timer"} 1');
      expect(body).toContain('notifications_expired 0');
      expect(log[0]).toMatch(
        /^stuck work: past_deadline=\d+ queued_without_job=\d+ workflow_without_timer=1$/,
      );
    } finally {
      await server.close();
      await monitor.stop();
    }
  });

  it('the overview scans by itself when no worker published a scan, and a released workflow drops out', async () => {
    await stack.redis.del(`${stack.config.queuePrefix}:stuck-work`);
    const plain = new Client({ connection: stack.temporalClient.connection });
    await plain.workflow.getHandle(tinyWorkflowId).signal('release');
    await plain.workflow.getHandle(tinyWorkflowId).result();
    const api = await new ApiTestApp(stack).start();
    try {
      const stuck = (await api.admin({ method: 'GET', url: '/api/admin/overview?minutes=5' })).json()
        .stuck as StuckWorkSummary;
      expect(stuck).toMatchObject({ workflowsWithoutTimer: 0, errors: [] });
      expect(await readStuckWorkSummary(stack.redis, stack.config.queuePrefix)).toMatchObject({
        scannedAt: stuck.scannedAt,
      });
    } finally {
      await api.close();
    }
  });
});

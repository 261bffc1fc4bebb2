/**
 * End-to-end throughput of the whole service in one process, against one Temporal dev server it starts itself:
 *
 *   1. floor      an empty workflow (bench/workflows/empty-workflow.ts, own Worker and task queue), started and
 *                 awaited, CONCURRENCY in flight: what Temporal alone allows on this machine
 *   2. events     single-recipient ORDER_CREATED (in_app + email to an SMTP server in this process), CONCURRENCY
 *                 in flight, each awaited with NotificationClient.eventResult until delivered
 *   3. latency    the same events paced at half of (2)'s rate: publish -> notifications row, publish -> in-app
 *                 delivered (delivered_at set: visible in the notification center), polled every 5 ms
 *   4. campaign   an in_app-only marketing campaign to RECIPIENTS recipients of one role: recipients/s until every
 *                 notifications row exists and until every one is delivered, peak RSS meanwhile; before it, in the same
 *                 run, the BullMQ-only comparison pipeline (bench/bullmq-only-pipeline.ts: one job per in-app row,
 *                 BASELINE_CONCURRENCY workers, no limiter, each job inserts its row) for the same recipients
 *   6. flash sale (after 5) an in_app campaign to FLASH_RECIPIENTS recipients scheduled FLASH_LEAD_SECONDS + 5 s ahead,
 *                 staged by the service (CAMPAIGN_STAGE_LEAD_MS = FLASH_LEAD_SECONDS): hand-off lateness (job ready)
 *                 and in-app visible lateness against the scheduled time (bench/flash-sale-phase.ts); 0 skips it
 *   5. cost       Temporal work per notification, read from the histories of every execution listed by
 *                 NotificationEventId (a sample of (2)'s events, and the campaign), every run included
 *
 *   npm run bench:e2e
 *   RECIPIENTS=300 npm run bench:e2e
 *   npm run bench:e2e -- --concurrency=20 --recipients=2000
 *
 * Settings, as env vars or --kebab-case arguments (see SETTINGS below): CONCURRENCY, FLOOR_SECONDS or FLOOR_COUNT,
 * EVENT_SECONDS or EVENT_COUNT, PACED_SECONDS, RECIPIENTS, HISTORY_SAMPLE, CAMPAIGN_TIMEOUT_SECONDS. The service's
 * own settings (SEND_IN_APP_CONCURRENCY, ...) pass through from the environment; the email rate limiter is off unless
 * SEND_EMAIL_RATE_MAX is set, so it is the pipeline that is measured, not the configured cap.
 *
 * Everything is its own and removed afterwards: the dev server (SQLite file in a temp dir), a database
 * `notifications_bench_e2e_<pid>` next to DATABASE_URL's (created, migrated, dropped), a Redis key prefix. It
 * only uses the service's public surfaces (NotificationClient, startService, the notifications and recipients
 * tables, Temporal visibility by NotificationEventId), so it runs unchanged against reworked workflows.
 */
import { dropDatabase, recreateProcessDatabase } from '../src/db/process-database';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { arch, cpus, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { NotificationClient } from '../src/client/notification-client';
import { loadConfig, type Config } from '../src/config';
import { migrate, openOrm, type Orm } from '../src/db/orm';
import { connectRedis } from '../src/runtime/connections';
import { startService } from '../src/runtime/service';
import { startDevServer, type DevServer } from '../src/temporal/dev-server';
import { temporalDataConverter } from '../src/temporal/payload-codec';
import { resolveTemporalCli } from '../src/temporal/temporal-cli';
import { SmtpPeer } from '../test/helpers/smtp-peer';
import { emptyWorkflow } from './workflows/empty-workflow';
import { runBullmqOnlyPipeline } from './bullmq-only-pipeline';
import { flashSaleLines, flashSalePhase, type FlashSaleResult } from './flash-sale-phase';

const SETTINGS = {
  /** Operations in flight in the floor and event phases. */
  CONCURRENCY: 50,
  /**
   * Measured window of the floor: at least this long and at least 2 x CONCURRENCY workflows, at most 4 x this long
   * (see closedLoop); FLOOR_COUNT > 0 measures that many workflows instead.
   */
  FLOOR_SECONDS: 10,
  FLOOR_COUNT: 0,
  /** Measured window of the event phase, as FLOOR_SECONDS; EVENT_COUNT > 0 measures that many events instead. */
  EVENT_SECONDS: 15,
  EVENT_COUNT: 0,
  /** Duration of the paced latency phase. */
  PACED_SECONDS: 15,
  /** Campaign audience. */
  RECIPIENTS: 10_000,
  /** Events of phase 2 whose histories are read. */
  HISTORY_SAMPLE: 20,
  /** From scheduling the campaign until every notification must be final. */
  CAMPAIGN_TIMEOUT_SECONDS: 180,
  /** The BullMQ-only comparison pipeline: jobs in flight, and its own Postgres pool. */
  BASELINE_CONCURRENCY: 50,
  BASELINE_POOL: 20,
  /** The flash-sale phase: recipients (0 skips it), how long ahead the campaign stages, and how long deliveries may take after its start. */
  FLASH_RECIPIENTS: 5000,
  FLASH_LEAD_SECONDS: 60,
  FLASH_TIMEOUT_SECONDS: 600,
};
type Settings = typeof SETTINGS;

const RUN = randomBytes(3).toString('hex');
const DATABASE_PREFIX = 'notifications_bench_e2e_';
const DATABASE = `${DATABASE_PREFIX}${process.pid}`;
const QUEUE_PREFIX = `{bench-e2e-${RUN}}`;
/** Recipients the single-recipient events go to, round robin (distinct users, as in a shop). */
const EVENT_RECIPIENTS = 1000;
/** An event not final after this is an error, not a slow event. */
const EVENT_TIMEOUT_MS = 120_000;
const PAGE = 1000;

const log = (line: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 23)}] ${line}\n`);

// ---------------------------------------------------------------------------------------------------------------
// What gets printed

interface Throughput {
  /** Operations that finished inside the measured window. */
  done: number;
  /** Length of the measured window. */
  seconds: number;
  perSecond: number;
  /** Start -> finish of each operation finished inside the window, ms. */
  latency: Percentiles;
  /** Every operation run in the phase: warm-up, window and drain. */
  total: number;
}

interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

interface Cost {
  /** Notifications the counts are divided by. */
  notifications: number;
  executions: number;
  running: number;
  byType: Map<string, number>;
  workflowTasks: number;
  activityTasks: number;
  localActivities: number;
  historyEvents: number;
  signals: number;
  updates: number;
  childrenStarted: number;
}

interface Report {
  settings: Settings;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  loadBefore: number;
  channels?: string;
  floor?: Throughput;
  floorCpu?: CpuPerOperation;
  rssWithoutService?: number;
  eventsCpu?: CpuPerOperation;
  events?: Throughput & { undelivered: number; emails: number };
  paced?: {
    rate: number;
    events: number;
    seconds: number;
    publish: Percentiles;
    row: Percentiles;
    visible: Percentiles;
    undelivered: number;
  };
  baseline?: { rows: number; seconds: number; perSecond: number };
  campaign?: {
    recipients: number;
    rowsSeconds: number | null;
    deliveredSeconds: number | null;
    finalSeconds: number | null;
    firstRowSeconds: number | null;
    resultSeconds: number | null;
    result: string;
    rows: number;
    delivered: number;
    final: number;
    rssBefore: number;
    rssPeak: number;
    serverRssPeak: number | null;
    redisBefore: number;
    redisPeak: number;
  };
  eventCost?: Cost;
  campaignCost?: Cost;
  flash?: FlashSaleResult;
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  // Worker lifecycle INFO lines would drown the output; this process owns shutdown (SIGINT cleans up, then exits).
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (aborted) process.exit(1);
      aborted = true;
      abort(new Error(`${signal}: stopping, cleaning up (again to exit at once)`));
    });
  }

  const settings = readSettings();
  const report: Report = { settings, loadBefore: loadavg()[0] };
  const cleanup: { name: string; run: () => Promise<unknown> }[] = [];
  let failure: unknown = null;
  try {
    await run(settings, report, cleanup);
  } catch (err) {
    failure = err;
  }
  printReport(report);

  let cleanupFailed = false;
  for (const step of cleanup.reverse()) {
    try {
      await withTimeout(step.run(), 60_000, `cleanup: ${step.name}`, false);
    } catch (err) {
      cleanupFailed = true;
      console.error(`cleanup: ${step.name} failed: ${message(err)}`);
    }
  }
  if (failure) {
    console.error(`error: ${message(failure)}`);
    return 1;
  }
  return cleanupFailed ? 1 : 0;
}

async function run(
  settings: Settings,
  report: Report,
  cleanup: { name: string; run: () => Promise<unknown> }[],
): Promise<void> {
  const temp = await mkdtemp(join(tmpdir(), 'bench-e2e-'));
  cleanup.push({ name: 'remove temp dir', run: () => rm(temp, { recursive: true, force: true }) });

  const cliPath = await resolveTemporalCli(process.env, log);
  const adminUrl = process.env.DATABASE_URL ?? loadConfig({}).databaseUrl;
  const databaseUrl = new URL(adminUrl);
  databaseUrl.pathname = `/${DATABASE}`;

  log('starting the Temporal dev server, the database and the SMTP server');
  // Every start-up step is awaited (none left running unseen) and the cleanups of those that succeeded registered
  // in a fixed order, before the first failure, if any, is thrown.
  const [serverStart, databaseStart, smtpStart] = await Promise.allSettled([
    startDevServer({ cliPath, dbFile: join(temp, 'temporal.db'), output: 'ignore' }),
    recreateProcessDatabase(adminUrl, DATABASE_PREFIX),
    new SmtpPeer().start(),
  ]);
  if (serverStart.status === 'fulfilled')
    cleanup.push({ name: 'stop the Temporal dev server', run: () => serverStart.value.stop() });
  if (databaseStart.status === 'fulfilled')
    cleanup.push({ name: `drop database ${DATABASE}`, run: () => dropDatabase(adminUrl, DATABASE) });
  if (smtpStart.status === 'fulfilled')
    cleanup.push({ name: 'stop the SMTP server', run: () => smtpStart.value.stop() });
  const [server, , smtp] = [valueOf(serverStart), valueOf(databaseStart), valueOf(smtpStart)];
  const orm = await openOrm(databaseUrl.toString(), { poolMax: 4 });
  cleanup.push({ name: 'close the benchmark ORM', run: () => orm.close() });
  await migrate(orm);
  log(
    `Temporal dev server at ${server.address} (SQLite ${join(temp, 'temporal.db')}), database ${DATABASE} migrated, SMTP at ${smtp.url}`,
  );

  const config = loadConfig({
    ...process.env,
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TASK_QUEUE: `bench-e2e-${RUN}`,
    DATABASE_URL: databaseUrl.toString(),
    QUEUE_PREFIX,
    SMTP_URL: smtp.url,
    DELIVERY_CHANNELS: 'in_app,email',
    SEND_EMAIL_RATE_MAX: process.env.SEND_EMAIL_RATE_MAX ?? '0',
    CAMPAIGN_STAGE_LEAD_MS: String(settings.FLASH_LEAD_SECONDS * 1000),
    METRICS_PORT: undefined,
    WORKFLOW_BUNDLE_PATH: undefined,
  });
  report.channels = (['in_app', 'email'] as const)
    .map((c) => {
      const { concurrency, rateLimit } = config.channels[c];
      return `${c} concurrency ${concurrency}, ${rateLimit ? `limit ${rateLimit.max}/${rateLimit.durationMs}ms` : 'no rate limit'}`;
    })
    .join('; ');

  cleanup.push({ name: 'delete Redis keys', run: () => deleteRedisKeys(config.redisUrl) });
  log(
    'starting the service (workflow worker + channel workers) and the floor worker; both bundle their workflows',
  );
  const floorQueue = `bench-floor-${RUN}`;
  // The process before the service starts (benchmark, SMTP peer, ORM): subtracted to estimate the service's own RSS.
  report.rssWithoutService = process.memoryUsage().rss;
  const [serviceStart, floorStart] = await Promise.allSettled([
    startService(config, { temporalWorker: true, deliveryWorkers: true }, (line) => log(`service: ${line}`)),
    startFloorWorker(config, floorQueue),
  ]);
  if (serviceStart.status === 'fulfilled')
    cleanup.push({ name: 'stop the service', run: () => serviceStart.value.stop() });
  if (floorStart.status === 'fulfilled')
    cleanup.push({ name: 'stop the floor worker', run: () => floorStart.value.stop() });
  const [service, floorWorker] = [valueOf(serviceStart), valueOf(floorStart)];
  // Eager workflow start where the client shares the workflow worker's connection (it does here); the floor gets the same.
  const client = new NotificationClient(service.temporalClient, config.temporal.taskQueue, {
    campaignTaskQueue: config.temporal.campaignTaskQueue,
    eagerStart: service.eagerStart,
  });

  // 1. Floor
  let cpu = await cpuSnapshot(server.process.pid);
  report.floor = await floorPhase(floorWorker.client, floorQueue, settings);
  report.floorCpu = await cpuPerOperation(cpu, server.process.pid, report.floor.total);
  await floorWorker.stop();

  // 2. Events, closed loop
  await seedRecipients(orm, EVENT_USER_PREFIX, EVENT_RECIPIENTS, null);
  const measured: string[] = [];
  cpu = await cpuSnapshot(server.process.pid);
  report.events = await eventPhase(client, smtp, settings, measured);
  report.eventsCpu = await cpuPerOperation(cpu, server.process.pid, report.events.total);
  log(`events: ${report.events.perSecond.toFixed(1)}/s`);

  // 3. Latency, paced at half the rate
  report.paced = await pacedPhase(client, orm, settings, report.events.perSecond / 2);
  smtp.messages.splice(0); // the campaign's RSS should not carry the mails of phases 2 and 3
  smtp.transmissions.splice(0);

  // 4. Campaign, after the BullMQ-only comparison pipeline for the same recipients
  const campaign = await campaignPhase(client, orm, server, settings, report, {
    redisUrl: config.redisUrl,
    databaseUrl: databaseUrl.toString(),
  });

  // 5. Cost, from the histories
  const sample = pickEvenly(measured, settings.HISTORY_SAMPLE);
  log(`reading the histories of ${sample.length} sampled events`);
  report.eventCost = await temporalCost(service.temporalClient, sample, sample.length);
  log(`reading the histories of the campaign`);
  report.campaignCost = await temporalCost(
    service.temporalClient,
    [`campaign_${campaign}`],
    settings.RECIPIENTS,
  );

  // 6. Flash sale
  if (settings.FLASH_RECIPIENTS > 0) {
    const redis = await connectRedis(config.redisUrl, 'bench-flash-memory');
    try {
      report.flash = await flashSalePhase(
        {
          client,
          orm,
          inAppQueue: service.queues.queue('in_app'),
          seed: (prefix, count, role) => seedRecipients(orm, prefix, count, role),
          redisUsedMemory: async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0),
          log,
          checkAborted,
        },
        {
          recipients: settings.FLASH_RECIPIENTS,
          leadSeconds: settings.FLASH_LEAD_SECONDS,
          timeoutSeconds: settings.FLASH_TIMEOUT_SECONDS,
        },
        RUN,
      );
    } finally {
      redis.disconnect();
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Phases

async function startFloorWorker(
  config: Config,
  taskQueue: string,
): Promise<{ client: Client; stop(): Promise<void> }> {
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  let worker: Worker;
  try {
    worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue,
      workflowsPath: require.resolve('./workflows/empty-workflow'),
      // The floor pays for payload encryption as the service does (PAYLOAD_ENCRYPTION_KEYS).
      dataConverter: temporalDataConverter(config.temporal),
    });
  } catch (err) {
    await connection.close();
    throw err;
  }
  const running = worker.run();
  running.catch(() => undefined); // awaited by stop(); a worker failing earlier must not end the process uncleaned
  let stopped = false;
  return {
    // On the floor worker's own connection, so the empty workflow starts eagerly like the events do.
    client: new Client({
      connection,
      namespace: config.temporal.namespace,
      dataConverter: temporalDataConverter(config.temporal),
    }),
    async stop() {
      if (stopped) return;
      stopped = true;
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

async function floorPhase(temporal: Client, taskQueue: string, settings: Settings): Promise<Throughput> {
  let n = 0;
  const once = async () => {
    await withTimeout(
      temporal.workflow.execute(emptyWorkflow, {
        taskQueue,
        workflowId: `bench-floor-${RUN}-${++n}`,
        workflowExecutionTimeout: '1 minute',
        requestEagerStart: true,
      }),
      60_000,
      'empty workflow',
    );
  };
  log(
    `floor: warm-up (${settings.CONCURRENCY} workflows), then ${settings.FLOOR_COUNT ? `${settings.FLOOR_COUNT} workflows` : `${settings.FLOOR_SECONDS} s (and ${2 * settings.CONCURRENCY} workflows)`} measured`,
  );
  const result = await closedLoop(
    settings.CONCURRENCY,
    settings.CONCURRENCY,
    windowOf(settings.FLOOR_COUNT, settings.FLOOR_SECONDS, settings.CONCURRENCY),
    once,
  );
  log(`floor: ${result.perSecond.toFixed(1)} workflows/s`);
  return result;
}

const EVENT_USER_PREFIX = `be-${RUN}-u`;

function orderCreated(eventId: string, userId: string, orderNumber: string) {
  return {
    id: eventId,
    type: 'ORDER_CREATED',
    occurredAt: new Date().toISOString(),
    userId,
    data: { orderNumber, total: 1499, currency: 'INR' },
    options: { actionUrl: `/profile/orders/${orderNumber}` },
  };
}

let events = 0;
const eventIdOf = (n: number) => `bench-${RUN}-e${n}`;

/** Publishes ORDER_CREATED number n (to recipient n of the pool, round robin); returns its event id. */
async function publish(client: NotificationClient, n: number): Promise<string> {
  const eventId = eventIdOf(n);
  const published = await client.publishEvent(
    orderCreated(eventId, `${EVENT_USER_PREFIX}${n % EVENT_RECIPIENTS}`, `B-${RUN}-${n}`),
  );
  if (!published.started) throw new Error(`event ${eventId} was not started (duplicate id?)`);
  return eventId;
}

/** Awaits the event's outcome; the number of its notifications that did not end delivered. */
async function undeliveredOf(client: NotificationClient, eventId: string): Promise<number> {
  const result = await withTimeout(client.eventResult(eventId), EVENT_TIMEOUT_MS, `eventResult(${eventId})`);
  if (result.notifications.length === 0) return 1;
  return result.notifications.filter((n) => n.state !== 'delivered').length;
}

async function eventPhase(
  client: NotificationClient,
  smtp: SmtpPeer,
  settings: Settings,
  measured: string[],
): Promise<NonNullable<Report['events']>> {
  let undelivered = 0;
  const emailsBefore = smtp.messages.length;
  const once = async () => {
    const eventId = await publish(client, ++events);
    undelivered += await undeliveredOf(client, eventId);
    return eventId;
  };
  log(
    `events: warm-up (${settings.CONCURRENCY} events), then ${settings.EVENT_COUNT ? `${settings.EVENT_COUNT} events` : `${settings.EVENT_SECONDS} s (and ${2 * settings.CONCURRENCY} events)`} measured`,
  );
  const result = await closedLoop(
    settings.CONCURRENCY,
    settings.CONCURRENCY,
    windowOf(settings.EVENT_COUNT, settings.EVENT_SECONDS, settings.CONCURRENCY),
    once,
    (eventId) => measured.push(eventId),
  );
  return { ...result, undelivered, emails: smtp.messages.length - emailsBefore };
}

async function pacedPhase(
  client: NotificationClient,
  orm: Orm,
  settings: Settings,
  rate: number,
): Promise<NonNullable<Report['paced']>> {
  if (!(rate > 0)) throw new Error('paced: no rate to pace at (no event finished in phase 2)');
  const count = Math.max(1, Math.round(rate * settings.PACED_SECONDS));
  const intervalMs = 1000 / rate;
  log(`paced: ${count} events at ${rate.toFixed(2)}/s`);
  /** Times (performance.now()) of one event: publish called, publish returned, row first seen, delivered first seen. */
  interface Seen {
    t0: number;
    published?: number;
    row?: number;
    visible?: number;
  }
  const seen = new Map<string, Seen>();
  const publishes: Promise<string | null>[] = [];
  const errors: unknown[] = [];
  let publishing = true;
  let lastPublish = Infinity;

  // One poller for every event in flight: one statement per 5 ms tick, whatever the rate. A row counts as seen at
  // the start of the statement that returned it: the error is at most one tick plus the statement's own time.
  const conn = orm.em.fork().getConnection();
  const poller = (async () => {
    for (;;) {
      checkAborted();
      const tick = performance.now();
      const open = [...seen.entries()].filter(([, s]) => s.visible === undefined).map(([id]) => id);
      if (!publishing && open.length === 0) return;
      if (tick > lastPublish + 60_000)
        throw new Error(`paced: ${open.length} event(s) not delivered in-app 60 s after the last publish`);
      if (open.length > 0) {
        const rows = await conn.execute<{ event_id: string; visible: boolean }[]>(
          `select event_id, delivered_at is not null as visible from notifications where event_id in (${open.map(() => '?').join(',')})`,
          open,
        );
        for (const row of rows) {
          const s = seen.get(row.event_id);
          if (!s) continue;
          s.row ??= tick;
          if (row.visible) s.visible ??= tick;
        }
      }
      await sleep(5 - (performance.now() - tick));
    }
  })();
  poller.catch(() => undefined); // awaited below; this only keeps an early failure from being reported as unhandled

  const start = performance.now();
  try {
    for (let i = 0; i < count; i++) {
      checkAborted();
      await sleep(start + i * intervalMs - performance.now());
      const n = ++events;
      const eventId = eventIdOf(n);
      const s: Seen = { t0: performance.now() };
      seen.set(eventId, s); // before the call: a row may show up before publishEvent returns
      publishes.push(
        publish(client, n).then(
          () => {
            s.published = performance.now();
            return eventId;
          },
          (err: unknown) => {
            seen.delete(eventId);
            errors.push(err);
            return null;
          },
        ),
      );
    }
    await Promise.all(publishes);
  } finally {
    lastPublish = performance.now();
    publishing = false;
  }
  const seconds = (lastPublish - start) / 1000;
  await poller;
  if (errors.length)
    throw new Error(`paced: ${errors.length} publish(es) failed, first: ${message(errors[0])}`);

  const ids = (await Promise.all(publishes)).filter((id): id is string => id !== null);
  let undelivered = 0;
  for (const id of ids) undelivered += await undeliveredOf(client, id);
  const all = [...seen.values()];
  return {
    rate,
    events: ids.length,
    seconds,
    publish: percentiles(all.map((s) => s.published! - s.t0)),
    row: percentiles(all.map((s) => s.row! - s.t0)),
    visible: percentiles(all.map((s) => s.visible! - s.t0)),
    undelivered,
  };
}

/** Returns the campaign id. */
async function campaignPhase(
  client: NotificationClient,
  orm: Orm,
  server: DevServer,
  settings: Settings,
  report: Report,
  stores: { redisUrl: string; databaseUrl: string },
): Promise<string> {
  const { redisUrl } = stores;
  const recipients = settings.RECIPIENTS;
  const role = `bench-${RUN}`;
  log(`campaign: seeding ${recipients} recipients with role ${role}`);
  await seedRecipients(orm, `bc-${RUN}-`, recipients, role);
  // Both contenders start on vacuumed tables: autovacuum after the seed, or after the pipeline's deleted rows,
  // would otherwise run during whichever goes next and charge it for the other's garbage.
  await vacuumTables(orm, ['recipients', 'consents', 'notifications']);
  report.baseline = await baselinePhase(settings, stores, `bc-${RUN}-`);
  await vacuumTables(orm, ['notifications']);

  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  let serverRssPeak: number | null = null;
  const selfSampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 50);
  let sampling = true;
  // Redis memory: the queues' share of it during the campaign (jobs carry ids only; fan-out is paced by queue depth).
  const redis = await connectRedis(redisUrl, 'bench-memory');
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
  const redisBefore = await usedMemory();
  let redisPeak = redisBefore;
  const serverSampler = (async () => {
    while (sampling) {
      const [rss, used] = await Promise.all([rssOf(server.process.pid), usedMemory()]);
      if (rss !== null) serverRssPeak = Math.max(serverRssPeak ?? 0, rss);
      redisPeak = Math.max(redisPeak, used);
      await sleep(250);
    }
  })();

  const conn = orm.em.fork().getConnection();
  const start = performance.now();
  const elapsed = () => (performance.now() - start) / 1000;
  const deadline = start + settings.CAMPAIGN_TIMEOUT_SECONDS * 1000;
  const c = {
    recipients,
    rowsSeconds: null as number | null,
    deliveredSeconds: null as number | null,
    finalSeconds: null as number | null,
    firstRowSeconds: null as number | null,
    resultSeconds: null as number | null,
    result: 'not resolved',
    rows: 0,
    delivered: 0,
    final: 0,
  };
  try {
    log(
      `campaign: scheduling (in_app only, ${recipients} recipients, timeout ${settings.CAMPAIGN_TIMEOUT_SECONDS} s)`,
    );
    const scheduled = await client.scheduleCampaign({
      name: `bench ${RUN}`,
      templateCode: 'marketing_announcement',
      segment: { roles: [role] },
      variables: { headline: 'Bench sale', message: 'Everything 20% off until Sunday.' },
      channels: ['in_app'],
    });
    const eventId = `campaign_${scheduled.campaignId}`;
    let resultError: unknown = null;
    void client.campaignResult(scheduled.campaignId).then(
      (progress) => {
        c.resultSeconds = elapsed();
        c.result = `${progress.state}, ${progress.started} started, ${progress.runs} run(s)`;
      },
      (err: unknown) => (resultError = err),
    );
    let lastLog = 0;
    for (;;) {
      checkAborted();
      if (resultError) throw new Error(`campaignResult failed: ${message(resultError)}`);
      const [row] = await conn.execute<{ rows: string; delivered: string; final: string }[]>(
        `select count(*) as rows,
                count(*) filter (where state = 'delivered' or delivered_at is not null) as delivered,
                count(*) filter (where state in ('delivered', 'partially_delivered', 'failed', 'cancelled', 'suppressed')) as final
           from notifications where event_id = ?`,
        [eventId],
      );
      const now = elapsed();
      c.rows = Number(row.rows);
      c.delivered = Number(row.delivered);
      c.final = Number(row.final);
      if (c.rows > 0) c.firstRowSeconds ??= now;
      if (c.rows >= recipients) c.rowsSeconds ??= now;
      if (c.delivered >= recipients) c.deliveredSeconds ??= now;
      if (c.final >= recipients) c.finalSeconds ??= now;
      if (c.deliveredSeconds !== null && c.finalSeconds !== null && c.resultSeconds !== null) break;
      if (now - lastLog >= 10) {
        lastLog = now;
        log(
          `campaign: ${now.toFixed(0)} s: ${c.rows} rows, ${c.delivered} delivered, ${c.final} final, result: ${c.result}`,
        );
      }
      if (performance.now() > deadline) {
        throw new Error(
          `campaign not done within CAMPAIGN_TIMEOUT_SECONDS=${settings.CAMPAIGN_TIMEOUT_SECONDS}: ${c.rows} rows, ${c.delivered} delivered, ` +
            `${c.final} final of ${recipients}; campaignResult ${c.result}`,
        );
      }
      await sleep(100);
    }
    log(`campaign: done in ${c.deliveredSeconds?.toFixed(1)} s`);
    return scheduled.campaignId;
  } finally {
    clearInterval(selfSampler);
    sampling = false;
    await serverSampler;
    redis.disconnect();
    report.campaign = { ...c, rssBefore, rssPeak, serverRssPeak, redisBefore, redisPeak };
  }
}

/** The BullMQ-only comparison pipeline, for the campaign's recipients (its rows are removed afterwards). */
async function baselinePhase(
  settings: Settings,
  stores: { redisUrl: string; databaseUrl: string },
  recipientPrefix: string,
): Promise<NonNullable<Report['baseline']>> {
  log(
    `BullMQ-only pipeline: ${settings.RECIPIENTS} jobs, ${settings.BASELINE_CONCURRENCY} concurrent, pool ${settings.BASELINE_POOL}`,
  );
  const redis = await connectRedis(stores.redisUrl, 'bench-bullmq-only');
  try {
    const result = await runBullmqOnlyPipeline({
      databaseUrl: stores.databaseUrl,
      poolMax: settings.BASELINE_POOL,
      connection: redis,
      prefix: QUEUE_PREFIX,
      recipientPrefix,
      rows: settings.RECIPIENTS,
      concurrency: settings.BASELINE_CONCURRENCY,
      timeoutMs: settings.CAMPAIGN_TIMEOUT_SECONDS * 1000,
    });
    log(`BullMQ-only pipeline: ${result.perSecond.toFixed(0)} rows/s`);
    return result;
  } finally {
    redis.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Temporal cost, from the histories of every execution (every run) carrying the event ids

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;

async function temporalCost(temporal: Client, eventIds: string[], notifications: number): Promise<Cost> {
  const query = `NotificationEventId IN (${eventIds.map((id) => `'${id}'`).join(', ')})`;
  const running = await settle(temporal, query);
  const executions: { workflowId: string; runId: string; type: string }[] = [];
  for await (const e of temporal.workflow.list({ query, pageSize: PAGE }))
    executions.push({ workflowId: e.workflowId, runId: e.runId, type: e.type });
  const cost: Cost = {
    notifications,
    executions: executions.length,
    running,
    byType: new Map(),
    workflowTasks: 0,
    activityTasks: 0,
    localActivities: 0,
    historyEvents: 0,
    signals: 0,
    updates: 0,
    childrenStarted: 0,
  };
  for (const e of executions) cost.byType.set(e.type, (cost.byType.get(e.type) ?? 0) + 1);
  let next = 0;
  const lane = async () => {
    while (next < executions.length) {
      checkAborted();
      const { workflowId, runId } = executions[next++];
      tally(cost, await temporal.workflow.getHandle(workflowId, runId).fetchHistory());
    }
  };
  await Promise.all(Array.from({ length: 16 }, lane));
  return cost;
}

function tally(cost: Cost, history: History): void {
  for (const e of history.events ?? []) {
    cost.historyEvents++;
    if (e.workflowTaskScheduledEventAttributes) cost.workflowTasks++;
    if (e.activityTaskScheduledEventAttributes) cost.activityTasks++;
    if (e.markerRecordedEventAttributes?.markerName === 'core_local_activity') cost.localActivities++;
    if (e.workflowExecutionSignaledEventAttributes) cost.signals++;
    if (e.workflowExecutionUpdateAcceptedEventAttributes) cost.updates++;
    if (e.childWorkflowExecutionStartedEventAttributes) cost.childrenStarted++;
  }
}

/**
 * Waits (up to 30 s) until visibility lists no running execution for the query and the same total twice:
 * visibility is eventually consistent. Returns the executions still running (0 unless it gave up).
 */
async function settle(temporal: Client, query: string): Promise<number> {
  const deadline = performance.now() + 30_000;
  let previous = -1;
  for (;;) {
    checkAborted();
    const total = await countOf(temporal, query);
    const running = await countOf(temporal, `(${query}) AND ExecutionStatus = 'Running'`);
    if (total > 0 && running === 0 && total === previous) return 0;
    if (performance.now() > deadline) {
      log(`histories: ${running} execution(s) still running after 30 s; counting them as they are`);
      return running;
    }
    previous = running === 0 ? total : -1;
    await sleep(300);
  }
}

async function countOf(temporal: Client, query: string): Promise<number> {
  try {
    return (await temporal.workflow.count(query)).count;
  } catch {
    let n = 0;
    for await (const _ of temporal.workflow.list({ query, pageSize: PAGE })) n++;
    return n;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Output

function printReport(r: Report): void {
  const s = r.settings;
  const cpu = cpus();
  const lines: string[] = [];
  const out = (line = '') => lines.push(line);
  out();
  out(
    'end-to-end throughput: service + Temporal dev server (SQLite file) + Postgres + Redis + SMTP, one process',
  );
  out(
    `machine   ${cpu[0]?.model.trim() ?? '?'} x ${cpu.length}, ${gib(totalmem())} GiB RAM, node ${process.version}, ${platform()} ${release()} ${arch()}`,
  );
  out(
    `settings  concurrency ${s.CONCURRENCY}, floor ${s.FLOOR_COUNT ? `${s.FLOOR_COUNT} workflows` : `>= ${s.FLOOR_SECONDS} s`}, ` +
      `events ${s.EVENT_COUNT ? `${s.EVENT_COUNT}` : `>= ${s.EVENT_SECONDS} s`}, paced ${s.PACED_SECONDS} s, ` +
      `campaign ${s.RECIPIENTS} recipients, history sample ${s.HISTORY_SAMPLE}`,
  );
  if (r.channels) out(`channels  ${r.channels}`);
  out(
    `load      1-min load average ${r.loadBefore.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end (${cpu.length} cpus: anything else running skews every figure)`,
  );
  out();
  const row = (label: string, value: string, note = '') =>
    out(`${label.padEnd(58)} ${value.padStart(14)}  ${note}`.trimEnd());
  const dash = '-';

  out(`1. floor: empty workflow, start + result, ${s.CONCURRENCY} in flight`);
  row(
    '   workflows/s',
    r.floor ? r.floor.perSecond.toFixed(1) : dash,
    r.floor ? `${r.floor.done} in the ${r.floor.seconds.toFixed(1)} s window` : '',
  );
  if (r.floorCpu)
    row(
      '   CPU ms per workflow: Temporal server / this process / rest',
      cpuText(r.floorCpu),
      `machine ${r.floorCpu.busyPercent.toFixed(0)} % busy`,
    );
  if (r.floor)
    row(
      '   start -> result, ms (p50 / p99)',
      `${ms(r.floor.latency.p50)} / ${ms(r.floor.latency.p99)}`,
      `max ${ms(r.floor.latency.max)}`,
    );
  out(`2. ORDER_CREATED, 1 recipient, in_app + email, until eventResult, ${s.CONCURRENCY} in flight`);
  if (r.events) {
    row(
      '   events/s',
      r.events.perSecond.toFixed(1),
      `${r.events.done} in the ${r.events.seconds.toFixed(1)} s window`,
    );
    if (r.eventsCpu)
      row(
        '   CPU ms per event: Temporal server / this process / rest',
        cpuText(r.eventsCpu),
        `machine ${r.eventsCpu.busyPercent.toFixed(0)} % busy`,
      );
    row(
      '   ratio to the floor (events/s / workflows/s)',
      r.floor ? (r.events.perSecond / r.floor.perSecond).toFixed(3) : dash,
      r.floor ? `the floor is ${(r.floor.perSecond / r.events.perSecond).toFixed(1)} x faster` : '',
    );
    row(
      '   publish -> eventResult, ms (p50 / p99)',
      `${ms(r.events.latency.p50)} / ${ms(r.events.latency.p99)}`,
      `max ${ms(r.events.latency.max)}`,
    );
    row(
      '   events run / not delivered / emails received',
      `${r.events.total} / ${r.events.undelivered} / ${r.events.emails}`,
      'warm-up, window and drain',
    );
  } else row('   events/s', dash);
  out(
    `3. paced at half of (2)${r.paced ? `: ${r.paced.rate.toFixed(2)} events/s, ${r.paced.events} events in ${r.paced.seconds.toFixed(1)} s` : ''} (ms, p50 / p99 / max)`,
  );
  const pct = (p?: Percentiles) => (p ? `${ms(p.p50)} / ${ms(p.p99)}` : dash);
  row('   publishEvent call returns', pct(r.paced?.publish), r.paced ? `max ${ms(r.paced.publish.max)}` : '');
  row(
    '   publish -> notifications row exists',
    pct(r.paced?.row),
    r.paced ? `max ${ms(r.paced.row.max)}` : '',
  );
  row(
    '   publish -> in-app delivered (delivered_at set)',
    pct(r.paced?.visible),
    r.paced ? `max ${ms(r.paced.visible.max)}` : '',
  );
  if (r.paced?.undelivered) row('   not delivered', String(r.paced.undelivered));
  const c = r.campaign;
  out(
    `4. campaign, in_app only, ${c?.recipients ?? s.RECIPIENTS} recipients (seconds from scheduleCampaign)`,
  );
  if (c) {
    const rate = (sec: number | null, n: number) =>
      sec === null ? `${n} of ${c.recipients}` : `${(c.recipients / sec).toFixed(1)}/s`;
    const at = (sec: number | null) => (sec === null ? 'not reached' : `after ${sec.toFixed(1)} s`);
    row(
      '   first notifications row',
      c.firstRowSeconds === null ? dash : `${c.firstRowSeconds.toFixed(2)} s`,
    );
    row('   recipients/s, all rows exist (enqueued)', rate(c.rowsSeconds, c.rows), at(c.rowsSeconds));
    row(
      '   recipients/s, all in-app delivered',
      rate(c.deliveredSeconds, c.delivered),
      at(c.deliveredSeconds),
    );
    row('   recipients/s, all rows in a final state', rate(c.finalSeconds, c.final), at(c.finalSeconds));
    const b = r.baseline;
    row(
      '   BullMQ-only pipeline, rows/s (same recipients)',
      b ? `${b.perSecond.toFixed(1)}/s` : dash,
      b
        ? `${b.rows} rows in ${b.seconds.toFixed(1)} s, ${s.BASELINE_CONCURRENCY} concurrent, pool ${s.BASELINE_POOL}`
        : '',
    );
    row(
      '   campaign in-app delivered / BullMQ-only',
      b && c.deliveredSeconds !== null
        ? `${(c.recipients / c.deliveredSeconds / b.perSecond).toFixed(2)} x`
        : dash,
      'target >= 2 x',
    );
    row(
      '   campaignResult resolved',
      c.resultSeconds === null ? dash : `${c.resultSeconds.toFixed(1)} s`,
      c.result,
    );
    row(
      '   peak RSS of this process',
      `${mib(c.rssPeak)} MiB`,
      `${mib(c.rssBefore)} MiB before the campaign`,
    );
    if (r.rssWithoutService)
      row(
        '   of which the service and floor worker (peak minus before)',
        `${mib(c.rssPeak - r.rssWithoutService)} MiB`,
        `${mib(r.rssWithoutService)} MiB without it`,
      );
    row(
      '   peak RSS of the Temporal dev server',
      c.serverRssPeak === null ? dash : `${mib(c.serverRssPeak)} MiB`,
    );
    row(
      '   Redis used_memory growth at peak',
      `${mib(c.redisPeak - c.redisBefore)} MiB`,
      `${((c.redisPeak - c.redisBefore) / r.settings.RECIPIENTS).toFixed(0)} bytes per recipient at the peak`,
    );
  } else row('   recipients/s', dash);
  out('5. Temporal cost, from the histories of every execution (every run) by NotificationEventId');
  const e = r.eventCost;
  const k = r.campaignCost;
  out(`${''.padEnd(35)} ${'per notification'.padStart(18)} ${'per campaign'.padStart(14)}`);
  out(`${''.padEnd(35)} ${'(ORDER_CREATED)'.padStart(18)} ${'recipient'.padStart(14)}`);
  const per = (cost: Cost | undefined, pick: (c: Cost) => number, digits: number) =>
    cost ? (pick(cost) / cost.notifications).toFixed(digits) : dash;
  const costRow = (label: string, pick: (c: Cost) => number) =>
    out(`   ${label.padEnd(32)} ${per(e, pick, 1).padStart(18)} ${per(k, pick, 4).padStart(14)}`);
  costRow('workflow executions (runs)', (x) => x.executions);
  costRow('workflow tasks', (x) => x.workflowTasks);
  costRow('activity tasks', (x) => x.activityTasks);
  costRow('local activities', (x) => x.localActivities);
  costRow('signals', (x) => x.signals);
  costRow('updates', (x) => x.updates);
  costRow('child workflows started', (x) => x.childrenStarted);
  costRow('history events', (x) => x.historyEvents);
  const types = (x: Cost) =>
    [...x.byType].map(([t, n]) => `${t} ${n}`).join(', ') + (x.running ? `; ${x.running} still running` : '');
  if (e) out(`   sample: ${e.notifications} events, ${e.executions} executions (${types(e)})`);
  if (k) out(`   campaign: ${k.notifications} recipients, ${k.executions} executions (${types(k)})`);
  if (s.FLASH_RECIPIENTS > 0) {
    out(
      `6. flash sale: in_app campaign to ${s.FLASH_RECIPIENTS} recipients staged ${s.FLASH_LEAD_SECONDS} s ahead, lateness against its scheduled time`,
    );
    flashSaleLines(r.flash, row);
  }
  out();
  process.stdout.write(lines.join('\n') + '\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

let aborted = false;
let abort!: (err: Error) => void;
const abortion = new Promise<never>((_, reject) => (abort = reject));
abortion.catch(() => undefined);

function checkAborted(): void {
  if (aborted) throw new Error('interrupted');
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string, abortable = true): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>(
    (_, reject) =>
      (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms)),
  );
  return Promise.race([promise, timeout, ...(abortable ? [abortion] : [])]).finally(() =>
    clearTimeout(timer),
  );
}

function valueOf<T>(result: PromiseSettledResult<T>): T {
  if (result.status === 'rejected') throw result.reason;
  return result.value;
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

type Window = { count: number } | { seconds: number; atLeast: number };

/** `count` ops if set, else `seconds` and at least two rounds of every lane (see closedLoop). */
function windowOf(count: number, seconds: number, concurrency: number): Window {
  return count > 0 ? { count } : { seconds, atLeast: 2 * concurrency };
}

/**
 * A closed loop: `concurrency` lanes each run `op` one after another, without pause. The first `warmup` ops to finish
 * are not measured; the window opens when the last of them finishes (lanes keep running: no ramp-up inside it). It
 * closes with the op that makes `count`, or, by time, with the first op to finish once `seconds` passed and
 * `atLeast` ops finished in it (a window shorter than two rounds of the lanes measures where their bursts fall, not
 * the rate), but at 4 x `seconds` at the latest. Ops still in flight then finish (the drain) but do not count.
 * Rate = ops finished inside the window / its length.
 */
async function closedLoop<T>(
  concurrency: number,
  warmup: number,
  window: Window,
  op: () => Promise<T>,
  onMeasured: (value: T) => void = () => undefined,
): Promise<Throughput> {
  let phase: 'warmup' | 'window' | 'drain' = warmup > 0 ? 'warmup' : 'window';
  let windowStart = performance.now();
  let windowEnd = 0;
  let warmed = 0;
  let total = 0;
  let failed = false;
  const latencies: number[] = [];
  const closes = (t: number): boolean => {
    if ('count' in window) return latencies.length >= window.count;
    const open = t - windowStart;
    return (
      (open >= window.seconds * 1000 && latencies.length >= window.atLeast) ||
      open >= 4 * window.seconds * 1000
    );
  };
  const lane = async () => {
    while (!failed && phase !== 'drain') {
      checkAborted();
      const t0 = performance.now();
      let value: T;
      try {
        value = await op();
      } catch (err) {
        failed = true;
        throw err;
      }
      const t1 = performance.now();
      total++;
      if (phase === 'warmup') {
        if (++warmed >= warmup) {
          phase = 'window';
          windowStart = t1;
        }
      } else if (phase === 'window') {
        latencies.push(t1 - t0);
        onMeasured(value);
        if (closes(t1)) {
          phase = 'drain';
          windowEnd = t1;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const seconds = (windowEnd - windowStart) / 1000;
  return {
    done: latencies.length,
    seconds,
    perSecond: latencies.length / seconds,
    latency: percentiles(latencies),
    total,
  };
}

function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN };
}

function pickEvenly<T>(items: T[], n: number): T[] {
  if (items.length <= n) return [...items];
  return Array.from({ length: n }, (_, i) => items[Math.floor(((i + 0.5) * items.length) / n)]);
}

/** Recipients `<prefix><i>` for i in 0..count-1, with an email address and a marketing opt-in, set-based. */
async function seedRecipients(orm: Orm, prefix: string, count: number, role: string | null): Promise<void> {
  await orm.em
    .fork()
    .getConnection()
    .execute(
      `insert into recipients (id, email, timezone, locale, roles, muted, created_at, updated_at)
     select ? || g, ? || g || '@example.test', 'UTC', 'en', ?::text[], false, now(), now()
       from generate_series(0, ? - 1) g`,
      [prefix, prefix, role ? `{${role}}` : '{}', count], // a role is [a-z0-9_-]: safe in an array literal
    );
  // Marketing needs an opt-in (docs/consent.md): the campaign scenario's recipients have one, as an import gives.
  await orm.em
    .fork()
    .getConnection()
    .execute(
      `insert into consents (recipient_id, category, granted, at, source)
     select ? || g, 'marketing', true, now(), 'import' from generate_series(0, ? - 1) g`,
      [prefix, count],
    );
}

async function vacuumTables(orm: Orm, tables: string[]): Promise<void> {
  const conn = orm.em.fork().getConnection();
  for (const table of tables) await conn.execute(`vacuum analyze ${table}`);
}

async function rssOf(pid: number | undefined): Promise<number | null> {
  if (!pid) return null;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return kb ? Number(kb[1]) * 1024 : null;
  } catch {
    return null;
  }
}

async function deleteRedisKeys(redisUrl: string): Promise<void> {
  const redis = await connectRedis(redisUrl, 'bench-e2e-cleanup');
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${QUEUE_PREFIX}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

function readSettings(): Settings {
  const settings = { ...SETTINGS };
  const names = Object.keys(SETTINGS) as (keyof Settings)[];
  const kebab = (name: string) => name.toLowerCase().replace(/_/g, '-');
  const args = new Map<string, string>();
  for (const arg of process.argv.slice(2)) {
    const m = /^--([a-z-]+)=(.*)$/.exec(arg);
    const name = m && names.find((n) => kebab(n) === m[1]);
    if (!m || !name)
      throw new Error(`unknown argument "${arg}"; known: ${names.map((n) => `--${kebab(n)}=N`).join(' ')}`);
    args.set(name, m[2]);
  }
  for (const name of names) {
    const raw = args.get(name) ?? process.env[name];
    if (raw === undefined || raw.trim() === '') continue;
    const value = Number(raw);
    const mayBeZero = name.endsWith('_COUNT') || name === 'FLASH_RECIPIENTS';
    if (
      !Number.isFinite(value) ||
      value < 0 ||
      (!mayBeZero && value === 0) ||
      (!name.endsWith('_SECONDS') && !Number.isInteger(value))
    ) {
      throw new Error(
        `${name} must be a ${mayBeZero ? 'non-negative' : 'positive'} ${name.endsWith('_SECONDS') ? 'number' : 'integer'}, got "${raw}"`,
      );
    }
    settings[name] = value;
  }
  return settings;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(1);
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const ms = (value: number) => (Number.isNaN(value) ? '-' : value.toFixed(value < 10 ? 1 : 0));

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`error: ${message(err)}`);
    process.exit(1);
  },
);

// ---------------------------------------------------------------------------------------------------------------
// CPU accounting: what one operation costs the Temporal server, this process (workers, SMTP peer, bench) and the
// rest of the machine (Postgres, Redis), from /proc: shows what bounds a phase on a machine whose cores are busy.

interface CpuSnapshot {
  serverMs: number;
  selfMs: number;
  busyMs: number;
  totalMs: number;
}

interface CpuPerOperation {
  serverMs: number;
  selfMs: number;
  restMs: number;
  busyPercent: number;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

async function cpuSnapshot(serverPid: number | undefined): Promise<CpuSnapshot> {
  const [stat, server] = await Promise.all([
    readFile('/proc/stat', 'utf8'),
    serverPid ? readFile(`/proc/${serverPid}/stat`, 'utf8').catch(() => '') : '',
  ]);
  const fields = stat.split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = fields[3] + (fields[4] ?? 0);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const after = server ? server.slice(server.lastIndexOf(')') + 2).split(' ') : [];
  const serverTicks = after.length > 12 ? Number(after[11]) + Number(after[12]) : 0;
  const self = process.cpuUsage();
  return {
    serverMs: serverTicks * TICK_MS,
    selfMs: (self.user + self.system) / 1000,
    busyMs: (total - idle) * TICK_MS,
    totalMs: total * TICK_MS,
  };
}

async function cpuPerOperation(
  before: CpuSnapshot,
  serverPid: number | undefined,
  operations: number,
): Promise<CpuPerOperation | undefined> {
  if (operations <= 0) return undefined;
  const after = await cpuSnapshot(serverPid);
  const serverMs = after.serverMs - before.serverMs;
  const selfMs = after.selfMs - before.selfMs;
  const busyMs = after.busyMs - before.busyMs;
  return {
    serverMs: serverMs / operations,
    selfMs: selfMs / operations,
    restMs: Math.max(0, busyMs - serverMs - selfMs) / operations,
    busyPercent: (100 * busyMs) / Math.max(1, after.totalMs - before.totalMs),
  };
}

function cpuText(c: CpuPerOperation): string {
  return `${c.serverMs.toFixed(1)} / ${c.selfMs.toFixed(1)} / ${c.restMs.toFixed(1)}`;
}

/**
 * Email throughput of 1, then 2 channel-worker processes (`src/bin/worker.ts --channels=email`, real child
 * processes through tools/register-ts.js) draining the same queue into one SMTP server:
 *
 *   npm run bench:channel-workers                        (BENCH_JOBS=1000 jobs per run by default)
 *   BENCH_JOBS=2000 BENCH_PROCESSES=1,2,3 npm run bench:channel-workers
 *
 * Each run: BENCH_JOBS notifications of the lean event path are inserted (one per event, email queued) and their
 * send jobs enqueued directly into a paused queue (no API, no workflows: bench/bench-rows.ts); the worker
 * processes start and report that they consume; the queue resumes and the clock runs until every notification
 * is `delivered` in Postgres. Each worker runs as in production (send records, attempt rows, the outcome in
 * the row, one wake-up signal per closed event to Temporal, which answers "not found": no workflow waits
 * here), with SEND_EMAIL_CONCURRENCY (default 5) and the email rate limiter off.
 *
 * Everything is its own and removed afterwards: a Temporal dev server (the workers connect to one), a database
 * `notifications_bench_workers_<pid>` next to DATABASE_URL's (created, migrated, dropped), a Redis key prefix,
 * an SMTP server (smtp-server) in this process.
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadConfig, type Config } from '../src/config';
import { queueNameFor, sendJobId } from '../src/domain/channels';
import { bullmqPriority } from '../src/domain/priorities';
import { migrate, openOrm, type Orm } from '../src/db/orm';
import { dropDatabase, recreateProcessDatabase } from '../src/db/process-database';
import type { SendJobData } from '../src/delivery/send-queues';
import { queuePrefixFor } from '../src/delivery/queue-keys';
import { connectRedis } from '../src/runtime/connections';
import { startDevServer } from '../src/temporal/dev-server';
import { resolveTemporalCli } from '../src/temporal/temporal-cli';
import { childEnvFor, NodeProcess } from '../test/helpers/node-process';
import { SmtpPeer } from '../test/helpers/smtp-peer';
import { insertNotifications, seedRecipient } from './bench-rows';

const JOBS = Number(process.env.BENCH_JOBS ?? 1000);
const PROCESSES = (process.env.BENCH_PROCESSES ?? '1,2').split(',').map(Number);
const CONCURRENCY = process.env.SEND_EMAIL_CONCURRENCY ?? '5';
const RUN = randomBytes(3).toString('hex');
const RECIPIENT = `u_bench_${RUN}`;
const PREFIX = `{bench-workers-${RUN}}`;
const DATABASE_PREFIX = 'notifications_bench_workers_';
const DRAIN_TIMEOUT_MS = 600_000;

interface Stack {
  config: Config;
  orm: Orm;
  redis: Redis;
  smtp: SmtpPeer;
}

interface RunResult {
  processes: number;
  seconds: number;
  perSecond: number;
  smtpAccepted: number;
}

type Cleanup = (() => Promise<unknown>)[];

async function main(): Promise<void> {
  const load = loadavg();
  const cleanup: Cleanup = [];
  try {
    const stack = await startStack(cleanup);
    printHeader(load);
    const results: RunResult[] = [];
    for (const processes of PROCESSES) results.push(await run(stack, processes));
    printResults(results, load);
  } finally {
    for (const step of cleanup.reverse()) await step().catch((err: unknown) => console.error(err));
  }
}

/** The dev server, the database, Redis and the SMTP server, each with its cleanup registered. */
async function startStack(cleanup: Cleanup): Promise<Stack> {
  const adminUrl = process.env.DATABASE_URL ?? loadConfig({}).databaseUrl;
  const cliPath = await resolveTemporalCli(process.env, (line) => console.error(line));
  const server = await startDevServer({ cliPath, output: 'ignore' });
  cleanup.push(() => server.stop());
  const database = await recreateProcessDatabase(adminUrl, DATABASE_PREFIX);
  cleanup.push(() => dropDatabase(adminUrl, database));
  const smtp = await new SmtpPeer().start();
  cleanup.push(() => smtp.stop());
  const databaseUrl = new URL(adminUrl);
  databaseUrl.pathname = `/${database}`;
  const config = loadConfig({
    ...process.env,
    TEMPORAL_ADDRESS: server.address,
    DATABASE_URL: databaseUrl.toString(),
    QUEUE_PREFIX: PREFIX,
    SMTP_URL: smtp.url,
  });
  const orm = await openOrm(config.databaseUrl, { poolMax: 4 });
  cleanup.push(() => orm.close());
  await migrate(orm);
  await seedRecipient(orm, RECIPIENT);
  const redis = (await connectRedis(config.redisUrl, 'bench-workers')) as Redis;
  cleanup.push(() => removeKeys(redis));
  return { config, orm, redis, smtp };
}

/** Enqueues JOBS send jobs into the paused queue, starts the worker processes, times the drain. */
async function run(stack: Stack, processes: number): Promise<RunResult> {
  const tag = `${RUN}-${processes}`;
  // The queue the worker processes consume, in their key layout (REDIS_KEY_LAYOUT, default spread).
  const prefix = queuePrefixFor(PREFIX, stack.config.redisKeyLayout, 'email');
  const queue = new Queue<SendJobData>(queueNameFor('email'), { connection: stack.redis, prefix });
  await queue.pause();
  await enqueue(
    queue,
    await insertNotifications(stack.orm, { tag, recipientId: RECIPIENT, count: JOBS, lean: 'email' }),
  );
  const accepted = stack.smtp.messages.length;
  const env = childEnvFor(stack.config, {
    SEND_EMAIL_CONCURRENCY: CONCURRENCY,
    SEND_EMAIL_RATE_MAX: '0',
  });
  const workers = await Promise.all(
    Array.from({ length: processes }, () => NodeProcess.worker('email', env, 120_000)),
  );
  try {
    const started = process.hrtime.bigint();
    await queue.resume();
    await waitUntilDelivered(stack.orm, tag);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      processes,
      seconds,
      perSecond: JOBS / seconds,
      smtpAccepted: stack.smtp.messages.length - accepted,
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

async function enqueue(queue: Queue<SendJobData>, ids: string[]): Promise<void> {
  await queue.addBulk(
    ids.map((notificationId) => ({
      name: 'send email',
      data: { notificationId, channel: 'email', userId: RECIPIENT },
      opts: {
        jobId: sendJobId(notificationId, 'email'),
        priority: bullmqPriority('normal'),
        attempts: 3,
        removeOnComplete: true,
      },
    })),
  );
}

/** Polls Postgres every 50 ms until all of the batch's notifications are delivered; throws on a failure or the deadline. */
async function waitUntilDelivered(orm: Orm, tag: string): Promise<void> {
  const conn = orm.em.fork().getConnection();
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    const [row] = await conn.execute(
      `select count(*) filter (where state = 'delivered') as delivered, count(*) filter (where state = 'failed') as failed
         from notifications where event_id like ?`,
      [`bench-${tag}-%`],
    );
    if (Number(row.failed) > 0) throw new Error(`${row.failed} notifications failed`);
    if (Number(row.delivered) >= JOBS) return;
    if (Date.now() > deadline)
      throw new Error(`${row.delivered} of ${JOBS} delivered after ${DRAIN_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function removeKeys(redis: Redis): Promise<void> {
  let cursor = '0';
  do {
    // `{bench-workers-<run>}:...` and `{bench-workers-<run>:send-email}:...` (either key layout).
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX.replace(/}$/, '')}*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
}

function printHeader(load: number[]): void {
  const cpu = cpus();
  console.log(
    `channel-worker processes, email: node ${process.version}, ${cpu.length} cpus (${cpu[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
  );
  console.log(`load average at the start: ${load.map((l) => l.toFixed(2)).join(' / ')} (1 / 5 / 15 min)`);
  console.log(
    `settings: ${JOBS} jobs per run, SEND_EMAIL_CONCURRENCY=${CONCURRENCY} per process, email rate limiter off, SMTP server, Postgres, Redis and the Temporal dev server on this machine\n`,
  );
  console.log('processes   jobs   seconds   deliveries/s   SMTP accepted');
}

function printResults(results: RunResult[], load: number[]): void {
  for (const r of results)
    console.log(
      `${String(r.processes).padStart(9)}  ${String(JOBS).padStart(5)}  ${r.seconds.toFixed(2).padStart(8)}  ${r.perSecond.toFixed(1).padStart(13)}  ${String(r.smtpAccepted).padStart(14)}`,
    );
  const base = results[0];
  for (const r of results.slice(1))
    console.log(
      `${r.processes} processes vs ${base.processes}: x${(r.perSecond / base.perSecond).toFixed(2)}`,
    );
  console.log(
    `load average at the end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' / ')} (at the start ${load[0].toFixed(2)})`,
  );
}

main().catch((err: unknown) => {
  console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});

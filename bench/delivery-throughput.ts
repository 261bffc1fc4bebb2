/**
 * Delivery throughput per channel with providers that answer at once, with the rate limiter on and off,
 * and the cost per job of the exactly-once check (the send record in Postgres).
 *
 *   npm run bench:delivery                 (BENCH_JOBS=2000 jobs per run by default)
 *
 * Uses its own database (`notifications_bench` next to DATABASE_URL's) and its own Redis key prefix,
 * removed afterwards. Stand-ins run in this process: a real SMTP server, HTTP servers for Twilio, the
 * push service and the webhook receiver. Outcome reports to Temporal are left out (a no-op reporter):
 * this measures the queue, the guard, Postgres bookkeeping and the provider adapters.
 */
import type { OutcomeRecorder } from '../src/state/outcome-recorder';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadConfig, type ChannelWorkerConfig } from '../src/config';
import { queueNameFor, sendJobId, type Channel } from '../src/domain/channels';
import { bullmqPriority } from '../src/domain/priorities';
import { migrate, openOrm, type Orm } from '../src/db/orm';
import { startChannelWorker, type ChannelWorkerOptions } from '../src/delivery/channel-worker';
import { InAppProvider } from '../src/delivery/providers/in-app-provider';
import type { ChannelProvider } from '../src/delivery/providers/provider';
import { SmtpEmailProvider } from '../src/delivery/providers/smtp-email-provider';
import { TwilioSmsProvider } from '../src/delivery/providers/twilio-sms-provider';
import { generateVapidKeys, WebPushProvider } from '../src/delivery/providers/web-push-provider';
import { WebhookProvider } from '../src/delivery/providers/webhook-provider';
import type { SendJobData } from '../src/delivery/send-queues';
import { SendRecordStore } from '../src/state/send-records';
import { connectRedis } from '../src/runtime/connections';
import {
  PushSubscriber,
  startPushServiceStandIn,
  startTwilioStandIn,
  startWebhookReceiver,
} from '../test/helpers/provider-stand-ins';
import { LOCAL_STAND_IN_POLICY } from '../test/helpers/provider-stand-ins';
import { SmtpPeer } from '../test/helpers/smtp-peer';
import { insertNotifications, seedRecipient } from './bench-rows';

const JOBS = Number(process.env.BENCH_JOBS ?? 2000);
const LIMITED_WINDOWS = 10;
const RUN = randomBytes(3).toString('hex');
const RECIPIENT = `u_bench_${RUN}`;

/** Claims nothing, checks nothing: the baseline the exactly-once guard is measured against. */
const NO_GUARD: ChannelWorkerOptions['sendRecords'] = {
  claim: async () => ({ claimed: true, token: 'none', takenOver: null }),
  markSent: async () => undefined,
  markUnknown: async () => undefined,
  isSent: async () => false,
  release: async () => undefined,
};

interface Bench {
  orm: Orm;
  redis: Redis;
  staleMs: number;
  providers: Record<Channel, ChannelProvider>;
  defaults: Record<Channel, ChannelWorkerConfig>;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const databaseUrl = new URL(config.databaseUrl);
  databaseUrl.pathname = '/notifications_bench';
  const orm = await openOrm(databaseUrl.toString(), { poolMax: 20 });
  await migrate(orm);
  const redis = (await connectRedis(config.redisUrl, 'bench')) as Redis;
  const [smtp, twilio, pushService, receiver] = await Promise.all([
    new SmtpPeer().start(),
    startTwilioStandIn(),
    startPushServiceStandIn(),
    startWebhookReceiver(),
  ]);
  const device = new PushSubscriber(`${pushService.url}/device`);
  await seedRecipient(orm, RECIPIENT, { webhookUrl: `${receiver.url}/hook`, device });

  const bench: Bench = {
    orm,
    redis,
    staleMs: config.sendRecordStaleMs,
    defaults: config.channels,
    providers: {
      in_app: new InAppProvider(orm, redis, `{bench-${RUN}}`),
      email: new SmtpEmailProvider({ url: smtp.url, from: 'Bench <bench@shop.local>' }),
      sms: new TwilioSmsProvider({
        baseUrl: twilio.url,
        accountSid: 'AC_bench',
        authToken: 'token',
        from: '+15005550001',
      }),
      // The stand-ins listen on http://127.0.0.1, which the default outbound policy refuses.
      push: new WebPushProvider({
        vapid: { subject: 'mailto:bench@shop.local', ...generateVapidKeys() },
        policy: LOCAL_STAND_IN_POLICY,
      }),
      webhook: new WebhookProvider({ secret: 'whsec_bench_0123456789', policy: LOCAL_STAND_IN_POLICY }),
    },
  };

  try {
    console.log(
      `delivery throughput, ${JOBS} jobs per run, node ${process.version}, ${cpus().length} cpus (${cpus()[0]?.model ?? '?'})`,
    );
    console.log(
      'stand-ins answer at once and run in this process; outcome reports to Temporal are not included\n',
    );
    console.log('channel  concurrency  limiter              jobs   seconds  jobs/s');
    for (const channel of ['in_app', 'email', 'sms', 'push', 'webhook'] as const) {
      const defaults = bench.defaults[channel];
      const off = await run(bench, channel, { ...defaults, rateLimit: null }, JOBS, 'guard');
      print(channel, defaults.concurrency, 'off', off);
      if (defaults.rateLimit) {
        // Ten windows of the configured limit: the limiter, not the provider, sets the pace (a window's jobs start at
        // once, so ten windows finish after nine durations: expect about 1.1 x the cap).
        const jobs = Math.min(JOBS, defaults.rateLimit.max * LIMITED_WINDOWS);
        const on = await run(bench, channel, defaults, jobs, 'guard');
        print(
          channel,
          defaults.concurrency,
          `${defaults.rateLimit.max}/${defaults.rateLimit.durationMs}ms`,
          on,
        );
      } else {
        console.log(
          `${channel.padEnd(8)} ${String(defaults.concurrency).padStart(11)}  (no limit configured)`,
        );
      }
    }

    console.log(
      '\nexactly-once check (send record claim + mark sent, Postgres), webhook channel, limiter off:',
    );
    const webhook = { ...bench.defaults.webhook, rateLimit: null };
    const guarded = await run(bench, 'webhook', webhook, JOBS, 'guard');
    const unguarded = await run(bench, 'webhook', webhook, JOBS, 'none');
    console.log(`  with the guard      ${guarded.perSecond.toFixed(0).padStart(6)} jobs/s`);
    console.log(`  without the guard   ${unguarded.perSecond.toFixed(0).padStart(6)} jobs/s`);
    console.log(
      `  cost per job at this throughput: ${(1000 / guarded.perSecond - 1000 / unguarded.perSecond).toFixed(3)} ms of wall time`,
    );
    const micro = await guardLatency(bench, 1000);
    console.log(
      `  claim + mark sent, one after another:        ${micro.firstSend.toFixed(3)} ms per job (2 statements)`,
    );
    console.log(
      `  duplicate check of an already sent message:  ${micro.duplicate.toFixed(3)} ms per job (2 statements)`,
    );
  } finally {
    await Promise.all(Object.values(bench.providers).map(async (p) => p.close?.()));
    await Promise.all([smtp.stop(), twilio.close(), pushService.close(), receiver.close()]);
    const keys = await redis.keys(`{bench-${RUN}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await orm.em
      .fork()
      .getConnection()
      .execute(`delete from notifications where recipient_id = ?`, [RECIPIENT]);
    await orm.em.fork().getConnection().execute(`delete from recipients where id = ?`, [RECIPIENT]);
    await orm.close();
  }
}

interface RunResult {
  jobs: number;
  seconds: number;
  perSecond: number;
  failed: number;
}

let runs = 0;

/** Enqueues `jobs` send jobs for fresh notifications, then times one channel worker draining them. */
async function run(
  bench: Bench,
  channel: Channel,
  config: ChannelWorkerConfig,
  jobs: number,
  guard: 'guard' | 'none',
): Promise<RunResult> {
  const prefix = `{bench-${RUN}-${++runs}}`;
  const ids = await insertBatch(bench.orm, jobs);
  const queue = new Queue<SendJobData>(queueNameFor(channel), { connection: bench.redis, prefix });
  await queue.addBulk(
    ids.map((notificationId) => ({
      name: `send ${channel}`,
      data: { notificationId, channel, workflowId: 'bench', userId: RECIPIENT },
      opts: {
        jobId: sendJobId(notificationId, channel),
        priority: bullmqPriority('normal'),
        attempts: 1,
        removeOnComplete: true,
      },
    })),
  );

  let done = 0;
  let failed = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const started = process.hrtime.bigint();
  const worker = startChannelWorker({
    channel,
    connection: bench.redis,
    prefix,
    config,
    orm: bench.orm,
    provider: bench.providers[channel],
    sendRecords: guard === 'guard' ? new SendRecordStore(bench.staleMs) : NO_GUARD,
    outcomes: { report: async () => undefined },
    recorder: { record: async () => undefined } as unknown as OutcomeRecorder,
    workerId: `bench:${process.pid}`,
  });
  const settle = () => {
    if (++done === jobs) finish();
  };
  worker.on('completed', settle);
  worker.on('failed', () => {
    failed++;
    settle();
  });
  await finished;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return { jobs, seconds, perSecond: jobs / seconds, failed };
}

/** Mean latency of the guard's statements, one job after another (no concurrency). */
async function guardLatency(bench: Bench, jobs: number): Promise<{ firstSend: number; duplicate: number }> {
  const store = new SendRecordStore(bench.staleMs);
  const ids = await insertBatch(bench.orm, jobs);
  const em = bench.orm.em.fork();
  let t = process.hrtime.bigint();
  for (const id of ids) {
    await store.claim(em, id, 'webhook', 'bench');
    await store.markSent(em, id, 'webhook', 'msg');
  }
  const firstSend = Number(process.hrtime.bigint() - t) / 1e6 / jobs;
  t = process.hrtime.bigint();
  for (const id of ids) await store.claim(em, id, 'webhook', 'bench');
  const duplicate = Number(process.hrtime.bigint() - t) / 1e6 / jobs;
  return { firstSend, duplicate };
}

let batches = 0;

function insertBatch(orm: Orm, count: number): Promise<string[]> {
  return insertNotifications(orm, { tag: `${RUN}-${++batches}`, recipientId: RECIPIENT, count });
}

function print(channel: Channel, concurrency: number, limiter: string, r: RunResult): void {
  const failed = r.failed ? `  (${r.failed} failed)` : '';
  console.log(
    `${channel.padEnd(8)} ${String(concurrency).padStart(11)}  ${limiter.padEnd(19)} ${String(r.jobs).padStart(5)}  ${r.seconds.toFixed(2).padStart(7)}  ${r.perSecond.toFixed(0).padStart(6)}${failed}`,
  );
}

main().catch((err: unknown) => {
  console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

/**
 * The comparison pipeline of issue 19's campaign target (bench/e2e-throughput.ts, phase 4b): a plain BullMQ
 * pipeline with none of the service in it. One job per in-app notification (job data: the recipient id), added with
 * addBulk, 50 concurrent workers in one Worker, no rate limiter; each job inserts its notifications row, delivered
 * (visible in the notification center), with the same rendered content a campaign row carries. No preferences,
 * consent, caps, quiet hours, send records or live feed: the floor a per-row BullMQ design starts from.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import { openOrm } from '../src/db/orm';

export interface BullmqOnlyOptions {
  databaseUrl: string;
  /** Postgres connections of the pipeline's own pool (its jobs share it). */
  poolMax: number;
  connection: ConnectionOptions;
  /** Redis key prefix of the benchmark's queues. */
  prefix: string;
  /** Recipient ids `<recipientPrefix><i>`, i in 0..rows-1: one notifications row each. */
  recipientPrefix: string;
  rows: number;
  concurrency: number;
  /** Gives up after this long. */
  timeoutMs: number;
}

export interface BullmqOnlyResult {
  rows: number;
  /** From the first addBulk until every row exists. */
  seconds: number;
  perSecond: number;
}

const ADD_CHUNK = 1000;
const CONTENT = {
  in_app: { title: 'Bench sale', body: 'Everything 20% off until Sunday.' },
};

/** Runs the pipeline once and removes its queue afterwards. */
export async function runBullmqOnlyPipeline(options: BullmqOnlyOptions): Promise<BullmqOnlyResult> {
  const name = `bullmq-only-${randomBytes(3).toString('hex')}`;
  const eventId = `bench-${name}`;
  const queue = new Queue<{ recipientId: string }>(name, {
    connection: options.connection,
    prefix: options.prefix,
  });
  const orm = await openOrm(options.databaseUrl, { poolMax: options.poolMax });
  const conn = orm.em.fork().getConnection();
  let inserted = 0;
  let failure: unknown = null;
  const worker = new Worker<{ recipientId: string }>(
    name,
    async (job) => {
      await conn.execute(
        `insert into notifications (event_id, recipient_id, template_code, category, priority, state, channels, workflow_id,
                                    title, body, content, channel_states, delivered_at, lifecycle)
         values (?, ?, 'marketing_announcement', 'marketing', 'normal', 'delivered', '["in_app"]', ?, ?, ?, ?::jsonb, ?::jsonb, now(), 2)`,
        [
          eventId,
          job.data.recipientId,
          name,
          CONTENT.in_app.title,
          CONTENT.in_app.body,
          JSON.stringify(CONTENT),
          JSON.stringify({ in_app: { state: 'delivered', attempts: 1 } }),
        ],
      );
      inserted++;
    },
    {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency,
      removeOnComplete: { count: 1000 },
    },
  );
  worker.on('failed', (_job, err) => (failure ??= err));
  try {
    const start = performance.now();
    for (let i = 0; i < options.rows; i += ADD_CHUNK) {
      const chunk = Array.from({ length: Math.min(ADD_CHUNK, options.rows - i) }, (_, k) => ({
        name: 'in_app',
        data: { recipientId: `${options.recipientPrefix}${i + k}` },
      }));
      await queue.addBulk(chunk);
    }
    const deadline = start + options.timeoutMs;
    while (inserted < options.rows) {
      if (failure) throw new Error(`BullMQ-only pipeline: a job failed: ${String(failure)}`);
      if (performance.now() > deadline)
        throw new Error(
          `BullMQ-only pipeline: ${inserted} of ${options.rows} rows after ${options.timeoutMs} ms`,
        );
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const seconds = (performance.now() - start) / 1000;
    return { rows: options.rows, seconds, perSecond: options.rows / seconds };
  } finally {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
    await conn.execute(`delete from notifications where event_id = ?`, [eventId]);
    await orm.close();
  }
}

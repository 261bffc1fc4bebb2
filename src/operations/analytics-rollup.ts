import type { EntityManager } from '@mikro-orm/postgresql';
import type { RedisConnection } from '../redis-connection';
import type { Orm } from '../db/orm';
import { startPeriodic, takeRoundLock, type Periodic } from './periodic';

/**
 * Analytics rollups (docs/analytics.md): first engagements (notification_engagement rows, one per
 * notification, channel and kind) become hourly counts in analytics_hourly per template code, campaign,
 * experiment, variant and channel. Each batch reads rows past the seq watermark and adds their counts
 * and moves the watermark in one transaction, so every row counts exactly once; reads of the
 * analytics API then never scan notifications.
 */

/** Counted kinds, the columns of analytics_hourly (docs/contracts.md, "Engagement"). */
export const ROLLUP_KINDS = [
  'sent',
  'delivered',
  'undelivered',
  'bounced',
  'complained',
  'opened',
  'clicked',
  'read',
  'converted',
] as const;

const DEFAULT_BATCH = 5000;
/** Batches per round at most; the next round goes on from the watermark. */
const MAX_BATCHES = 100;
/** How long the ceiling may wait for engagement writers in flight before the round is skipped. */
const CEILING_LOCK_TIMEOUT = '2s';

export interface RollupResult {
  /** Engagement rows added to the counts. */
  rows: number;
  /** The seq the counts now include (every row at or below it). */
  watermark: number;
}

/**
 * The highest seq of which every row is committed. A seq is taken while the writer holds its table
 * lock (ROW EXCLUSIVE); SHARE waits until every such writer finished, so no row at or below the
 * answer can still appear. The lock is held only for this one read, never across the rollup.
 */
async function committedCeiling(em: EntityManager): Promise<number> {
  return em.transactional(async (tx) => {
    const ctx = tx.getTransactionContext();
    const conn = tx.getConnection();
    await conn.execute(`set local lock_timeout = '${CEILING_LOCK_TIMEOUT}'`, [], 'run', ctx);
    await conn.execute(`lock table notification_engagement in share mode`, [], 'run', ctx);
    const [row] = await conn.execute<{ max: string | null }[]>(
      `select max(seq) as max from notification_engagement`,
      [],
      'all',
      ctx,
    );
    return Number(row.max ?? 0);
  });
}

const counts = ROLLUP_KINDS.map((k) => `count(*) filter (where b.kind = '${k}')`).join(', ');
const adds = ROLLUP_KINDS.map((k) => `${k} = analytics_hourly.${k} + excluded.${k}`).join(', ');

/** Adds one batch past the watermark (at most `limit` rows, up to `ceiling`); returns rows and the new watermark. */
async function rollUpBatch(em: EntityManager, ceiling: number, limit: number): Promise<RollupResult> {
  return em.transactional(async (tx) => {
    const ctx = tx.getTransactionContext();
    const conn = tx.getConnection();
    const [mark] = await conn.execute<{ seq: string }[]>(
      `select seq from analytics_watermark where name = 'engagement' for update`,
      [],
      'all',
      ctx,
    );
    const from = Number(mark.seq);
    const [result] = await conn.execute<{ rows: string; watermark: string }[]>(
      `with batch as (
         select e.seq, e.notification_id, e.channel, e.kind, e.first_at from notification_engagement e
          where e.seq > ? and e.seq <= ? order by e.seq limit ?),
       added as (
         insert into analytics_hourly (bucket, template_code, campaign_id, experiment_id, variant, channel, ${ROLLUP_KINDS.join(', ')})
         select date_trunc('hour', b.first_at at time zone 'UTC') at time zone 'UTC', n.template_code,
                case when n.event_id like 'campaign\\_%' then substr(n.event_id, 10) else '' end,
                coalesce(n.experiment_id::text, ''), coalesce(n.variant, ''), b.channel, ${counts}
           from batch b join notifications n on n.id = b.notification_id
          group by 1, 2, 3, 4, 5, 6
         on conflict (bucket, template_code, campaign_id, experiment_id, variant, channel) do update set ${adds}),
       moved as (
         update analytics_watermark set seq = (select coalesce(max(seq), ?) from batch), updated_at = now()
          where name = 'engagement' returning seq)
       select (select count(*) from batch) as rows, (select seq from moved) as watermark`,
      [from, ceiling, limit, from],
      'all',
      ctx,
    );
    return { rows: Number(result.rows), watermark: Number(result.watermark) };
  });
}

/** Rolls up everything committed so far, batch after batch (bounded per call). */
export async function rollUpEngagement(orm: Orm, options: { batch?: number } = {}): Promise<RollupResult> {
  const em = orm.em.fork();
  const limit = options.batch ?? DEFAULT_BATCH;
  const ceiling = await committedCeiling(em);
  let total = 0;
  let watermark = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    const batch = await rollUpBatch(em, ceiling, limit);
    total += batch.rows;
    watermark = batch.watermark;
    if (batch.rows < limit) break;
  }
  return { rows: total, watermark };
}

/** Key of the round lock: one worker process per interval rolls up. */
function lockKey(queuePrefix: string): string {
  return `${queuePrefix}:analytics-rollup:lock`;
}

/**
 * What a worker process starts (src/runtime/service.ts): a rollup every `intervalMs` in one process
 * per interval (Redis round lock); null when the interval is 0. A round that found Redis silent
 * rolls up anyway: the watermark row's lock keeps concurrent rollups exact.
 */
export function startAnalyticsRollups(input: {
  orm: Orm;
  redis: RedisConnection;
  config: { queuePrefix: string };
  intervalMs: number;
  log?: (line: string) => void;
}): Periodic<RollupResult | null> | null {
  if (input.intervalMs === 0) return null;
  async function round(): Promise<RollupResult | null> {
    const mine = await takeRoundLock(input.redis, lockKey(input.config.queuePrefix), input.intervalMs).catch(
      () => true,
    );
    if (!mine) return null;
    return rollUpEngagement(input.orm);
  }
  return startPeriodic(round, {
    intervalMs: input.intervalMs,
    firstDelayMs: input.intervalMs,
    onError: (err) =>
      input.log?.(`analytics rollup failed: ${err instanceof Error ? err.message : String(err)}`),
  });
}

/** ANALYTICS_ROLLUP_MS (default 60 s; 0 = no periodic rollups): validated before a worker connects. */
export function analyticsRollupMsFrom(env: Record<string, string | undefined>): number {
  const raw = env.ANALYTICS_ROLLUP_MS;
  if (raw === undefined || raw.trim() === '') return 60_000;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0 || value > 86_400_000)
    throw new Error(`ANALYTICS_ROLLUP_MS must be 0 (off) or milliseconds up to 86400000, got "${raw}"`);
  return value;
}

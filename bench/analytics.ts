/**
 * What the analytics rollups cost and save (docs/analytics.md), each against its baseline in the same run:
 *
 *   npm run bench:analytics            (BENCH_NOTIFICATIONS=100000, BENCH_NEW=2000)
 *
 * 1. Rollup: BENCH_NOTIFICATIONS notifications over 30 days (20 template codes, a tenth in an experiment
 *    of two variants, email and in-app), with sent and delivered engagement each, opened 40%, clicked 10%,
 *    converted 2%: the first rollup of them all, then an incremental one of BENCH_NEW new engagement rows.
 * 2. Read: the analytics API's query (counts per template code and day over 30 days) on the rollups,
 *    against the same answer aggregated from notification_engagement joined to notifications (what a read
 *    without rollups scans); medians of 9. A database `notifications_bench_analytics_<pid>` next to
 *    DATABASE_URL's is created, migrated and dropped. Engagement rows are seeded by SQL, not through
 *    recordEngagement one by one (the rollup reads the table, however it was written).
 */
import { cpus, loadavg, totalmem } from 'node:os';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Orm } from '../src/db/orm';
import { runBench, withBenchDatabase } from './bench-database';
import { AnalyticsRepository } from '../src/db/repositories/analytics-repository';
import { ROLLUP_KINDS, rollUpEngagement } from '../src/operations/analytics-rollup';

const NOTIFICATIONS = Number(process.env.BENCH_NOTIFICATIONS ?? 100_000);
const NEW = Number(process.env.BENCH_NEW ?? 2000);
const READS = 9;
const DATABASE_PREFIX = 'notifications_bench_analytics_';
const DAY_MS = 86_400_000;

/** Notifications spread over 30 days, and their engagement (first occurrences) in seq order. */
async function seed(db: EntityManager): Promise<void> {
  const conn = db.getConnection();
  await conn.execute(
    `insert into recipients (id, email, timezone, locale) values ('u_bench', 'u_bench@example.test', 'UTC', 'en')`,
  );
  await conn.execute(
    `insert into notifications (event_id, recipient_id, template_code, category, priority, state, workflow_id, lifecycle,
                                experiment_id, variant, created_at)
     select 'bench-' || g, 'u_bench', 'bench_' || (g % 20), 'order_updates', 'normal', 'delivered', 'bench', 2,
            case when g % 10 = 0 then '00000000-0000-4000-8000-000000000001'::uuid end,
            case when g % 10 = 0 then case when g % 20 = 0 then 'A' else 'B' end end,
            now() - (g % 720) * interval '1 hour'
       from generate_series(1, ?) g`,
    [NOTIFICATIONS],
  );
  await addEngagement(db, `true`);
}

/** Engagement of the notifications `where` picks: sent and delivered each, opened 40%, clicked 10%, converted 2%. */
async function addEngagement(db: EntityManager, where: string): Promise<void> {
  await db.getConnection().execute(
    `insert into notification_engagement (notification_id, channel, kind, first_at, last_at)
     select n.id, case when h % 2 = 0 then 'email' else 'in_app' end, k.kind, n.created_at, n.created_at
       from (select id, created_at, abs(hashtext(id::text)) as h from notifications where ${where} order by created_at) n
       cross join lateral (values ('sent', 100), ('delivered', 100), ('opened', 40), ('clicked', 10), ('converted', 2)) k(kind, pct)
      where n.h % 100 < k.pct
      order by n.created_at`,
  );
}

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = process.hrtime.bigint();
  const value = await run();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, value };
}

async function median(run: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < READS; i++) times.push((await timed(run)).ms);
  return times.sort((a, b) => a - b)[Math.floor(READS / 2)];
}

/** The same answer as the rollups' read, from the engagement and notifications tables. */
function scanRead(db: EntityManager, from: Date, to: Date): Promise<unknown[]> {
  const sums = ROLLUP_KINDS.map((k) => `count(*) filter (where e.kind = '${k}')::int as ${k}`).join(', ');
  return db.getConnection().execute(
    `select n.template_code as key, date_trunc('day', e.first_at at time zone 'UTC') at time zone 'UTC' as bucket, ${sums}
       from notification_engagement e join notifications n on n.id = e.notification_id
      where e.first_at >= ? and e.first_at < ? group by 1, 2 order by 1, 2`,
    [from, to],
  );
}

/** Rows with their bucket as an ISO time and counts as numbers, for comparing two answers. */
function normalized(rows: unknown[]): unknown[] {
  return (rows as Record<string, unknown>[]).map((r) => ({
    ...Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === 'key' ? v : Number(v)])),
    bucket: new Date(r.bucket as string).toISOString(),
  }));
}

async function measure(orm: Orm): Promise<void> {
  const db = orm.em.fork();
  await seed(db);
  await db.getConnection().execute('analyze');
  const [{ n }] = await db
    .getConnection()
    .execute<{ n: string }[]>(`select count(*) as n from notification_engagement`);
  const first = await timed(() => rollUpEngagement(orm));
  console.log(
    `first rollup: ${first.value.rows} engagement rows (${n} in the table) in ${first.ms.toFixed(0)} ms, ${Math.round((first.value.rows / first.ms) * 1000)} rows/s`,
  );
  await db.getConnection().execute(
    `insert into notifications (event_id, recipient_id, template_code, category, priority, state, workflow_id, lifecycle)
     select 'bench-new-' || g, 'u_bench', 'bench_' || (g % 20), 'order_updates', 'normal', 'delivered', 'bench', 2 from generate_series(1, ?) g`,
    [Math.ceil(NEW / 2.5)],
  );
  await addEngagement(db, `event_id like 'bench-new-%'`);
  const next = await timed(() => rollUpEngagement(orm));
  console.log(`incremental rollup: ${next.value.rows} new engagement rows in ${next.ms.toFixed(1)} ms`);

  const to = new Date();
  const from = new Date(to.getTime() - 30 * DAY_MS);
  const analytics = new AnalyticsRepository(db);
  const groups = await analytics.grouped('template', 'day', { from, to });
  const scanned = await scanRead(db, from, to);
  const same = JSON.stringify(normalized(groups)) === JSON.stringify(normalized(scanned));
  if (!same) throw new Error('the rollups and the scan answer differently');
  const viaRollups = await median(() => analytics.grouped('template', 'day', { from, to }));
  const viaScan = await median(() => scanRead(db, from, to));
  console.log(
    `read per template and day over 30 days (${groups.length} rows, the scan's answer identical), median of ${READS}: rollups ${viaRollups.toFixed(1)} ms, scan of engagement + notifications ${viaScan.toFixed(1)} ms (${(viaScan / viaRollups).toFixed(0)}x)`,
  );
}

async function main(): Promise<void> {
  console.log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; ${NOTIFICATIONS} notifications`,
  );
  await withBenchDatabase(DATABASE_PREFIX, async (orm) => {
    await measure(orm);
  });
}

runBench(main);

/**
 * Erasure's row transaction (docs/data-lifecycle.md, "Erasure"): how long `eraseRecipientRows` takes for a
 * shopper with BENCH_NOTIFICATIONS notifications (each with a send record and two delivery attempts), plus
 * preferences, consents and a push subscription, against the baseline of the same rows deleted by one
 * `delete from recipients` and the foreign keys' cascades (what a manual delete would do, without counts,
 * tombstone or the event rows), in the same run on the same database, alternating, BENCH_ROUNDS each:
 *
 *   npm run bench:erasure          (BENCH_NOTIFICATIONS=2000, BENCH_ROUNDS=5)
 *
 * Only the Postgres part: cancelling open work goes through Temporal, one update per open notification
 * (the test measures nothing there). A database `notifications_bench_erasure_<pid>` next to DATABASE_URL's is
 * created, migrated and dropped.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import type { Orm } from '../src/db/orm';
import { loadAverages, runBench, withBenchDatabase } from './bench-database';
import { eraseRecipientRows } from '../src/state/erasure';

const NOTIFICATIONS = Number(process.env.BENCH_NOTIFICATIONS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** Other recipients' rows around the shopper's, so the deletes run against a table of some size. */
const OTHERS = 20;

/** One shopper with its rows, set-based; plus OTHERS recipients with as many rows each on the first call. */
async function seed(orm: Orm, userId: string): Promise<void> {
  const sql = (query: string, params: unknown[]) => orm.em.fork().getConnection().execute(query, params);
  await sql(`insert into recipients (id, email) values (?, ? || '@example.test')`, [userId, userId]);
  await sql(
    `insert into notifications (event_id, event_type, recipient_id, template_code, category, priority, state, channels, workflow_id, data, content, channel_states, lifecycle)
     select 'evt_' || ? || '_' || g, 'ORDER_CREATED', ?, 'order_created', 'transactional', 'normal', 'delivered', '["email"]',
            'event-evt_' || ? || '_' || g, '{"orderNumber":"A-1"}', '{"email":{"subject":"Hi"}}', '{"email":{"state":"delivered","attempts":1}}', 2
       from generate_series(1, ?) g`,
    [userId, userId, userId, NOTIFICATIONS],
  );
  await sql(
    `insert into send_records (notification_id, channel, status, sent_at) select id, 'email', 'sent', now() from notifications where recipient_id = ?`,
    [userId],
  );
  await sql(
    `insert into delivery_attempts (notification_id, channel, attempt, status, provider, started_at, finished_at, duration_ms)
     select id, 'email', a, 'delivered', 'smtp', now(), now(), 1 from notifications, generate_series(1, 2) a where recipient_id = ?`,
    [userId],
  );
  await sql(
    `insert into notification_events (event_id, workflow_id, open_channels) select event_id, workflow_id, 0 from notifications where recipient_id = ?`,
    [userId],
  );
  await sql(
    `insert into preferences (recipient_id, category, channel, enabled) values (?, 'marketing', 'sms', false)`,
    [userId],
  );
  await sql(
    `insert into consents (recipient_id, category, granted, at, source) values (?, 'marketing', true, now(), 'import')`,
    [userId],
  );
  await sql(
    `insert into push_subscriptions (recipient_id, endpoint, p256dh, auth) values (?, 'https://push.example.test/' || ?, 'k', 'a')`,
    [userId, userId],
  );
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  await withBenchDatabase('notifications_bench_erasure_', async (orm) => {
    for (let i = 0; i < OTHERS; i++) await seed(orm, `u_other_${i}`);
    console.log(
      `erasure rows: ${NOTIFICATIONS} notifications per shopper (send record + 2 attempts + event row each), ${OTHERS} other shoppers alike, ${ROUNDS} rounds`,
    );
    console.log(
      `machine: ${cpus().length} vCPU (${cpus()[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' / ')}`,
    );
    const erasure: number[] = [];
    const cascade: number[] = [];
    for (let n = 1; n <= ROUNDS; n++) {
      await seed(orm, `u_erase_${n}`);
      await seed(orm, `u_cascade_${n}`);
      const erased = await timed(() => eraseRecipientRows(orm.em.fork(), `u_erase_${n}`));
      const cascaded = await timed(() =>
        orm.em
          .fork()
          .getConnection()
          .execute(`delete from recipients where id = ?`, [`u_cascade_${n}`]),
      );
      erasure.push(erased);
      cascade.push(cascaded);
      console.log(
        `round ${n}: eraseRecipientRows ${erased.toFixed(0)} ms, cascade delete ${cascaded.toFixed(0)} ms`,
      );
    }
    const e = median(erasure);
    const c = median(cascade);
    console.log(
      `median: eraseRecipientRows ${e.toFixed(0)} ms (${((e / NOTIFICATIONS) * 1000).toFixed(0)} us per notification), cascade delete ${c.toFixed(0)} ms; x${(e / c).toFixed(2)}`,
    );
    console.log(`load at the end: ${loadAverages()}`);
  });
}

runBench(main);

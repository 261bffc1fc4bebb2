import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { migrate, openOrm, type Orm } from '../../src/db/orm';
import { dropDatabase, recreateProcessDatabase } from '../../src/db/process-database';
import { DEFAULT_FREQUENCY_CAPS, parseFrequencyCaps } from '../../src/domain/frequency-caps';
import { retentionSettingsFrom } from '../../src/operations/retention-settings';
import {
  startRetentionSweeper,
  startRetentionSweeps,
  sweepRetention,
  type RetentionDeps,
} from '../../src/operations/retention-sweep';

/**
 * Retention (docs/data-lifecycle.md) on real Postgres and Redis. Rows a year old cannot be made by
 * sending, so the test stores them with old timestamps, as the service stores them (same tables, same
 * states). It runs on a database of its own so other test files' rows are neither counted nor deleted.
 */
describe('retention', () => {
  const DATABASE_PREFIX = 'notifications_retention_test_';
  const adminUrl = process.env.TEST_DATABASE_URL!;
  const DAY = 86_400_000;
  let databaseName = '';
  let orm: Orm;
  let redis: Redis;
  const recipient = `u_ret_${randomBytes(4).toString('hex')}`;
  const caps = parseFrequencyCaps(DEFAULT_FREQUENCY_CAPS);

  const sql = <T = Record<string, unknown>>(query: string, params: unknown[] = []): Promise<T[]> =>
    orm.em.getConnection().execute(query, params);
  const ago = (days: number) => new Date(Date.now() - days * DAY);
  const deps = (env: Record<string, string>): RetentionDeps => ({
    orm,
    settings: retentionSettingsFrom(env),
    frequencyCaps: caps,
  });

  interface Seed {
    state?: string;
    ageDays: number;
    inbox?: 'unread' | 'read';
    eventId?: string;
    attemptAgeDays?: number;
  }

  /** One notification with a send record and two delivery attempts (finished `attemptAgeDays` ago). */
  async function seed(s: Seed): Promise<string> {
    const id = randomUUID();
    // One recipient per notification: an event holds one notification per recipient.
    const to = `${recipient}_${id.slice(0, 8)}`;
    await sql(`insert into recipients (id) values (?)`, [to]);
    const eventId = s.eventId ?? `evt_${randomUUID()}`;
    const created = ago(s.ageDays);
    const delivered = s.inbox ? created : null;
    const read = s.inbox === 'read' ? created : null;
    await sql(
      `insert into notifications (id, event_id, recipient_id, template_code, category, priority, state,
         workflow_id, lifecycle, created_at, updated_at, delivered_at, read_at)
       values (?, ?, ?, 'order_created', 'transactional', 'normal', ?, ?, 2, ?, ?, ?, ?)`,
      [id, eventId, to, s.state ?? 'delivered', `event:${eventId}`, created, created, delivered, read],
    );
    await sql(
      `insert into send_records (notification_id, channel, status, sent_at) values (?, 'email', 'sent', ?)`,
      [id, created],
    );
    const finished = ago(s.attemptAgeDays ?? s.ageDays);
    for (const attempt of [1, 2]) {
      await sql(
        `insert into delivery_attempts (notification_id, channel, attempt, status, provider, started_at, finished_at, duration_ms)
         values (?, 'email', ?, 'delivered', 'smtp', ?, ?, 5)`,
        [id, attempt, finished, finished],
      );
    }
    return id;
  }

  const exists = async (id: string) =>
    (await sql(`select 1 from notifications where id = ?`, [id])).length === 1;
  const attemptsOf = async (id: string) =>
    (
      await sql<{ n: number }>(`select count(*)::int as n from delivery_attempts where notification_id = ?`, [
        id,
      ])
    )[0].n;
  const count = async (table: string) =>
    (await sql<{ n: number }>(`select count(*)::int as n from ${table}`))[0].n;

  beforeAll(async () => {
    databaseName = await recreateProcessDatabase(adminUrl, DATABASE_PREFIX);
    const url = new URL(adminUrl);
    url.pathname = `/${databaseName}`;
    orm = await openOrm(url.toString());
    await migrate(orm);
    redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    await sql(`insert into recipients (id) values (?)`, [recipient]);
  }, 60_000);

  afterAll(async () => {
    redis?.disconnect();
    await orm?.close();
    if (databaseName) await dropDatabase(adminUrl, databaseName);
  });

  beforeEach(async () => {
    await sql(
      `truncate notifications, send_records, delivery_attempts, notification_events, frequency_cap_sends, notification_engagement`,
    );
  });

  it('deletes old final rows of every family in batches smaller than the rows present, and keeps the rest', async () => {
    const oldEvent = 'evt_old_all_final';
    const old = [];
    for (let i = 0; i < 7; i++) old.push(await seed({ ageDays: 400 + i, eventId: oldEvent }));
    const oldRead = await seed({ ageDays: 500, inbox: 'read' });
    const oldFailed = await seed({ ageDays: 400, state: 'failed' });
    const veryOldUnread = await seed({ ageDays: 800, inbox: 'unread' });
    await sql(`insert into notification_events (event_id, workflow_id, open_channels) values (?, 'w', 0)`, [
      oldEvent,
    ]);

    const recent = await seed({ ageDays: 10 });
    const attemptsOnly = await seed({ ageDays: 100 });
    const sending = await seed({ ageDays: 400, state: 'sending' });
    const waiting = await seed({ ageDays: 400, state: 'scheduled' });
    const unread = await seed({ ageDays: 400, inbox: 'unread' });
    const mixedEvent = 'evt_mixed';
    const mixedOld = await seed({ ageDays: 400, eventId: mixedEvent });
    const mixedOpen = await seed({ ageDays: 400, eventId: mixedEvent, state: 'sending' });
    await sql(`insert into notification_events (event_id, workflow_id, open_channels) values (?, 'w', 1)`, [
      mixedEvent,
    ]);
    await sql(
      `insert into consent_events (recipient_id, category, action, source, notification_id, at) values (?, 'marketing', 'opt-in', 'api', ?, ?)`,
      [recipient, old[0], ago(900)],
    );
    await sql(
      `insert into frequency_cap_sends (recipient_id, category, event_id, sent_at) values (?, 'marketing', 'e_old', ?), (?, 'marketing', 'e_new', ?)`,
      [recipient, ago(30), recipient, ago(1 / 24)],
    );

    const counts = await sweepRetention(deps({ RETENTION_BATCH: '3' }));

    // 7 + read + failed + very old unread + mixedOld = 11 notifications, over four batches of 3.
    expect(counts).toEqual({
      notifications: 11,
      send_records: 11,
      // the deleted rows' 22, and the old attempts of two kept final rows (attemptsOnly, unread)
      delivery_attempts: 22 + 4,
      notification_events: 1,
      notification_contents: 0,
      cap_ledger: 1,
    });
    for (const id of [...old, oldRead, oldFailed, veryOldUnread, mixedOld])
      expect(await exists(id)).toBe(false);
    for (const id of [recent, attemptsOnly, sending, waiting, unread, mixedOpen])
      expect(await exists(id)).toBe(true);
    expect(await attemptsOf(attemptsOnly)).toBe(0);
    expect(await attemptsOf(recent)).toBe(2);
    expect(await attemptsOf(sending)).toBe(2);
    expect(await attemptsOf(unread)).toBe(0);
    expect(await attemptsOf(waiting)).toBe(2);
    expect(await sql(`select event_id from notification_events order by 1`)).toEqual([
      { event_id: mixedEvent },
    ]);
    expect(await count('consent_events')).toBe(1);
    expect(await sql(`select event_id from frequency_cap_sends`)).toEqual([{ event_id: 'e_new' }]);
    expect(await count('send_records')).toBe(6);
  });

  it('keeps an unread inbox notification until read, then deletes it once past retention', async () => {
    const unread = await seed({ ageDays: 5000, inbox: 'unread' });
    const settings = { UNREAD_NOTIFICATION_RETENTION_DAYS: '0' };
    expect((await sweepRetention(deps(settings))).notifications).toBe(0);
    expect(await exists(unread)).toBe(true);
    await sql(`update notifications set read_at = now() where id = ?`, [unread]);
    expect((await sweepRetention(deps(settings))).notifications).toBe(1);
    expect(await exists(unread)).toBe(false);
  });

  it('two sweepers at once delete each row once, without errors', async () => {
    const ids = [];
    for (let i = 0; i < 40; i++) ids.push(await seed({ ageDays: 400 + i }));
    const [a, b] = await Promise.all([
      sweepRetention(deps({ RETENTION_BATCH: '4' })),
      sweepRetention(deps({ RETENTION_BATCH: '4' })),
    ]);
    expect(a.notifications + b.notifications).toBe(40);
    expect(a.delivery_attempts + b.delivery_attempts).toBe(80);
    expect(a.send_records + b.send_records).toBe(40);
    expect(await count('notifications')).toBe(0);
    expect(await count('delivery_attempts')).toBe(0);
  });

  it('0 keeps notifications and attempts forever', async () => {
    const id = await seed({ ageDays: 5000, inbox: 'read' });
    const counts = await sweepRetention(
      deps({ NOTIFICATION_RETENTION_DAYS: '0', DELIVERY_ATTEMPT_RETENTION_DAYS: '0' }),
    );
    expect(counts.notifications + counts.delivery_attempts + counts.send_records).toBe(0);
    expect(await exists(id)).toBe(true);
    expect(await attemptsOf(id)).toBe(2);
  });

  it('one process per interval sweeps (Redis lock); it logs and counts what it deleted', async () => {
    await seed({ ageDays: 400 });
    const queuePrefix = `ret-${randomBytes(4).toString('hex')}`;
    const lines: string[] = [];
    const registry = new Registry();
    const settings = retentionSettingsFrom({ RETENTION_SWEEP_MS: '60000' });
    const common = { orm, settings, frequencyCaps: caps, redis, queuePrefix };
    const first = startRetentionSweeper(common, { log: (l) => lines.push(l), registry });
    const second = startRetentionSweeper(common, { log: (l) => lines.push(l) });
    try {
      const [x, y] = await Promise.all([first.runOnce(), second.runOnce()]);
      expect([x, y].filter((r) => r === null)).toHaveLength(1);
      expect((x ?? y)!.notifications).toBe(1);
      expect(lines).toEqual([
        expect.stringMatching(
          /^retention sweep: deleted notifications=1 send_records=1 delivery_attempts=2 /,
        ),
      ]);
      const metric = await registry.getSingleMetricAsString('notifications_retention_deleted_total');
      expect(metric).toContain('notifications_retention_deleted_total{family="delivery_attempts"} 2');
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  });

  it('a bad setting stops the start, naming the variable; RETENTION_SWEEP_MS=0 starts nothing', () => {
    const start = (env: Record<string, string>) =>
      startRetentionSweeps({
        settings: retentionSettingsFrom(env),
        config: { queuePrefix: 'ret-bad', digests: { frequencyCaps: caps } },
        orm,
        redis,
        registry: new Registry(),
      });
    expect(() => start({ NOTIFICATION_RETENTION_DAYS: 'a year' })).toThrow(
      /^NOTIFICATION_RETENTION_DAYS must be/,
    );
    expect(() => start({ DELIVERY_ATTEMPT_RETENTION_DAYS: '400' })).toThrow(
      /^DELIVERY_ATTEMPT_RETENTION_DAYS must be at most/,
    );
    expect(() => start({ RETENTION_SWEEP_MS: '10' })).toThrow(/^RETENTION_SWEEP_MS must be/);
    expect(start({ RETENTION_SWEEP_MS: '0' })).toBeNull();
  });
});

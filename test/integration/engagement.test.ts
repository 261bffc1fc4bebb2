import { randomBytes, randomUUID } from 'node:crypto';
import { openOrm, type Orm } from '../../src/db/orm';
import { recordEngagement } from '../../src/state/engagement';

/** The engagement table's one writer (docs/tracking-and-receipts.md) on real Postgres. */
describe('recordEngagement', () => {
  let orm: Orm;
  const recipient = `u_eng_${randomBytes(4).toString('hex')}`;
  const sql = <T = Record<string, unknown>>(query: string, params: unknown[] = []): Promise<T[]> =>
    orm.em.getConnection().execute(query, params);

  async function notification(): Promise<string> {
    const id = randomUUID();
    const eventId = `evt_${id}`;
    await sql(
      `insert into notifications (id, event_id, recipient_id, template_code, category, priority, state, workflow_id, lifecycle)
       values (?, ?, ?, 'order_created', 'transactional', 'normal', 'delivered', ?, 2)`,
      [id, eventId, recipient, `event:${eventId}`],
    );
    return id;
  }

  beforeAll(async () => {
    orm = await openOrm(process.env.TEST_DATABASE_URL!, { poolMax: 4 });
    await sql(`insert into recipients (id) values (?)`, [recipient]);
  });
  afterAll(async () => {
    await sql(`delete from recipients where id = ?`, [recipient]);
    await orm.close();
  });

  it('inserts once, then bumps count and last_at; seq stays the first one', async () => {
    const id = await notification();
    const first = new Date('2026-12-07T10:00:00Z');
    const later = new Date('2026-12-07T11:00:00Z');
    const earlier = new Date('2026-12-07T09:00:00Z');
    const em = orm.em.fork();
    expect(
      await recordEngagement(em, {
        notificationId: id,
        channel: 'email',
        kind: 'clicked',
        at: first,
        detail: { url: 'https://shop.test/a' },
      }),
    ).toEqual({ first: true, count: 1 });
    const [before] = await sql<{ seq: string }>(
      `select seq from notification_engagement where notification_id = ?`,
      [id],
    );
    expect(
      await recordEngagement(em, { notificationId: id, channel: 'email', kind: 'clicked', at: later }),
    ).toEqual({ first: false, count: 2 });
    expect(
      await recordEngagement(em, { notificationId: id, channel: 'email', kind: 'clicked', at: earlier }),
    ).toEqual({ first: false, count: 3 });
    const rows = await sql<{ first_at: Date; last_at: Date; count: number; seq: string; detail: unknown }>(
      `select first_at, last_at, count, seq, detail from notification_engagement where notification_id = ?`,
      [id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ count: 3, seq: before.seq, detail: { url: 'https://shop.test/a' } });
    expect(new Date(rows[0].first_at).toISOString()).toBe(first.toISOString());
    expect(new Date(rows[0].last_at).toISOString()).toBe(later.toISOString());
  });

  it('keeps kinds and channels apart', async () => {
    const id = await notification();
    const em = orm.em.fork();
    expect((await recordEngagement(em, { notificationId: id, channel: 'email', kind: 'opened' })).first).toBe(
      true,
    );
    expect(
      (await recordEngagement(em, { notificationId: id, channel: 'email', kind: 'clicked' })).first,
    ).toBe(true);
    expect((await recordEngagement(em, { notificationId: id, channel: 'push', kind: 'clicked' })).first).toBe(
      true,
    );
    const [{ n }] = await sql<{ n: number }>(
      `select count(*)::int as n from notification_engagement where notification_id = ?`,
      [id],
    );
    expect(n).toBe(3);
  });

  it('counts concurrent repeats exactly: one first, count equal to the calls', async () => {
    const id = await notification();
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        recordEngagement(orm.em.fork(), { notificationId: id, channel: 'email', kind: 'opened' }),
      ),
    );
    expect(results.filter((r) => r.first)).toHaveLength(1);
    expect(results.map((r) => r.count).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('answers { first: false, count: 0 } for an unknown or malformed notification id', async () => {
    const em = orm.em.fork();
    expect(
      await recordEngagement(em, { notificationId: randomUUID(), channel: 'email', kind: 'clicked' }),
    ).toEqual({ first: false, count: 0 });
    expect(
      await recordEngagement(em, { notificationId: 'not-a-uuid', channel: 'email', kind: 'clicked' }),
    ).toEqual({ first: false, count: 0 });
  });

  it('goes with its notification (on delete cascade)', async () => {
    const id = await notification();
    await recordEngagement(orm.em.fork(), { notificationId: id, channel: 'email', kind: 'sent' });
    await sql(`delete from notifications where id = ?`, [id]);
    const rows = await sql(`select 1 from notification_engagement where notification_id = ?`, [id]);
    expect(rows).toHaveLength(0);
  });

  it('refuses a kind outside the contract at the database', async () => {
    const id = await notification();
    await expect(
      sql(
        `insert into notification_engagement (notification_id, channel, kind, first_at, last_at) values (?, 'email', 'liked', now(), now())`,
        [id],
      ),
    ).rejects.toThrow(/notification_engagement_kind_check/);
  });
});

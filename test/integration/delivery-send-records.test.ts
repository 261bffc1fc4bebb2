import { Notification, Recipient } from '../../src/db/entities';
import { openOrm, type Orm } from '../../src/db/orm';
import { SendRecordStore } from '../../src/state/send-records';

/** The exactly-once guard against real Postgres: races, the stale takeover and who may release a claim. */
describe('SendRecordStore', () => {
  const staleAfterMs = 60_000;
  const store = new SendRecordStore(staleAfterMs);
  const suffix = Math.random().toString(36).slice(2, 10);
  let orm: Orm;
  let counter = 0;

  beforeAll(async () => {
    orm = await openOrm(process.env.TEST_DATABASE_URL!, { poolMax: 12 });
    const em = orm.em.fork();
    em.create(Recipient, {
      id: `u_records_${suffix}`,
      email: null,
      phone: null,
      timezone: 'UTC',
      locale: 'en',
      roles: [],
      muted: false,
      quietHours: null,
      webhookUrl: null,
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    await em.flush();
  });
  afterAll(() => orm.close());

  async function newNotification(): Promise<string> {
    const em = orm.em.fork();
    const n = em.create(Notification, {
      eventId: `evt_records_${suffix}_${++counter}`,
      recipientId: `u_records_${suffix}`,
      templateCode: 'order_created',
      category: 'order_updates',
      priority: 'normal',
      state: 'sending',
      workflowId: 'wf',
      templateVersions: {},
      channels: [],
      content: {},
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    await em.flush();
    return n.id;
  }

  it('lets exactly one of many concurrent claims win', async () => {
    const id = await newNotification();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.claim(orm.em.fork(), id, 'email', `w${i}`)),
    );
    expect(results.filter((r) => r.claimed)).toHaveLength(1);
    for (const r of results.filter((r) => !r.claimed)) {
      expect(r).toMatchObject({ claimed: false, status: 'sending' });
      expect((r as { staleInMs: number }).staleInMs).toBeGreaterThan(staleAfterMs - 5_000);
      expect((r as { staleInMs: number }).staleInMs).toBeLessThanOrEqual(staleAfterMs);
    }
  });

  it('answers "sent" with the provider message id once marked sent, for ever', async () => {
    const id = await newNotification();
    const em = orm.em.fork();
    expect(await store.claim(em, id, 'sms', 'w1')).toMatchObject({ claimed: true, takenOver: null });
    await store.markSent(em, id, 'sms', 'SM123');
    expect(await store.claim(em, id, 'sms', 'w2')).toEqual({
      claimed: false,
      status: 'sent',
      providerMessageId: 'SM123',
    });
    // Even long after: a sent message is never taken over.
    await em
      .getConnection()
      .execute(`update send_records set claimed_at = now() - interval '1 day' where notification_id = ?`, [
        id,
      ]);
    expect(await store.claim(em, id, 'sms', 'w3')).toMatchObject({ claimed: false, status: 'sent' });
  });

  it('hands a released claim to the next worker', async () => {
    const id = await newNotification();
    const em = orm.em.fork();
    const first = await store.claim(em, id, 'webhook', 'w1');
    if (!first.claimed) throw new Error('expected a claim');
    await store.release(em, id, 'webhook', first.token);
    expect(await store.claim(em, id, 'webhook', 'w2')).toMatchObject({ claimed: true, takenOver: null });
  });

  it('takes over a stale claim, naming the dead worker, and ignores that worker releasing it afterwards', async () => {
    const id = await newNotification();
    const em = orm.em.fork();
    const dead = await store.claim(em, id, 'push', 'host:111');
    if (!dead.claimed) throw new Error('expected a claim');
    await em
      .getConnection()
      .execute(
        `update send_records set claimed_at = now() - (? * interval '1 millisecond') where notification_id = ?`,
        [staleAfterMs + 1000, id],
      );

    const takeover = await store.claim(em, id, 'push', 'host:222');
    expect(takeover).toMatchObject({
      claimed: true,
      takenOver: { claimedBy: dead.token, claimedAt: expect.any(Date) },
    });
    expect(takeover.claimed && takeover.token.startsWith('host:222/')).toBe(true);

    // The "dead" worker was only slow: its late release must not free the new claim.
    await store.release(em, id, 'push', dead.token);
    expect(await store.claim(em, id, 'push', 'host:333')).toMatchObject({
      claimed: false,
      status: 'sending',
    });
  });
});

import { Notification } from '../../src/db/entities';
import { rollUpEngagement } from '../../src/operations/analytics-rollup';
import { recordEngagement } from '../../src/state/engagement';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/**
 * The analytics rollup counts every first engagement exactly once (docs/analytics.md, "Rollups"):
 * rollups racing each other, rows of a writer whose transaction is still open, repeats of a kind.
 */
describe('analytics rollup', () => {
  const stack = new TestStack({ deliveryWorkers: false, temporalWorker: false });
  const code = () => `rollup_${stack.id}`;
  let notifications: Notification[] = [];

  beforeAll(async () => {
    await stack.start();
    const recipient = await stack.createRecipient({ id: stack.uid('u') });
    const em = stack.orm.em.fork();
    notifications = Array.from({ length: 40 }, () => {
      const eventId = stack.uid('evt');
      return em.create(Notification, {
        eventId,
        recipientId: recipient.id,
        templateCode: code(),
        templateVersions: { email: 1 },
        category: 'order_updates',
        priority: 'normal',
        state: 'delivered',
        channels: ['email'],
        workflowId: `event-${eventId}`,
        data: {},
        content: {},
        createdAt: new Date(),
        updatedAt: new Date(),
      });
    });
    await em.flush();
  });
  afterAll(() => stack.stop());

  /** This file's template's counts (other test files' rollups may count its rows too: the totals are global). */
  async function totals(): Promise<Record<string, number>> {
    const [row] = await stack.orm.em
      .fork()
      .getConnection()
      .execute<Record<string, number>[]>(
        `select coalesce(sum(sent), 0)::int as sent, coalesce(sum(opened), 0)::int as opened, coalesce(sum(clicked), 0)::int as clicked
           from analytics_hourly where template_code = ?`,
        [code()],
      );
    return row;
  }

  /**
   * A writer in flight: its insert took a seq and holds the table's ROW EXCLUSIVE lock, uncommitted until
   * `commit` (recordEngagement's one statement autocommits; this widens the moment between the two).
   */
  async function openWriter(n: Notification): Promise<{ commit: () => Promise<void> }> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let inserted!: () => void;
    const started = new Promise<void>((resolve) => (inserted = resolve));
    const done = stack.orm.em.fork().transactional(async (tx) => {
      await tx
        .getConnection()
        .execute(
          `insert into notification_engagement (notification_id, channel, kind, first_at, last_at) values (?, 'email', 'clicked', now(), now())`,
          [n.id],
          'run',
          tx.getTransactionContext(),
        );
      inserted();
      await held;
    });
    await started;
    return {
      commit: async () => {
        release();
        await done;
      },
    };
  }

  const record = (n: Notification, kind: 'sent' | 'opened' | 'clicked') =>
    recordEngagement(stack.orm.em.fork(), { notificationId: n.id, channel: 'email', kind });

  it('counts each first once when three rollups race, and repeats not at all', async () => {
    for (const n of notifications) await record(n, 'sent');
    for (const n of notifications.slice(0, 10)) {
      await record(n, 'opened');
      await record(n, 'opened');
    }
    await Promise.all([
      rollUpEngagement(stack.orm),
      rollUpEngagement(stack.orm),
      rollUpEngagement(stack.orm),
    ]);
    expect(await totals()).toEqual({ sent: 40, opened: 10, clicked: 0 });
    await rollUpEngagement(stack.orm, { batch: 3 });
    expect(await totals()).toEqual({ sent: 40, opened: 10, clicked: 0 });
  });

  it('waits for a writer in flight: its row (lower seq, committed later) is not skipped', async () => {
    const [early, late] = notifications;
    const writer = await openWriter(early);
    try {
      await record(late, 'clicked'); // a higher seq, committed first
      const rollup = rollUpEngagement(stack.orm);
      // The rollup waits on the open writer (SHARE lock) instead of moving past its seq.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await totals()).toMatchObject({ clicked: 0 });
      await writer.commit();
      await rollup;
      expect(await totals()).toMatchObject({ clicked: 2 });
    } finally {
      await writer.commit();
    }
  });

  it('skips the round when a writer stays open past the lock timeout, and counts its row later', async () => {
    const writer = await openWriter(notifications[5]);
    try {
      await expect(rollUpEngagement(stack.orm)).rejects.toThrow(/lock timeout/);
    } finally {
      await writer.commit();
    }
    await waitFor(async () => {
      await rollUpEngagement(stack.orm);
      return (await totals()).clicked === 3 ? true : undefined;
    });
    expect(await totals()).toEqual({ sent: 40, opened: 10, clicked: 3 });
  });
});

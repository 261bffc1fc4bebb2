import { randomUUID } from 'node:crypto';
import { Notification } from '../../src/db/entities';
import { campaignEventId } from '../../src/domain/workflow-ids';
import { LEAN_LIFECYCLE } from '../../src/release-0/notification-owner';
import { retentionSettingsFrom } from '../../src/operations/retention-settings';
import { sweepRetention } from '../../src/operations/retention-sweep';
import {
  CONTENT_FRESH_MS,
  deleteOrphanContents,
  STORE_CONTENTS,
} from '../../src/state/notification-contents';
import { insertRows, type NotificationRowInput } from '../../src/state/notification-store';
import { createOptedInRecipient } from '../helpers/consent';
import { mimePart } from '../helpers/mime-part';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/**
 * Content stored once (docs/data-lifecycle.md, "Content stored once") through the real pipeline:
 * Temporal workflows, the channel workers, Postgres, Redis and an SMTP peer.
 */
describe('content stored once', () => {
  const stack = new TestStack();
  beforeAll(() => stack.start());
  afterAll(() => stack.stop());

  const sql = <T = Record<string, unknown>>(query: string, params: unknown[] = []): Promise<T[]> =>
    stack.orm.em.fork().getConnection().execute(query, params);

  interface HashRow {
    recipient_id: string;
    content_hash: string | null;
    data_hash: string | null;
    inline_content: string;
    inline_data: string;
  }
  const hashesOf = (eventId: string) =>
    sql<HashRow>(
      `select recipient_id, content_hash, data_hash, content::text as inline_content, data::text as inline_data
         from notifications where event_id = ? order by recipient_id`,
      [eventId],
    );
  const contentRows = (hashes: (string | null)[]) =>
    sql<{ hash: string; content: Record<string, unknown> }>(
      `select hash, content from notification_contents where hash in (select jsonb_array_elements_text(?::jsonb))`,
      [JSON.stringify(hashes)],
    );

  it("stores a campaign's identical renders once: every row references one content row and one data row", async () => {
    const role = stack.uid('role');
    // Fan-out admits a page in 8 chunks at once (one statement each): 16 recipients give every chunk two rows.
    const ids = Array.from({ length: 16 }, () => stack.uid('u'));
    for (const id of ids) await createOptedInRecipient(stack, { id, roles: [role] });
    const { campaignId } = await stack.client.scheduleCampaign({
      name: `Sale ${role}`,
      templateCode: 'marketing_announcement',
      segment: { roles: [role] },
      variables: { headline: `Winter sale ${role}`, message: 'Everything 20% off until Sunday.' },
    });
    await stack.client.campaignResult(campaignId);
    for (const id of ids) {
      const [mail] = await stack.smtp.waitForMessages(`${id}@example.test`);
      expect(mail.raw).toContain(`Subject: Winter sale ${role}`);
      expect(mimePart(mail.raw, 'text/html')).toContain('Everything 20% off until Sunday.');
    }

    const rows = await hashesOf(campaignEventId(campaignId));
    expect(rows.map((r) => r.recipient_id)).toEqual([...ids].sort());
    expect([...new Set(rows.map((r) => r.content_hash))]).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/)]);
    expect([...new Set(rows.map((r) => r.data_hash))]).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/)]);
    // Nothing copied into the rows themselves.
    for (const r of rows) expect([r.inline_content, r.inline_data]).toEqual(['{}', '{}']);
    const [content] = await contentRows([rows[0].content_hash]);
    expect(content.content).toMatchObject({
      email: { subject: `Winter sale ${role}` },
      in_app: { title: `Winter sale ${role}` },
    });
    const [data] = await contentRows([rows[0].data_hash]);
    expect(data.content).toEqual({
      headline: `Winter sale ${role}`,
      message: 'Everything 20% off until Sunday.',
    });

    // Readers through the entity get the same objects as before (trace, control routes).
    const entity = await stack.orm.em.fork().findOneOrFail(Notification, {
      eventId: campaignEventId(campaignId),
      recipientId: ids[0],
    });
    expect(entity.content).toEqual(content.content);
    expect(entity.data).toEqual(data.content);
  });

  it("an event's recipients in two languages get two content rows, each recipient the email in their language", async () => {
    const [en1, en2, de1, de2] = [stack.uid('u'), stack.uid('u'), stack.uid('u'), stack.uid('u')];
    for (const [id, locale] of [
      [en1, 'en'],
      [en2, 'en'],
      [de1, 'de'],
      [de2, 'de'],
    ])
      await stack.createRecipient({ id, locale });
    const eventId = stack.uid('evt');
    await stack.client.publishEvent({
      id: eventId,
      type: 'ORDER_CREATED',
      occurredAt: new Date().toISOString(),
      userIds: [en1, en2, de1, de2],
      data: { orderNumber: `A-${eventId.slice(-6)}`, total: 1499, currency: 'EUR' },
      options: { channels: ['email'] },
    });
    await stack.client.eventResult(eventId);
    for (const [id, headline] of [
      [en1, 'Thank you for your order'],
      [en2, 'Thank you for your order'],
      [de1, 'Danke für deine Bestellung'],
      [de2, 'Danke für deine Bestellung'],
    ])
      expect(
        mimePart((await stack.smtp.waitForMessages(`${id}@example.test`))[0].raw, 'text/html'),
      ).toContain(headline);

    const rows = new Map((await hashesOf(eventId)).map((r) => [r.recipient_id, r]));
    expect(rows.get(en1)!.content_hash).toBe(rows.get(en2)!.content_hash);
    expect(rows.get(de1)!.content_hash).toBe(rows.get(de2)!.content_hash);
    expect(rows.get(de1)!.content_hash).not.toBe(rows.get(en1)!.content_hash);
    expect(new Set([...rows.values()].map((r) => r.data_hash)).size).toBe(1);
    const stored = await contentRows([...rows.values()].map((r) => r.content_hash));
    expect(stored).toHaveLength(2);
  });

  it('a value only one row holds stays inline: a single-recipient event is stored as before and delivers', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const eventId = await stack.publishEmail(userId);
    await stack.client.eventResult(eventId);
    const [mail] = await stack.smtp.waitForMessages(`${userId}@example.test`);
    expect(mail.raw).toContain('Subject:');
    const [row] = await hashesOf(eventId);
    expect(row).toMatchObject({ content_hash: null, data_hash: null });
    expect(JSON.parse(row.inline_content)).toMatchObject({ email: { subject: expect.any(String) } });
    expect(JSON.parse(row.inline_data)).toMatchObject({ orderNumber: eventId });
  });

  it('a row stored before content was stored once (inline content, no hash) still delivers its own content', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const eventId = stack.uid('evt_inline');
    const subject = `Inline ${eventId}`;
    const [row] = await sql<{ id: string }>(
      `insert into notifications (event_id, recipient_id, template_code, category, priority, state, workflow_id,
          channels, content, lifecycle, channel_states)
       values (?, ?, 'order_created', 'order_updates', 'normal', 'sending', ?, '["email"]', ?::jsonb, ?, ?::jsonb)
       returning id`,
      [
        eventId,
        userId,
        `event-${eventId}`,
        JSON.stringify({ email: { subject, html: `<p>${subject}</p>`, text: subject } }),
        LEAN_LIFECYCLE,
        JSON.stringify({
          email: { state: 'queued', attempts: 0, handOffs: 1, queuedAt: new Date().toISOString() },
        }),
      ],
    );
    await stack.queues.enqueue({ notificationId: row.id, channel: 'email' }, 'normal');
    const [mail] = await stack.smtp.waitForMessages(`${userId}@example.test`);
    expect(mail.raw).toContain(`Subject: ${subject}`);
    await waitFor(async () => {
      const [stored] = await sql<{ state: string }>(`select state from notifications where id = ?`, [row.id]);
      return stored.state === 'delivered' ? stored : undefined;
    });
  });

  /** A row as admission stores it, with the given content. */
  const rowWith = (
    eventId: string,
    recipientId: string,
    content: NotificationRowInput['content'],
  ): NotificationRowInput => ({
    event_id: eventId,
    event_type: 'ORDER_CREATED',
    recipient_id: recipientId,
    template_code: 'order_created',
    template_versions: {},
    category: 'order_updates',
    priority: 'normal',
    state: 'delivered',
    channels: [],
    workflow_id: `event-${eventId}`,
    title: null,
    body: null,
    action_url: null,
    action_text: null,
    data: {},
    content,
    channel_states: {},
    fallbacks: {},
    send_at: null,
  });
  const LONG_AGO = new Date(Date.now() - 30 * 86_400_000);
  const storeContent = async (hash: string, usedAt: Date) =>
    sql(
      `insert into notification_contents (hash, content, created_at, used_at) values (?, '{"x":1}', ?, ?)`,
      [hash, usedAt, usedAt],
    );
  /** The hashes that have a content row, in the order given. */
  const present = async (hashes: string[]) => {
    const found = new Set((await contentRows(hashes)).map((r) => r.hash));
    return hashes.filter((h) => found.has(h));
  };

  it('the orphan sweep deletes contents nobody references once unused past the grace, and nothing else', async () => {
    const [orphanOld, orphanRecent, byContent, byData] = [1, 2, 3, 4].map(() => `test-${randomUUID()}`);
    await storeContent(orphanOld, LONG_AGO);
    await storeContent(orphanRecent, new Date());
    await storeContent(byContent, LONG_AGO);
    await storeContent(byData, LONG_AGO);
    const eventId = stack.uid('evt_sweep');
    for (const [column, hash] of [
      ['content_hash', byContent],
      ['data_hash', byData],
    ]) {
      const userId = stack.uid('u');
      await stack.createRecipient({ id: userId });
      await sql(
        `insert into notifications (event_id, recipient_id, template_code, category, priority, state, workflow_id, ${column})
         values (?, ?, 'order_created', 'order_updates', 'normal', 'delivered', 'w', ?)`,
        [eventId, userId, hash],
      );
    }
    await deleteOrphanContents(stack.orm.em.fork(), new Date(Date.now() - 86_400_000), 1000);
    expect(await present([orphanOld, orphanRecent, byContent, byData])).toEqual([
      orphanRecent,
      byContent,
      byData,
    ]);
    // Once its notification is gone, a content row is an orphan like any other.
    await sql(`delete from notifications where event_id = ?`, [eventId]);
    await deleteOrphanContents(stack.orm.em.fork(), new Date(Date.now() - 86_400_000), 1000);
    expect(await present([orphanRecent, byContent, byData])).toEqual([orphanRecent]);
  });

  it('the retention sweep runs the orphan delete and counts it, whatever NOTIFICATION_RETENTION_DAYS', async () => {
    const [orphan, fresh] = [1, 2].map(() => `test-${randomUUID()}`);
    await storeContent(orphan, LONG_AGO);
    await storeContent(fresh, new Date());
    const counts = await sweepRetention({
      orm: stack.orm,
      settings: retentionSettingsFrom({ NOTIFICATION_RETENTION_DAYS: '0' }),
      frequencyCaps: [],
    });
    expect(counts.notifications).toBe(0);
    expect(counts.notification_contents).toBeGreaterThanOrEqual(1);
    expect(await present([orphan, fresh])).toEqual([fresh]);
  });

  /**
   * Runs STORE_CONTENTS for `hash` in a transaction of its own and, while it is open, whether another
   * transaction can lock that content row within a second (false: the store holds it).
   */
  const lockableWhileStoring = async (hash: string): Promise<boolean> => {
    const knex = stack.orm.em.getConnection().getKnex();
    return knex.transaction(async (storing) => {
      await storing.raw(`with ${STORE_CONTENTS} select 1`, [JSON.stringify([{ hash, content: { x: 1 } }])]);
      return knex.transaction(async (other) => {
        await other.raw(`set local lock_timeout = '1s'`);
        try {
          await other.raw(`select 1 from notification_contents where hash = ? for update`, [hash]);
          return true;
        } catch (err) {
          if (!/lock timeout/.test(String(err))) throw err;
          return false;
        }
      });
    });
  };

  it('stores against a recently used content row without locking it (concurrent pages sharing it do not wait), an older one locked', async () => {
    const [fresh, old] = [1, 2].map(() => `test-${randomUUID()}`);
    await storeContent(fresh, new Date(Date.now() - CONTENT_FRESH_MS / 2));
    await storeContent(old, new Date(Date.now() - CONTENT_FRESH_MS - 60_000));
    expect(await lockableWhileStoring(fresh)).toBe(true);
    // Old enough that the sweep's grace could run out: touched, so the sweep cannot take it under the insert.
    expect(await lockableWhileStoring(old)).toBe(false);
    const [row] = await sql<{ used_at: Date }>(`select used_at from notification_contents where hash = ?`, [
      old,
    ]);
    expect(Date.now() - new Date(row.used_at).getTime()).toBeLessThan(60_000);
  });

  it('a sweep racing an insert that references an old orphan neither deletes it under the insert nor after', async () => {
    const eventId = stack.uid('evt_race');
    const content = { in_app: { title: `race ${eventId}`, body: 'b' } };
    const owner = { eventId, workflowId: `event-${eventId}`, tracked: false };
    const [userId, other] = [stack.uid('u'), stack.uid('u')];
    for (const id of [userId, other]) await stack.createRecipient({ id });
    // An old orphan with exactly this content, as retention leaves one (two rows share it: stored by hash).
    await insertRows(stack.orm.em.fork(), owner, [
      rowWith(eventId, userId, content),
      rowWith(eventId, other, content),
    ]);
    const [{ content_hash: hash }] = await hashesOf(eventId);
    expect(hash).not.toBeNull();
    await sql(`delete from notifications where event_id = ?`, [eventId]);
    await sql(`update notification_contents set used_at = ? where hash = ?`, [LONG_AGO, hash]);

    let duringInsert: string[] = [];
    await stack.orm.em.fork().transactional(async (tx) => {
      // The insert touched (and locked) the content row; the sweep, on another connection, skips it.
      await insertRows(tx, owner, [rowWith(eventId, userId, content), rowWith(eventId, other, content)]);
      await deleteOrphanContents(stack.orm.em.fork(), new Date(), 1000);
      duringInsert = await present([hash!]);
    });
    expect(duringInsert).toEqual([hash]);
    await deleteOrphanContents(stack.orm.em.fork(), new Date(Date.now() - 60_000), 1000);
    expect(await present([hash!])).toEqual([hash]);
    const [entity] = await stack.orm.em.fork().find(Notification, { eventId });
    expect(entity.content).toEqual(content);
  });
});

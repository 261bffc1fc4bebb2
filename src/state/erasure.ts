import type { EntityManager } from '@mikro-orm/postgresql';
import { dataOf } from './notification-contents';

/**
 * The deletes of an erasure (docs/data-lifecycle.md, "Erasure"): every row of one recipient, in one
 * transaction, and the anonymised tombstone in its place. The caller has cancelled the recipient's open
 * work before; whatever a workflow admitted meanwhile goes too (the recipient row is locked first, so an
 * admission racing this one waits for it and then finds no such recipient).
 */

/** Rows deleted per family, as the tombstone keeps them. */
export type ErasureCounts = {
  notifications: number;
  sendRecords: number;
  deliveryAttempts: number;
  notificationEvents: number;
  /** Stored content (notification_contents) only the recipient's notifications referenced. */
  notificationContents: number;
  preferences: number;
  digestPreferences: number;
  consents: number;
  consentEvents: number;
  pushSubscriptions: number;
  frequencyCapSends: number;
  /** Campaigns whose segment named the recipient (the id is taken out of `segment.userIds`). */
  campaignSegments: number;
};

export interface ErasedRows {
  tombstoneId: string;
  counts: ErasureCounts;
  /** The notifications deleted that were still open, with their channels (their send jobs may still be queued). */
  openNotifications: { id: string; channels: string[] }[];
  /** Order numbers of the deleted notifications (their order journeys). */
  orderNumbers: string[];
}

/** Notification states a workflow still owns (src/domain/notification-status.ts, isFinalState). */
const OPEN_STATES = `('scheduled', 'waiting_quiet_hours', 'sending')`;

/** Deletes the recipient and everything stored for it; null when there is no such recipient. */
export async function eraseRecipientRows(em: EntityManager, userId: string): Promise<ErasedRows | null> {
  return em.transactional(async (tx) => {
    const conn = tx.getConnection();
    const ctx = tx.getTransactionContext();
    const run = <T>(sql: string, params: unknown[]) => conn.execute<T[]>(sql, params, 'all', ctx);
    const count = async (sql: string, params: unknown[] = [userId]) => (await run(sql, params)).length;
    const locked = await run<{ id: string }>(`select id from recipients where id = ? for update`, [userId]);
    if (locked.length === 0) return null;
    const rows = await run<{
      id: string;
      event_id: string;
      open: boolean;
      order_number: string | null;
      hashes: string[];
      channels: string[];
    }>(
      `select id, event_id, state in ${OPEN_STATES} as open, array(select jsonb_object_keys(channel_states)) as channels, ${dataOf('n')}->>'orderNumber' as order_number,
              array_remove(array[content_hash, data_hash], null) as hashes
         from notifications n where recipient_id = ? for update`,
      [userId],
    );
    const ids = JSON.stringify(rows.map((r) => r.id));
    const inIds = `in (select (jsonb_array_elements_text(?::jsonb))::uuid)`;
    const deliveryAttempts = await count(
      `delete from delivery_attempts where notification_id ${inIds} returning 1`,
      [ids],
    );
    const sendRecords = await count(`delete from send_records where notification_id ${inIds} returning 1`, [
      ids,
    ]);
    const notifications = await count(`delete from notifications where recipient_id = ? returning 1`);
    // Event rows left without notifications go (the shopper's own events); shared ones stay.
    const notificationEvents = await count(
      `delete from notification_events e
        where e.event_id in (select jsonb_array_elements_text(?::jsonb))
          and not exists (select 1 from notifications n where n.event_id = e.event_id)
        returning 1`,
      [JSON.stringify([...new Set(rows.map((r) => r.event_id))])],
    );
    const counts: ErasureCounts = {
      notifications,
      sendRecords,
      deliveryAttempts,
      notificationEvents,
      notificationContents: await count(
        `delete from notification_contents where hash in (
           select c.hash from notification_contents c
            where c.hash in (select jsonb_array_elements_text(?::jsonb))
              and not exists (select 1 from notifications n where n.content_hash = c.hash)
              and not exists (select 1 from notifications n where n.data_hash = c.hash)
            for update skip locked)
         returning 1`,
        [JSON.stringify([...new Set(rows.flatMap((r) => r.hashes))])],
      ),
      ...(await deleteRecipientFamilies(count, userId)),
    };
    await run(`delete from recipients where id = ?`, [userId]);
    const [tombstone] = await run<{ id: string }>(
      `insert into erased_recipients (counts) values (?::jsonb) returning id`,
      [JSON.stringify(counts)],
    );
    return {
      tombstoneId: tombstone.id,
      counts,
      openNotifications: rows.filter((r) => r.open).map((r) => ({ id: r.id, channels: r.channels })),
      orderNumbers: [...new Set(rows.flatMap((r) => (r.order_number ? [r.order_number] : [])))],
    };
  });
}

/** The recipient's own tables (the foreign keys would cascade; explicit deletes count what went). */
async function deleteRecipientFamilies(
  count: (sql: string, params?: unknown[]) => Promise<number>,
  userId: string,
): Promise<
  Omit<
    ErasureCounts,
    'notifications' | 'sendRecords' | 'deliveryAttempts' | 'notificationEvents' | 'notificationContents'
  >
> {
  return {
    preferences: await count(`delete from preferences where recipient_id = ? returning 1`),
    digestPreferences: await count(`delete from digest_preferences where recipient_id = ? returning 1`),
    consents: await count(`delete from consents where recipient_id = ? returning 1`),
    consentEvents: await count(`delete from consent_events where recipient_id = ? returning 1`),
    pushSubscriptions: await count(`delete from push_subscriptions where recipient_id = ? returning 1`),
    frequencyCapSends: await count(`delete from frequency_cap_sends where recipient_id = ? returning 1`),
    // Campaigns naming the recipient in their segment forget the id (fan-out skips unknown ids anyway).
    campaignSegments: await count(
      `update campaigns
          set segment = jsonb_set(segment, '{userIds}',
                (select coalesce(jsonb_agg(u), '[]'::jsonb) from jsonb_array_elements(segment->'userIds') u
                  where u <> to_jsonb(?::text))),
              updated_at = now()
        where segment->'userIds' @> jsonb_build_array(?::text) returning 1`,
      [userId, userId],
    ),
  };
}

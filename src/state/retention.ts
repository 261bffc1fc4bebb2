import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * The deletes of retention (docs/data-lifecycle.md): only rows no workflow owns any more, in batches
 * of `limit` rows, children before parents. Every batch picks its rows with `for update skip locked`,
 * so two sweepers at once never delete (or wait on) the same rows. Consent events are never deleted.
 */

/** Notification states a workflow still owns (src/domain/notification-status.ts, isFinalState). */
const OPEN_STATES = `('scheduled', 'waiting_quiet_hours', 'sending')`;

export interface NotificationBatch {
  notifications: number;
  sendRecords: number;
  deliveryAttempts: number;
  events: number;
}

/**
 * Deletes up to `limit` final notifications created before `before` (an unread inbox row only when
 * created before `unreadBefore`; never when that is null), with their attempts and send records, and
 * the event rows (notification_events) whose last notification went and that have no open channel.
 */
export async function deleteOldNotifications(
  em: EntityManager,
  cut: { before: Date; unreadBefore: Date | null },
  limit: number,
): Promise<NotificationBatch> {
  return em.transactional(async (tx) => {
    const conn = tx.getConnection();
    const ctx = tx.getTransactionContext();
    const picked: { id: string; event_id: string }[] = await conn.execute(
      `select id, event_id from notifications
        where state not in ${OPEN_STATES} and created_at < ?
          and (delivered_at is null or read_at is not null or created_at < ?::timestamptz)
        order by created_at limit ? for update skip locked`,
      [cut.before, cut.unreadBefore, limit],
      'all',
      ctx,
    );
    if (picked.length === 0) return { notifications: 0, sendRecords: 0, deliveryAttempts: 0, events: 0 };
    const ids = JSON.stringify(picked.map((p) => p.id));
    const count = async (sql: string, params: unknown[]) =>
      (await conn.execute<unknown[]>(sql, params, 'all', ctx)).length;
    const inIds = `in (select (jsonb_array_elements_text(?::jsonb))::uuid)`;
    const deliveryAttempts = await count(
      `delete from delivery_attempts where notification_id ${inIds} returning 1`,
      [ids],
    );
    const sendRecords = await count(`delete from send_records where notification_id ${inIds} returning 1`, [
      ids,
    ]);
    const notifications = await count(`delete from notifications where id ${inIds} returning 1`, [ids]);
    const events = await count(
      `delete from notification_events e
        where e.event_id in (select jsonb_array_elements_text(?::jsonb)) and e.open_channels = 0
          and not exists (select 1 from notifications n where n.event_id = e.event_id)
        returning 1`,
      [JSON.stringify([...new Set(picked.map((p) => p.event_id))])],
    );
    return { notifications, sendRecords, deliveryAttempts, events };
  });
}

/** Deletes up to `limit` delivery attempts finished before `before`, of final notifications only. */
export async function deleteOldDeliveryAttempts(
  em: EntityManager,
  before: Date,
  limit: number,
): Promise<number> {
  const rows: unknown[] = await em.getConnection().execute(
    `delete from delivery_attempts where id in (
       select a.id from delivery_attempts a join notifications n on n.id = a.notification_id
        where a.finished_at < ? and n.state not in ${OPEN_STATES}
        order by a.finished_at limit ? for update of a skip locked)
     returning 1`,
    [before, limit],
  );
  return rows.length;
}

/**
 * Deletes up to `limit` frequency-cap ledger entries from before `before` (older than every cap
 * window: no cap counts them; an admission purges them too, but only for its own recipient).
 */
export async function deleteOldCapLedger(em: EntityManager, before: Date, limit: number): Promise<number> {
  const rows: unknown[] = await em.getConnection().execute(
    `delete from frequency_cap_sends where ctid in (
       select ctid from frequency_cap_sends where sent_at < ? limit ? for update skip locked)
     returning 1`,
    [before, limit],
  );
  return rows.length;
}

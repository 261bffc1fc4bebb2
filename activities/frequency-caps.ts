import type { EntityManager } from '@mikro-orm/postgresql';
import { isDigestTemplate } from '../src/domain/digest';
import { capReason, type FrequencyCap } from '../src/domain/frequency-caps';
import type { NotificationRowInput } from '../src/state/notification-store';
import { suppressedFields, type DigestRouter } from './digest-activities';
import type { EventSpec } from './event-spec';

/**
 * Frequency caps at the moment notifications go out (docs/digests-and-caps.md): each recipient's
 * admissions in a capped category are counted in `frequency_cap_sends` under an advisory lock per
 * recipient and category, so two events admitted at once never both pass a cap of 1. A notification
 * over the cap is stored suppressed, its channels carrying the reason (and, for a `digest` rule, its
 * event goes into the recipient's daily digest of the category).
 */
export function createFrequencyCaps(caps: FrequencyCap[], digests: DigestRouter) {
  return {
    apply: (db: EntityManager, spec: EventSpec, rows: NotificationRowInput[], nowMs: number) =>
      applyCaps(caps, digests, db, spec, rows, nowMs),
  };
}

export type FrequencyCaps = ReturnType<typeof createFrequencyCaps>;

/** The rows with those over their recipient's cap turned suppressed; rows not about to send pass as they are. */
async function applyCaps(
  caps: FrequencyCap[],
  digests: DigestRouter,
  db: EntityManager,
  spec: EventSpec,
  rows: NotificationRowInput[],
  nowMs: number,
): Promise<NotificationRowInput[]> {
  const cap = caps.find((c) => c.category === spec.category);
  const sending = rows.filter((r) => r.state === 'sending').map((r) => r.recipient_id);
  if (!cap || sending.length === 0 || isDigestTemplate(spec.templateCode)) return rows;
  const over = await reserve(db, cap, spec.eventId, sending, nowMs);
  if (over.size === 0) return rows;
  if (cap.action === 'digest') await digests.fold(db, spec, [...over], nowMs);
  const reason = capReason(cap);
  return rows.map((r) =>
    r.state === 'sending' && over.has(r.recipient_id)
      ? {
          ...r,
          ...suppressedFields(Object.keys(r.channel_states) as NotificationRowInput['channels'], reason),
        }
      : r,
  );
}

/**
 * In one transaction: locks (recipient, category) in a fixed order, drops entries older than the
 * window, counts each recipient's entries in the window, and records this event for those under the
 * cap. An entry of this same event (a retried step) passes again. Returns the recipients over the cap.
 * Round trips: BEGIN, lock, count, insert, COMMIT.
 */
async function reserve(
  db: EntityManager,
  cap: FrequencyCap,
  eventId: string,
  userIds: string[],
  nowMs: number,
): Promise<Set<string>> {
  const ids = JSON.stringify(userIds);
  const since = new Date(nowMs - cap.windowMs);
  return db.transactional(async (tx) => {
    const ctx = tx.getTransactionContext();
    const conn = tx.getConnection();
    // OFFSET 0 keeps the sorted subquery as it is, so the locks are taken in that order (no deadlock).
    await conn.execute(
      `select count(pg_advisory_xact_lock(hashtextextended('frequency-cap:' || ? || ':' || k, 0)))
         from (select jsonb_array_elements_text(?::jsonb) as k order by 1 offset 0) s`,
      [cap.category, ids],
      'all',
      ctx,
    );
    const counts: { recipient_id: string; recent: number; mine: boolean }[] = await conn.execute(
      `with purge as (
         delete from frequency_cap_sends where category = ? and sent_at < ?
            and recipient_id in (select jsonb_array_elements_text(?::jsonb)))
       select recipient_id, (count(*) filter (where event_id <> ?))::int as recent, bool_or(event_id = ?) as mine
         from frequency_cap_sends
        where category = ? and sent_at >= ? and recipient_id in (select jsonb_array_elements_text(?::jsonb))
        group by recipient_id`,
      [cap.category, since, ids, eventId, eventId, cap.category, since, ids],
      'all',
      ctx,
    );
    const byId = new Map(counts.map((c) => [c.recipient_id, c]));
    const over = new Set(
      userIds.filter((id) => !byId.get(id)?.mine && (byId.get(id)?.recent ?? 0) >= cap.max),
    );
    const admitted = userIds.filter((id) => !over.has(id) && !byId.get(id)?.mine);
    if (admitted.length > 0) {
      await conn.execute(
        `insert into frequency_cap_sends (recipient_id, category, event_id, sent_at)
         select k, ?, ?, ? from jsonb_array_elements_text(?::jsonb) k on conflict do nothing`,
        [cap.category, eventId, new Date(nowMs), JSON.stringify(admitted)],
        'all',
        ctx,
      );
    }
    return over;
  });
}

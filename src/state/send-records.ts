import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Channel } from '../domain/channels';

export type ClaimResult =
  | {
      claimed: true;
      /** Identifies this claim; only its holder may release it. */
      token: string;
      /** Set when a stale claim of a dead worker was taken over: that worker may or may not have reached the provider. */
      takenOver: { claimedBy: string; claimedAt: Date } | null;
    }
  | { claimed: false; status: 'sent'; providerMessageId: string | null }
  /** The channel was given up (fallback taken, notification cancelled): never call the provider. */
  | { claimed: false; status: 'cancelled' }
  /** A worker died mid-send on an at-most-once channel: whether the provider got it is unknown, and it is never sent again. */
  | { claimed: false; status: 'unknown' }
  /** Another worker holds a live claim; it counts as dead after staleInMs. */
  | { claimed: false; status: 'sending'; staleInMs: number };

/**
 * The exactly-once guard: a worker claims (notification, channel) in Postgres before it calls the
 * provider and marks it sent after. `sent` is final: nobody calls the provider again.
 * A claim older than staleAfterMs belongs to a worker that died mid-send and may be taken over; the
 * resend carries the same idempotency key, which providers that honour one use to drop the copy.
 */
export class SendRecordStore {
  constructor(private readonly staleAfterMs: number) {}

  async claim(
    em: EntityManager,
    notificationId: string,
    channel: Channel,
    workerId: string,
  ): Promise<ClaimResult> {
    const conn = em.getConnection();
    const token = `${workerId}/${randomUUID()}`;
    // `previous` is read from the statement's snapshot: who held the row before, for the takeover record.
    // `live` holds the notification FOR SHARE: a cancel (which locks it FOR UPDATE) is either seen here or waits.
    const claimed = await conn.execute(
      `with previous as (
         select status, claimed_by, claimed_at from send_records where notification_id = ? and channel = ?
       ), live as (
         select id from notifications
          where id = ? and state not in ('cancelled', 'expired') and coalesce(channel_states->?->>'state', '') not in ('cancelled', 'expired') for share
       )
       insert into send_records (notification_id, channel, status, claimed_by, claimed_at)
       select ?, ?, 'sending', ?, now() from live
       on conflict (notification_id, channel) do update
         set status = 'sending', claimed_by = excluded.claimed_by, claimed_at = excluded.claimed_at, provider_message_id = null
         where send_records.status = 'failed'
            or (send_records.status = 'sending' and send_records.claimed_at < now() - (? * interval '1 millisecond'))
       returning (select status from previous) as previous_status,
                 (select claimed_by from previous) as previous_claimed_by,
                 (select claimed_at from previous) as previous_claimed_at`,
      [notificationId, channel, notificationId, channel, notificationId, channel, token, this.staleAfterMs],
    );
    if (claimed.length > 0) {
      const row = claimed[0];
      const takenOver =
        row.previous_status === 'sending'
          ? { claimedBy: row.previous_claimed_by, claimedAt: new Date(row.previous_claimed_at) }
          : null;
      return { claimed: true, token, takenOver };
    }
    const [row] = await conn.execute(
      `select s.status, s.provider_message_id, n.state as notification_state, n.channel_states->?->>'state' as channel_state,
              greatest(0, ceil(extract(epoch from (s.claimed_at + (? * interval '1 millisecond') - now())) * 1000))::int as stale_in_ms
         from (select 1) one
         left join send_records s on s.notification_id = ? and s.channel = ?
         left join notifications n on n.id = ?`,
      [channel, this.staleAfterMs, notificationId, channel, notificationId],
    );
    if (row?.status === 'sent')
      return { claimed: false, status: 'sent', providerMessageId: row.provider_message_id };
    if (row?.status === 'unknown') return { claimed: false, status: 'unknown' };
    // Cancelled, or expired by the deadline reconcile (docs/contracts.md, "Durability invariants"): a late job sends nothing.
    const closed = ['cancelled', 'expired'];
    if (
      row?.status === 'cancelled' ||
      closed.includes(row?.notification_state) ||
      closed.includes(row?.channel_state) ||
      !row?.notification_state
    ) {
      return { claimed: false, status: 'cancelled' };
    }
    // Still sending elsewhere (or released in between: then staleInMs is irrelevant and the next try claims it).
    return {
      claimed: false,
      status: 'sending',
      staleInMs: row?.status === 'sending' ? Number(row.stale_in_ms) : 0,
    };
  }

  /** Final: the provider accepted the message. Unconditional, since a sent message is sent whoever held the claim. */
  async markSent(
    em: EntityManager,
    notificationId: string,
    channel: Channel,
    providerMessageId: string | null,
  ): Promise<void> {
    await em
      .getConnection()
      .execute(
        `update send_records set status = 'sent', provider_message_id = ?, sent_at = now() where notification_id = ? and channel = ?`,
        [providerMessageId, notificationId, channel],
      );
  }

  /** Final for an at-most-once channel whose claim was taken over from a dead worker: nobody calls the provider again. */
  async markUnknown(
    em: EntityManager,
    notificationId: string,
    channel: Channel,
    token: string,
  ): Promise<void> {
    await em
      .getConnection()
      .execute(
        `update send_records set status = 'unknown' where notification_id = ? and channel = ? and status = 'sending' and claimed_by = ?`,
        [notificationId, channel, token],
      );
  }

  /** True when the record says sent (a write whose answer got lost may have committed). */
  async isSent(em: EntityManager, notificationId: string, channel: Channel): Promise<boolean> {
    const rows = await em
      .getConnection()
      .execute(`select 1 from send_records where notification_id = ? and channel = ? and status = 'sent'`, [
        notificationId,
        channel,
      ]);
    return rows.length > 0;
  }

  /** Gives a claim back after a failed provider call, so a retry may claim it; a claim taken over since is left alone. */
  async release(em: EntityManager, notificationId: string, channel: Channel, token: string): Promise<void> {
    await em
      .getConnection()
      .execute(
        `update send_records set status = 'failed' where notification_id = ? and channel = ? and status = 'sending' and claimed_by = ?`,
        [notificationId, channel, token],
      );
  }
}

/** The notification whose channel a provider accepted under this message id (receipts without our metadata). */
export async function notificationIdBySentMessage(
  em: EntityManager,
  channel: Channel,
  providerMessageId: string,
): Promise<string | null> {
  const [row] = await em
    .getConnection()
    .execute<{ notification_id: string }[]>(
      `select notification_id from send_records where provider_message_id = ? and channel = ? limit 1`,
      [providerMessageId, channel],
    );
  return row?.notification_id ?? null;
}

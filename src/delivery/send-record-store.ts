import type { EntityManager } from '@mikro-orm/postgresql';
import type { Channel } from '../domain/channels';

export type ClaimResult =
  | { claimed: true }
  | { claimed: false; status: 'sent'; providerMessageId: string | null }
  | { claimed: false; status: 'sending' };

/**
 * The exactly-once guard: a worker claims (notification, channel) before it calls the provider.
 * A claim older than staleAfterMs belongs to a worker that died mid-send and may be taken over;
 * the provider's idempotency key (same per notification and channel) covers that window.
 */
export class SendRecordStore {
  constructor(private readonly staleAfterMs: number) {}

  async claim(em: EntityManager, notificationId: string, channel: Channel, workerId: string): Promise<ClaimResult> {
    const conn = em.getConnection();
    const claimed = await conn.execute(
      `insert into send_records (notification_id, channel, status, claimed_by, claimed_at)
       values (?, ?, 'sending', ?, now())
       on conflict (notification_id, channel) do update
         set status = 'sending', claimed_by = excluded.claimed_by, claimed_at = now()
         where send_records.status = 'failed'
            or (send_records.status = 'sending' and send_records.claimed_at < now() - (? * interval '1 millisecond'))
       returning status`,
      [notificationId, channel, workerId, this.staleAfterMs],
    );
    if (claimed.length > 0) return { claimed: true };
    const [row] = await conn.execute(`select status, provider_message_id from send_records where notification_id = ? and channel = ?`, [notificationId, channel]);
    if (row?.status === 'sent') return { claimed: false, status: 'sent', providerMessageId: row.provider_message_id };
    return { claimed: false, status: 'sending' };
  }

  async markSent(em: EntityManager, notificationId: string, channel: Channel, providerMessageId: string | null): Promise<void> {
    await em.getConnection().execute(
      `update send_records set status = 'sent', provider_message_id = ?, sent_at = now() where notification_id = ? and channel = ?`,
      [providerMessageId, notificationId, channel],
    );
  }

  /** Releases a claim after a failed call, so a retry may claim it again. */
  async release(em: EntityManager, notificationId: string, channel: Channel): Promise<void> {
    await em.getConnection().execute(
      `update send_records set status = 'failed' where notification_id = ? and channel = ? and status = 'sending'`,
      [notificationId, channel],
    );
  }
}

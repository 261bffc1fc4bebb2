import type { EntityManager } from '@mikro-orm/postgresql';
import type { Channel } from '../../domain/channels';

/** One minute of the operators' overview. */
export interface MinuteStats {
  at: Date;
  /** Distinct event ids whose notifications were stored in that minute. */
  events: number;
  /** Delivery attempts that succeeded (a channel delivered). */
  delivered: number;
  /** Channel sends that failed for good: their last attempt failed and the channel's state is failed. */
  failed: number;
}

export interface RecentFailure {
  notificationId: string;
  eventId: string;
  recipientId: string;
  channel: Channel;
  error: string | null;
  at: Date;
}

/** ISO 8601 UTC from Postgres (MikroORM turns off pg's date parsing, so timestamps arrive as text). */
const iso = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The last attempt of a channel that failed for good, within [from, to): retries that are still to
 * come, and channels a later attempt (or a fallback's retry) delivered, are not failures.
 */
const FAILED_FOR_GOOD = `
  select a.notification_id, a.channel, a.error, a.finished_at, n.event_id, n.recipient_id
    from delivery_attempts a join notifications n on n.id = a.notification_id
   where a.status = 'failed' and a.finished_at >= ? and a.finished_at < ?
     and n.channel_states -> a.channel ->> 'state' = 'failed'
     and not exists (select 1 from delivery_attempts later
                      where later.notification_id = a.notification_id and later.channel = a.channel and later.attempt > a.attempt)`;

/** Set-based counts for the operators' dashboard (docs/contracts.md, "Browser surfaces"); a few queries, no row loops. */
export class DeliveryStatsRepository {
  constructor(private readonly em: EntityManager) {}

  /** Every minute of [from, to) (both whole minutes), oldest first, zeros included. */
  async perMinute(from: Date, to: Date): Promise<MinuteStats[]> {
    const rows: { at: string; events: number; delivered: number; failed: number }[] = await this.em
      .getConnection()
      .execute(
        `with minutes as (
         select generate_series(?::timestamptz, ?::timestamptz - interval '1 minute', interval '1 minute') as at
       ), events as (
         select date_trunc('minute', created_at) as at, count(distinct event_id)::int as n
           from notifications where created_at >= ? and created_at < ? group by 1
       ), delivered as (
         select date_trunc('minute', finished_at) as at, count(*)::int as n
           from delivery_attempts where status = 'delivered' and finished_at >= ? and finished_at < ? group by 1
       ), failed as (
         select date_trunc('minute', finished_at) as at, count(*)::int as n from (${FAILED_FOR_GOOD}) f group by 1
       )
       select ${iso('m.at')} as at, coalesce(e.n, 0) as events, coalesce(d.n, 0) as delivered, coalesce(f.n, 0) as failed
         from minutes m
         left join events e on e.at = m.at
         left join delivered d on d.at = m.at
         left join failed f on f.at = m.at
        order by m.at`,
        [from, to, from, to, from, to, from, to],
      );
    return rows.map((row) => ({
      at: new Date(row.at),
      events: row.events,
      delivered: row.delivered,
      failed: row.failed,
    }));
  }

  /** Distinct events in [from, to): an event whose notifications span minutes counts once. */
  async eventCount(from: Date, to: Date): Promise<number> {
    const [row] = await this.em
      .getConnection()
      .execute<{ n: number }[]>(
        `select count(distinct event_id)::int as n from notifications where created_at >= ? and created_at < ?`,
        [from, to],
      );
    return row.n;
  }

  /** The newest channel sends that failed for good in [from, to). */
  async recentFailures(from: Date, to: Date, limit: number): Promise<RecentFailure[]> {
    const rows: {
      notification_id: string;
      event_id: string;
      recipient_id: string;
      channel: Channel;
      error: string | null;
      at: string;
    }[] = await this.em.getConnection().execute(
      `select notification_id, event_id, recipient_id, channel, error, ${iso('finished_at')} as at
           from (${FAILED_FOR_GOOD}) f order by finished_at desc, notification_id limit ?`,
      [from, to, limit],
    );
    return rows.map((row) => ({
      notificationId: row.notification_id,
      eventId: row.event_id,
      recipientId: row.recipient_id,
      channel: row.channel,
      error: row.error,
      at: new Date(row.at),
    }));
  }
}

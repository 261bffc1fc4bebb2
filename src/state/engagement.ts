import type { EntityManager } from '@mikro-orm/postgresql';
import type { Channel } from '../domain/channels';

/** What we observed of one notification on one channel (docs/contracts.md, "Engagement"). */
export type EngagementKind =
  | 'sent'
  | 'delivered'
  | 'undelivered'
  | 'bounced'
  | 'complained'
  | 'opened'
  | 'clicked'
  | 'read'
  | 'converted';

export interface EngagementInput {
  notificationId: string;
  channel: Channel;
  kind: EngagementKind;
  /** When it happened (a provider's receipt time); now when absent. */
  at?: Date;
  detail?: Record<string, unknown>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Idempotent per (notification, channel, kind): the first call inserts (first: true), later calls bump
 * count/last_at. The single writer of notification_engagement. An unknown notification (erased by
 * retention, or an id that was never ours) answers { first: false, count: 0 }: a late click is no error.
 */
export async function recordEngagement(
  em: EntityManager,
  input: EngagementInput,
): Promise<{ first: boolean; count: number }> {
  if (!UUID.test(input.notificationId)) return { first: false, count: 0 };
  const at = input.at ?? new Date();
  // Selecting from notifications turns an unknown id into "no row" instead of a foreign-key error;
  // xmax = 0 holds only for a row this statement inserted.
  const rows = await em.getConnection().execute<{ first: boolean; count: number }[]>(
    `insert into notification_engagement (notification_id, channel, kind, first_at, last_at, detail)
     select n.id, ?, ?, ?, ?, ?::jsonb from notifications n where n.id = ?
     on conflict (notification_id, channel, kind) do update
       set count = notification_engagement.count + 1,
           last_at = greatest(notification_engagement.last_at, excluded.last_at)
     returning (xmax = 0) as first, count`,
    [
      input.channel,
      input.kind,
      at,
      at,
      input.detail ? JSON.stringify(input.detail) : null,
      input.notificationId,
    ],
  );
  const row = rows[0];
  return row ? { first: row.first, count: Number(row.count) } : { first: false, count: 0 };
}

/**
 * A CTE (for a statement that inserts notifications) recording engagement for the rows of CTE `rows` (columns
 * id): every kind once, first occurrence at `at`. Rows just inserted have none yet: nothing to count up.
 * Parameters, in order: channel, at (first), at (last), kinds (JSON array).
 */
export function engagementOfInsertedCte(name: string, rows: string): string {
  return `${name} as (
       insert into notification_engagement (notification_id, channel, kind, first_at, last_at)
       select r.id, ?, k.kind, ?::timestamptz, ?::timestamptz
         from ${rows} r cross join jsonb_array_elements_text(?::jsonb) as k(kind)
       on conflict (notification_id, channel, kind) do nothing)`;
}

/**
 * recordEngagement for many notifications and kinds at once, in one statement: the inbox's "mark all
 * read", a set-based in-app page's sent + delivered, a channel worker's acceptance (sent, and delivered
 * where no receipt follows).
 */
export async function recordEngagementOfMany(
  em: EntityManager,
  notificationIds: string[],
  what: { channel: Channel; kinds: readonly EngagementKind[]; at?: Date; detail?: Record<string, unknown> },
): Promise<void> {
  const ids = notificationIds.filter((id) => UUID.test(id));
  if (ids.length === 0 || what.kinds.length === 0) return;
  const at = what.at ?? new Date();
  await em.getConnection().execute(
    `insert into notification_engagement (notification_id, channel, kind, first_at, last_at, detail)
     select n.id, ?, k.kind, ?, ?, ?::jsonb
       from notifications n cross join jsonb_array_elements_text(?::jsonb) as k(kind)
      where n.id in (select jsonb_array_elements_text(?::jsonb)::uuid)
     on conflict (notification_id, channel, kind) do update
       set count = notification_engagement.count + 1,
           last_at = greatest(notification_engagement.last_at, excluded.last_at)`,
    [
      what.channel,
      at,
      at,
      what.detail ? JSON.stringify(what.detail) : null,
      JSON.stringify(what.kinds),
      JSON.stringify(ids),
    ],
  );
}

export interface EngagementRow {
  channel: Channel;
  kind: EngagementKind;
  firstAt: Date;
  lastAt: Date;
  count: number;
  detail: Record<string, unknown> | null;
}

/** A notification's engagement rows, first occurrence first (the operator's trace). */
export async function engagementOf(em: EntityManager, notificationId: string): Promise<EngagementRow[]> {
  if (!UUID.test(notificationId)) return [];
  const rows = await em
    .getConnection()
    .execute<Record<string, unknown>[]>(
      `select channel, kind, first_at, last_at, count, detail from notification_engagement where notification_id = ? order by seq`,
      [notificationId],
    );
  return rows.map((row) => ({
    channel: row.channel as Channel,
    kind: row.kind as EngagementKind,
    firstAt: new Date(row.first_at as string),
    lastAt: new Date(row.last_at as string),
    count: Number(row.count),
    detail: (row.detail as Record<string, unknown> | null) ?? null,
  }));
}

import type { EntityManager } from '@mikro-orm/postgresql';
import type { ChannelRecords } from '../domain/notification-lifecycle';
import type { NotificationState } from '../domain/notification-status';
import type { ChannelContent } from '../domain/channel-content';
import { contentOf } from './notification-contents';

/** One row's in-app delivery as the lifecycle decided it: what the row held, and what it becomes. */
export interface InAppDeliveryStep {
  id: string;
  /** channel_states as the caller read them: the write only applies while the row still holds them. */
  before: ChannelRecords;
  state: NotificationState;
  channelStates: ChannelRecords;
}

/** A row whose in-app delivery stands: `flipped` here from queued, or stored delivered (by this page or an earlier try). */
export interface InAppDelivered {
  id: string;
  recipient_id: string;
  created_at: Date;
  flipped: boolean;
  /** Its delivery attempt was written by this call (false: an earlier try's stands). */
  attempted: boolean;
}

/** Who delivered: the delivery attempts' provider name, as the in-app channel worker writes it. */
const IN_APP_PROVIDER = 'postgres';

/**
 * A CTE (for the statement that inserts a set-based page's rows, insertRows) writing the delivery attempt of
 * every row of CTE `rows` (columns id, delivered_at): rows stored delivered get their attempt in the same
 * statement, so a retried page finds both or neither. Parameters: none.
 */
export function inAppAttemptsOfInsertedCte(name: string, rows: string): string {
  return `${name} as (
       insert into delivery_attempts (notification_id, channel, attempt, status, provider, provider_message_id, error, started_at, finished_at, duration_ms)
       select r.id, 'in_app', 1, 'delivered', '${IN_APP_PROVIDER}', r.id::text, null, r.delivered_at, r.delivered_at, 0 from ${rows} r)`;
}

/**
 * Records a page of in-app deliveries in one statement (campaign pages, docs/delivery.md "Set-based in-app
 * pages"): rows stored delivered by the page's insert (`stored`), and rows left with their in-app channel
 * queued (`steps`: their lifecycle step, applied while the row still holds `before`). A queued row is
 * locked and then claimed, in the order a worker's claim takes them (the row, then the send record: no
 * deadlock), by inserting its send record `sent` (ON CONFLICT sees a worker's claim even when it committed
 * after this statement's snapshot): only a row claimed here changes, so a worker's claim wins and its job,
 * if any, finds the record and sends nothing. Each gets its delivery attempt unless it has one, so a retried page writes
 * nothing twice. Rows stored delivered need no send record: no job of theirs ever exists, and the row,
 * unique per event and recipient, is the delivery. Returns every row whose in-app delivery stands, for the
 * live feed; rows left out of `steps` keep their channel queued for the caller's hand-off.
 */
export async function deliverInAppRows(
  em: EntityManager,
  steps: InAppDeliveryStep[],
  stored: string[],
): Promise<InAppDelivered[]> {
  if (steps.length === 0 && stored.length === 0) return [];
  return em.getConnection().execute(
    `with x as (
       select * from jsonb_to_recordset(?::jsonb) as x(id uuid, before jsonb, state text, channel_states jsonb)),
     locked as (
       select n.id from notifications n join x on x.id = n.id
        where n.state = 'sending' and n.channel_states = x.before order by n.id for update of n),
     claimed as (
       insert into send_records (notification_id, channel, status, provider_message_id, sent_at)
       select id, 'in_app', 'sent', id::text, now() from locked
       on conflict (notification_id, channel) do nothing
       returning notification_id),
     upd as (
       update notifications n
          set state = x.state, channel_states = x.channel_states, delivered_at = coalesce(n.delivered_at, now()),
              error = null, version = n.version + 1, updated_at = now()
         from x
        where n.id = x.id and n.id in (select notification_id from claimed) and n.channel_states = x.before
       returning n.id, n.recipient_id, n.created_at, n.delivered_at),
     pre as (
       select id, recipient_id, created_at, delivered_at from notifications
        where id in (select jsonb_array_elements_text(?::jsonb)::uuid) and delivered_at is not null),
     delivered as (select *, true as flipped from upd union all select *, false as flipped from pre),
     attempts as (
       insert into delivery_attempts (notification_id, channel, attempt, status, provider, provider_message_id, error, started_at, finished_at, duration_ms)
       select d.id, 'in_app', 1, 'delivered', ?, d.id::text, null, d.delivered_at, d.delivered_at, 0
         from delivered d
        where not exists (select 1 from delivery_attempts a where a.notification_id = d.id and a.channel = 'in_app')
       returning notification_id)
     select id, recipient_id, created_at, flipped, id in (select notification_id from attempts) as attempted from delivered`,
    [
      JSON.stringify(
        steps.map((s) => ({ id: s.id, before: s.before, state: s.state, channel_states: s.channelStates })),
      ),
      JSON.stringify(stored),
      IN_APP_PROVIDER,
    ],
  );
}

/** A staged campaign row whose in-app channel is still queued and unclaimed, with its rendered content. */
export interface QueuedInAppRow {
  id: string;
  recipient_id: string;
  state: NotificationState;
  channel_states: ChannelRecords;
  content: Partial<ChannelContent>;
}

/**
 * The event's sending rows whose in-app channel is queued and has no send record (no worker claimed it),
 * in id order after `afterId`: what a staged campaign's release delivers set-based.
 */
export function queuedInAppRows(
  em: EntityManager,
  eventId: string,
  afterId: string,
  limit: number,
): Promise<QueuedInAppRow[]> {
  return em.getConnection().execute(
    `select n.id, n.recipient_id, n.state, n.channel_states, ${contentOf('n')} as content from notifications n
      where n.event_id = ? and n.state = 'sending' and n.id > ? and n.channel_states->'in_app'->>'state' = 'queued'
        and not exists (select 1 from send_records s where s.notification_id = n.id and s.channel = 'in_app')
      order by n.id limit ?`,
    [eventId, afterId, limit],
  );
}

import type { RequiredEntityData } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Notification } from '../db/entities';
import { engagementOfInsertedCte, recordEngagement, recordEngagementOfMany } from './engagement';
import { inAppAttemptsOfInsertedCte } from './in-app-pages';
import { LEAN_LIFECYCLE, LEAN_ROWS, leanRowsOf } from '../release-0/notification-owner';
import type { Channel } from '../domain/channels';
import type { ChannelContent } from '../domain/channel-content';
import type { RecipientSummary } from '../domain/event-ledger';
import {
  settledState,
  type ChannelRecords,
  type NotificationView,
  type Step,
} from '../domain/notification-lifecycle';
import type { ChannelOutcome, NotificationState } from '../domain/notification-status';
import type { Priority } from '../domain/priorities';
import { ContentBatch, STORE_CONTENTS } from './notification-contents';
import { boundQuery } from '../db/bound-query';

/**
 * The one owner of notification state (docs/contracts.md, "Durability invariants"): every statement
 * that changes `notifications`, the event's open-channel counter in `notification_events`, or closes
 * send records lives here (claims and sent marks: ./send-records.ts). Callers decide with the pure
 * lifecycle (src/domain/notification-lifecycle.ts); these functions write what it decided, each in one
 * statement, so a retried step finds either nothing or all of its write.
 */

/** A notifications row as admission writes it (snake_case: it goes through jsonb_to_recordset). */
export interface NotificationRowInput {
  event_id: string;
  event_type: string | null;
  recipient_id: string;
  template_code: string;
  template_versions: Partial<Record<Channel, number>>;
  category: string;
  priority: string;
  state: NotificationState;
  channels: Channel[];
  workflow_id: string;
  title: string | null;
  body: string | null;
  action_url: string | null;
  action_text: string | null;
  data: Record<string, unknown>;
  content: Partial<ChannelContent>;
  channel_states: ChannelRecords;
  fallbacks: Partial<Record<Channel, Channel>>;
  send_at: string | null;
  /** The recipient's experiment and variant (docs/experiments.md): written at insert only, never changed; absent: none. */
  experiment_id?: string | null;
  variant?: string | null;
  /** Set when the row is stored with its in-app channel delivered (campaign pages, ./in-app-pages.ts). */
  delivered_at?: string | null;
}

/** A notifications row as the steps read it back. */
export interface StoredRow {
  id: string;
  recipient_id: string;
  state: NotificationState;
  channel_states: ChannelRecords | null;
  send_at: string | Date | null;
  error: string | null;
  /** As insertRows answers: when the row was created, and whether this statement inserted it (false: an earlier try did). */
  created_at?: Date;
  inserted?: boolean;
}

/** A row with what reconciling it needs. */
export interface EventRow extends StoredRow {
  channel_states: ChannelRecords;
  fallbacks: Partial<Record<Channel, Channel>>;
  version: number;
  priority: Priority;
}

/** Whose rows these are: the event, the workflow that owns them, and whether that workflow counts open channels. */
export interface RowOwner {
  eventId: string;
  workflowId: string;
  /** Event workflows wait for their outcomes (the counter wakes them); campaigns do not. */
  tracked: boolean;
}

/** A row as written: its content and event data by hash where rows of the statement share them (byHash). */
type WrittenRow = NotificationRowInput & { content_hash: string | null; data_hash: string | null };

const ROW_COLUMNS: [keyof WrittenRow, string][] = [
  ['event_id', 'text'],
  ['event_type', 'text'],
  ['recipient_id', 'text'],
  ['template_code', 'text'],
  ['template_versions', 'jsonb'],
  ['category', 'text'],
  ['priority', 'text'],
  ['state', 'text'],
  ['channels', 'jsonb'],
  ['workflow_id', 'text'],
  ['title', 'text'],
  ['body', 'text'],
  ['action_url', 'text'],
  ['action_text', 'text'],
  ['data', 'jsonb'],
  ['content', 'jsonb'],
  ['content_hash', 'text'],
  ['data_hash', 'text'],
  ['channel_states', 'jsonb'],
  ['fallbacks', 'jsonb'],
  ['send_at', 'timestamptz'],
  ['experiment_id', 'uuid'],
  ['variant', 'text'],
  ['delivered_at', 'timestamptz'],
];
const RECORDSET = `jsonb_to_recordset(?::jsonb) as x(${ROW_COLUMNS.map(([c, t]) => `${c} ${t}`).join(', ')})`;
const OPEN_STATES = `('pending', 'queued')`;
const WAITING_STATES = `('scheduled', 'waiting_quiet_hours')`;
const EVENT_ROW_COLUMNS =
  'id, recipient_id, state, channel_states, fallbacks, send_at, error, version, priority';

// ---- admission ---------------------------------------------------------------------------------

function byHash(
  rows: NotificationRowInput[],
  withData: boolean,
): { written: WrittenRow[]; contents: ContentBatch } {
  const contents = new ContentBatch();
  // One row alone shares nothing: no hashing (a single-recipient event's rows stay as they were).
  const hashes =
    rows.length < 2
      ? rows.map(() => ({ content: null, data: null }))
      : rows.map((row) => ({
          content: contents.register(row.content),
          data: withData ? contents.register(row.data) : null,
        }));
  const written = rows.map((row, i): WrittenRow => {
    const contentHash = contents.storedHash(hashes[i].content);
    const dataHash = contents.storedHash(hashes[i].data);
    return {
      ...row,
      content: contentHash ? {} : row.content,
      // Without `withData` the statement does not write the data: nothing to send.
      data: dataHash || !withData ? {} : row.data,
      content_hash: contentHash,
      data_hash: dataHash,
    };
  });
  return { written, contents };
}

/**
 * Stores admitted rows in one statement, idempotent per event and recipient: rows an earlier try
 * stored come back as they are (`inserted` false), so their open channels are handed off again (same job
 * ids, I3). With `deliveredInApp` (a set-based in-app page, docs/delivery.md "Set-based in-app pages"), the
 * rows stored with their in-app channel delivered get their delivery attempt and their `sent` and `delivered`
 * engagement in the same statement.
 */
export async function insertRows(
  em: EntityManager,
  owner: RowOwner,
  rows: NotificationRowInput[],
  options: InsertOptions = {},
): Promise<StoredRow[]> {
  if (rows.length === 0) return [];
  const { sql, params } = insertRowsStatement(owner, rows, options);
  return boundQuery(em, sql, params);
}

export interface InsertOptions {
  deliveredInApp?: { at: Date };
}

/** insertRows' statement and its parameters (exported for the test that checks its plan). */
export function insertRowsStatement(
  owner: RowOwner,
  rows: NotificationRowInput[],
  options: InsertOptions = {},
): { sql: string; params: unknown[] } {
  const { written, contents } = byHash(rows, true);
  const columns = ROW_COLUMNS.map(([c]) => c).join(', ');
  const counter = owner.tracked
    ? `, counter as (
         insert into notification_events (event_id, workflow_id, spec, open_channels)
         values (?, ?, ?::jsonb, (select count(*) from ins, jsonb_each(ins.channel_states) c where c.value->>'state' in ${OPEN_STATES})
                     + (select count(*) from notifications n, jsonb_each(n.channel_states) c where n.event_id = ? and n.state = 'sending' and c.value->>'state' in ${OPEN_STATES}))
         on conflict (event_id) do update set open_channels = excluded.open_channels, spec = excluded.spec, updated_at = now())`
    : '';
  const delivered = options.deliveredInApp;
  const inApp = delivered
    ? `, delivered_in_app as (select id, delivered_at from ins where channel_states->'in_app'->>'state' = 'delivered'),
       ${inAppAttemptsOfInsertedCte('in_app_attempts', 'delivered_in_app')},
       ${engagementOfInsertedCte('in_app_engagement', 'delivered_in_app')}`
    : '';
  return {
    sql: `with ${STORE_CONTENTS},
     ins as (
       insert into notifications (${columns}, lifecycle)
       select ${columns}, ${LEAN_LIFECYCLE} from ${RECORDSET}
       on conflict (event_id, recipient_id) do nothing
       returning id, recipient_id, state, channel_states, send_at, error, created_at, delivered_at)
     ${counter}
     ${inApp}
     select *, true as inserted from ins
     union all
     select n.id, n.recipient_id, n.state, n.channel_states, n.send_at, n.error, n.created_at, n.delivered_at, false as inserted
       from jsonb_array_elements_text(?::jsonb) as r(id)
       cross join lateral (
         select * from notifications n where n.event_id = ? and n.recipient_id = r.id offset 0) n`,
    params: [
      contents.toParameter(),
      JSON.stringify(written),
      ...(owner.tracked ? [owner.eventId, owner.workflowId, JSON.stringify(owner), owner.eventId] : []),
      ...(delivered ? ['in_app', delivered.at, delivered.at, JSON.stringify(['sent', 'delivered'])] : []),
      // Rows stored by an earlier try: looked up by recipient id, without sending the rows a second time. One
      // unique-index probe per recipient (the lateral subquery, kept apart by `offset 0`): planned as a scan of
      // the event's rows, a campaign's later pages read every row stored before them (statistics never know
      // the event's rows while it inserts them).
      JSON.stringify(rows.map((r) => r.recipient_id)),
      owner.eventId,
    ],
  };
}

/** The plan an event's rows were stored with (its EventSpec), for a redrive after its workflow closed; null when none was kept. */
export async function storedEventSpec(
  em: EntityManager,
  eventId: string,
): Promise<Record<string, unknown> | null> {
  const [row] = await em
    .getConnection()
    .execute(`select spec from notification_events where event_id = ?`, [eventId]);
  return (row?.spec as Record<string, unknown> | undefined) ?? null;
}

/** Notifications of the event that expired (or have an expired channel): what a redrive would send again. */
export async function countExpired(em: EntityManager, eventId: string): Promise<number> {
  const [row] = await em
    .getConnection()
    .execute(
      `select count(*)::int as n from notifications where event_id = ? and ${LEAN_ROWS} and (state = 'expired' or channel_states::text like '%"expired"%')`,
      [eventId],
    );
  return Number(row?.n ?? 0);
}

/**
 * Recipients whose waiting rows are due by the caller's clock (the workflow's, I5), a page at a time.
 * Never early: a row a moment ahead of that clock stays, and its time goes back to the workflow as a
 * wake-up (waitingSendTimes), which is how clocks a few seconds apart are tolerated.
 */
export async function dueRecipientIds(
  em: EntityManager,
  eventId: string,
  nowMs: number,
  limit: number,
): Promise<string[]> {
  const due: { recipient_id: string }[] = await em.getConnection().execute(
    `select recipient_id from notifications
      where event_id = ? and state in ${WAITING_STATES} and send_at <= ?
      order by recipient_id limit ?`,
    [eventId, new Date(nowMs), limit],
  );
  return due.map((d) => d.recipient_id);
}

/** Distinct times at which the event's waiting rows are due (epoch ms): the workflow's timers. */
export async function waitingSendTimes(em: EntityManager, eventId: string): Promise<number[]> {
  const rows: { send_at: Date | string }[] = await em
    .getConnection()
    .execute(
      `select distinct send_at from notifications where event_id = ? and state in ${WAITING_STATES} and send_at is not null order by send_at`,
      [eventId],
    );
  return rows.map((r) => new Date(r.send_at).getTime());
}

/**
 * Writes due rows (rendered and sending, or parked again for quiet hours) unless they were cancelled
 * or moved meanwhile; the counter grows by the channels opened, in the same statement.
 */
export async function startDueRows(
  em: EntityManager,
  owner: RowOwner,
  rows: NotificationRowInput[],
  nowMs: number,
): Promise<StoredRow[]> {
  if (rows.length === 0) return [];
  // The event data was stored with the row (insertRows); only the rendered content is new here.
  const { written, contents } = byHash(rows, false);
  const fixed = [
    'event_id',
    'recipient_id',
    'data',
    'data_hash',
    'workflow_id',
    'event_type',
    'template_code',
    'category',
    'priority',
    // A waiting row keeps the variant it was admitted with (docs/experiments.md).
    'experiment_id',
    'variant',
  ];
  const set = ROW_COLUMNS.filter(([c]) => !fixed.includes(c))
    .map(([c]) => `${c} = x.${c}`)
    .join(', ');
  const counter = owner.tracked
    ? `, counter as (
         update notification_events set open_channels = open_channels
           + (select count(*) from upd, jsonb_each(upd.channel_states) c where c.value->>'state' in ${OPEN_STATES}), updated_at = now()
         where event_id = ?)`
    : '';
  return em.getConnection().execute(
    `with ${STORE_CONTENTS},
     upd as (
       update notifications n set ${set}, version = n.version + 1, updated_at = now()
         from ${RECORDSET}
        where n.event_id = x.event_id and n.recipient_id = x.recipient_id
          and n.state in ${WAITING_STATES} and n.send_at <= ?
       returning n.id, n.recipient_id, n.state, n.channel_states, n.send_at, n.error)
     ${counter}
     select * from upd`,
    [
      contents.toParameter(),
      JSON.stringify(written),
      new Date(nowMs),
      ...(owner.tracked ? [owner.eventId] : []),
    ],
  );
}

/** A recipient deleted, or a template variable missing, while its notification waited: the row fails. */
export async function failWaitingRows(
  em: EntityManager,
  eventId: string,
  failed: RecipientSummary[],
): Promise<void> {
  if (failed.length === 0) return;
  await em.getConnection().execute(
    `update notifications n set state = 'failed', error = x.error, version = n.version + 1, updated_at = now()
       from jsonb_to_recordset(?::jsonb) as x(recipient_id text, error text)
      where n.event_id = ? and n.recipient_id = x.recipient_id and n.state in ${WAITING_STATES}`,
    [JSON.stringify(failed.map((f) => ({ recipient_id: f.userId, error: f.error }))), eventId],
  );
}

/**
 * Open channels of the event's sending rows that no worker has claimed (no send record sending or
 * sent): what a retried step hands off again (I3). Existing jobs make that a no-op.
 */
export async function unclaimedOpenChannels(
  em: EntityManager,
  eventId: string,
): Promise<{ id: string; channel: Channel; priority: Priority }[]> {
  return em.getConnection().execute(
    `select n.id, c.key as channel, n.priority
       from notifications n, jsonb_each(n.channel_states) c
      where n.event_id = ? and n.state = 'sending' and c.value->>'state' = 'queued'
        and not exists (select 1 from send_records s where s.notification_id = n.id and s.channel = c.key and s.status in ('sending', 'sent'))`,
    [eventId],
  );
}

// ---- control -----------------------------------------------------------------------------------

/** Moves the event's waiting rows (one recipient's or all) to a new send time. */
export async function rescheduleWaiting(
  em: EntityManager,
  eventId: string,
  userId: string | undefined,
  sendAt: Date,
): Promise<void> {
  await em.getConnection().execute(
    `update notifications set state = 'scheduled', send_at = ?, version = version + 1, updated_at = now()
      where event_id = ?${userId === undefined ? '' : ' and recipient_id = ?'} and state in ${WAITING_STATES}`,
    [sendAt, eventId, ...(userId === undefined ? [] : [userId])],
  );
}

/**
 * Cancels waiting notifications, and sending ones whose channels no worker has claimed yet (no
 * provider was called). The rows are locked first, so a worker's claim (which reads the row FOR
 * SHARE, SendRecordStore.claim) either committed before the send records are read here (the
 * notification is refused) or waits and then finds it cancelled.
 */
export async function cancelBeforeProviders(
  em: EntityManager,
  eventId: string,
  userId: string | undefined,
  error: string,
): Promise<void> {
  const who = userId === undefined ? '' : ' and recipient_id = ?';
  const whoArgs = userId === undefined ? [] : [userId];
  await em.transactional(async (tx) => {
    const ctx = tx.getTransactionContext();
    const conn = tx.getConnection();
    const rows: { id: string; state: NotificationState; channel_states: ChannelRecords }[] =
      await conn.execute(
        `select id, state, channel_states from notifications
        where event_id = ?${who} and state in ('scheduled', 'waiting_quiet_hours', 'sending') order by id for update`,
        [eventId, ...whoArgs],
        'all',
        ctx,
      );
    const sending = rows.filter((r) => r.state === 'sending').map((r) => r.id);
    const claimed: { notification_id: string }[] = sending.length
      ? await conn.execute(
          `select distinct notification_id from send_records
            where notification_id in (select jsonb_array_elements_text(?::jsonb)::uuid) and status in ('sending', 'sent')`,
          [JSON.stringify(sending)],
          'all',
          ctx,
        )
      : [];
    const untouchable = new Set(claimed.map((c) => c.notification_id));
    const cancel = rows.filter((r) => !untouchable.has(r.id));
    if (cancel.length === 0) return;
    let closedChannels = 0;
    for (const row of cancel) {
      const closed = closeOpenChannels(row.channel_states ?? {}, 'cancelled');
      closedChannels += closed.count;
      row.channel_states = closed.channels;
    }
    await conn.execute(
      `update notifications n set state = 'cancelled', error = ?, send_at = null, channel_states = x.channel_states, version = n.version + 1, updated_at = now()
         from jsonb_to_recordset(?::jsonb) as x(id uuid, channel_states jsonb) where n.id = x.id`,
      [error, JSON.stringify(cancel.map((r) => ({ id: r.id, channel_states: r.channel_states })))],
      'all',
      ctx,
    );
    if (closedChannels > 0) {
      await conn.execute(
        `update notification_events set open_channels = greatest(open_channels - ?, 0), updated_at = now() where event_id = ?`,
        [closedChannels, eventId],
        'all',
        ctx,
      );
    }
  });
}

/** Cancels one waiting notification in place (campaign notifications: no workflow holds them); false if it no longer waits. */
export async function cancelWaitingById(em: EntityManager, id: string, error: string): Promise<boolean> {
  const rows = await em.getConnection().execute(
    `update notifications set state = 'cancelled', error = ?, send_at = null, version = version + 1, updated_at = now()
      where id = ? and state in ${WAITING_STATES} returning id`,
    [error, id],
  );
  return rows.length > 0;
}

/** Cancels every still-waiting row of an event (a cancelled campaign's quiet-hours rows); returns how many. */
export async function cancelWaitingOfEvent(
  em: EntityManager,
  eventId: string,
  error: string,
): Promise<number> {
  const rows = await em.getConnection().execute(
    `update notifications set state = 'cancelled', error = ?, send_at = null, version = version + 1, updated_at = now()
      where event_id = ? and state in ${WAITING_STATES} returning id`,
    [error, eventId],
  );
  return rows.length;
}

// ---- reconcile and expiry ----------------------------------------------------------------------

/** The event's rows (one recipient's, or all) with what reconciling needs. */
export function eventRows(em: EntityManager, eventId: string, userId?: string): Promise<EventRow[]> {
  return em
    .getConnection()
    .execute(
      `select ${EVENT_ROW_COLUMNS} from notifications where event_id = ? and ${LEAN_ROWS}${userId === undefined ? '' : ' and recipient_id = ?'}`,
      [eventId, ...(userId === undefined ? [] : [userId])],
    );
}

/** A page of the event's sending rows with an open channel past its deadline, in id order after `afterId` (campaigns). */
export function sendingRowsPastDeadline(
  em: EntityManager,
  eventId: string,
  nowMs: number,
  afterId: string,
  limit: number,
): Promise<EventRow[]> {
  return em.getConnection().execute(
    `select ${EVENT_ROW_COLUMNS} from notifications n
      where n.event_id = ? and n.state = 'sending' and ${leanRowsOf('n')} and n.id > ?
        and exists (select 1 from jsonb_each(n.channel_states) c where c.value->>'state' in ${OPEN_STATES} and (c.value->>'deadlineAt')::timestamptz <= ?)
      order by n.id limit ?`,
    [eventId, afterId, new Date(nowMs), limit],
  );
}

/** The event's open channels and the earliest deadline among them (a campaign waits for it). */
export async function openChannelSummary(
  em: EntityManager,
  eventId: string,
): Promise<{ open: number; nextDeadlineMs: number | null }> {
  const [row] = await em.getConnection().execute(
    `select count(*)::int as open, min((c.value->>'deadlineAt')::timestamptz) as next_deadline
       from notifications n, jsonb_each(n.channel_states) c
      where n.event_id = ? and n.state = 'sending' and c.value->>'state' in ${OPEN_STATES}`,
    [eventId],
  );
  return {
    open: Number(row?.open ?? 0),
    nextDeadlineMs: row?.next_deadline ? new Date(row.next_deadline).getTime() : null,
  };
}

/** Writes a reconciled row unless a worker changed it meanwhile (false: look again at the next wake-up). */
export async function writeReconciledRow(
  em: EntityManager,
  row: EventRow,
  view: NotificationView,
): Promise<boolean> {
  const updated = await em.getConnection().execute(
    `update notifications set state = ?, channel_states = ?::jsonb, error = ?, version = version + 1, updated_at = now()
      where id = ? and version = ? returning id`,
    [view.state, JSON.stringify(view.channels), finalError(view.state, view.channels), row.id, row.version],
  );
  return updated.length > 0;
}

/** The count the channel workers move, reset from the rows after a deadline, so a lost decrement cannot wedge the event. */
export async function resetOpenChannels(em: EntityManager, eventId: string, open: number): Promise<void> {
  await em
    .getConnection()
    .execute(`update notification_events set open_channels = ?, updated_at = now() where event_id = ?`, [
      open,
      eventId,
    ]);
}

/**
 * Ends every notification of the event still waiting or sending as `expired` (open channels expire;
 * delivered ones stay): the event's own steps could not reach our infrastructure within the horizon.
 * One transaction; returns the rows as they now are.
 */
export async function expireOpenWork(em: EntityManager, eventId: string, error: string): Promise<EventRow[]> {
  return em.transactional(async (tx) => {
    const ctx = tx.getTransactionContext();
    const conn = tx.getConnection();
    const rows: EventRow[] = await conn.execute(
      `select ${EVENT_ROW_COLUMNS} from notifications where event_id = ? and ${LEAN_ROWS} order by id for update`,
      [eventId],
      'all',
      ctx,
    );
    const changed: { id: string; state: NotificationState; channel_states: ChannelRecords }[] = [];
    for (const row of rows) {
      if (row.state !== 'sending' && row.state !== 'scheduled' && row.state !== 'waiting_quiet_hours')
        continue;
      const { channels } = closeOpenChannels(row.channel_states ?? {}, 'expired', error);
      const state = row.state === 'sending' ? settledState(channels) : 'expired';
      Object.assign(row, { state, channel_states: channels, error, send_at: null });
      changed.push({ id: row.id, state, channel_states: channels });
    }
    if (changed.length > 0) {
      await conn.execute(
        `update notifications n set state = x.state, error = ?, send_at = null, channel_states = x.channel_states, version = n.version + 1, updated_at = now()
           from jsonb_to_recordset(?::jsonb) as x(id uuid, state text, channel_states jsonb) where n.id = x.id`,
        [error, JSON.stringify(changed)],
        'all',
        ctx,
      );
      await conn.execute(
        `update notification_events set open_channels = 0, updated_at = now() where event_id = ?`,
        [eventId],
        'all',
        ctx,
      );
    }
    return rows;
  });
}

/**
 * Opens an event's expired notifications again (an operator's redrive): expired channels are queued
 * with a new deadline and hand-off clock, rows that expired while waiting are due now. Returns the
 * rows now open; the counter is recounted from the rows.
 */
export async function reopenExpired(
  em: EntityManager,
  eventId: string,
  nowMs: number,
  deliveryDeadlineMs: number,
): Promise<EventRow[]> {
  return em.transactional(async (tx) => {
    const ctx = tx.getTransactionContext();
    const conn = tx.getConnection();
    const rows: EventRow[] = await conn.execute(
      `select ${EVENT_ROW_COLUMNS} from notifications where event_id = ? and ${LEAN_ROWS} and (state = 'expired' or channel_states::text like '%"expired"%') order by id for update`,
      [eventId],
      'all',
      ctx,
    );
    const now = new Date(nowMs).toISOString();
    const deadlineAt = new Date(nowMs + deliveryDeadlineMs).toISOString();
    const reopened: {
      id: string;
      state: NotificationState;
      channel_states: ChannelRecords;
      send_at: string | null;
    }[] = [];
    for (const row of rows) {
      const channels: ChannelRecords = { ...row.channel_states };
      let opened = 0;
      for (const [channel, record] of Object.entries(channels) as [
        Channel,
        NonNullable<ChannelRecords[Channel]>,
      ][]) {
        if (record.state !== 'expired') continue;
        const { error: _e, ...rest } = record;
        channels[channel] = { ...rest, state: 'queued', handOffs: 1, deadlineAt, queuedAt: now };
        opened++;
      }
      // Expired before it was ever rendered: it waits again, due now.
      const state: NotificationState = opened > 0 ? 'sending' : 'scheduled';
      Object.assign(row, { state, channel_states: channels, send_at: opened > 0 ? null : now, error: null });
      reopened.push({ id: row.id, state, channel_states: channels, send_at: opened > 0 ? null : now });
    }
    if (reopened.length > 0) {
      await conn.execute(
        `update notifications n set state = x.state, error = null, send_at = x.send_at, channel_states = x.channel_states, version = n.version + 1, updated_at = now()
           from jsonb_to_recordset(?::jsonb) as x(id uuid, state text, channel_states jsonb, send_at timestamptz) where n.id = x.id`,
        [JSON.stringify(reopened)],
        'all',
        ctx,
      );
      await conn.execute(
        `update notification_events e set open_channels = (select count(*) from notifications n, jsonb_each(n.channel_states) c
            where n.event_id = e.event_id and n.state = 'sending' and c.value->>'state' in ${OPEN_STATES}), updated_at = now()
          where e.event_id = ?`,
        [eventId],
        'all',
        ctx,
      );
    }
    return rows;
  });
}

/** Closes every open channel of a row with the given state; returns how many it closed. */
function closeOpenChannels(
  channels: ChannelRecords,
  state: 'cancelled' | 'expired',
  error?: string,
): { channels: ChannelRecords; count: number } {
  const out: ChannelRecords = {};
  let count = 0;
  for (const [channel, record] of Object.entries(channels) as [
    Channel,
    NonNullable<ChannelRecords[Channel]>,
  ][]) {
    if (record.state === 'pending' || record.state === 'queued') {
      count++;
      const { deadlineAt: _d, ...rest } = record;
      out[channel] = { ...rest, state, ...(error ? { error } : {}) };
    } else out[channel] = record;
  }
  return { channels: out, count };
}

// ---- channel outcomes --------------------------------------------------------------------------

/** What the attempt row of a successful send holds. */
export interface SentAttempt {
  attempt: number;
  provider: string;
  providerMessageId: string | null;
  startedAt: Date;
  finishedAt: Date;
}

/** Result of an outcome write: whether the row's version still matched, and the event's open channels after it. */
export interface OutcomeWrite {
  updated: number;
  open_channels: number | string | null;
}

/**
 * A send the provider accepted: the send record turns `sent`, the attempt row is written and the
 * lifecycle step applied (with the counter), in one statement: `sent` is never recorded without its attempt.
 * A notification erased while its provider was called (docs/data-lifecycle.md, "Erasure") has no row left:
 * nothing is written (no attempt pointing nowhere), and the caller finds the row gone.
 */
export async function writeSentOutcome(
  em: EntityManager,
  id: string,
  version: number,
  outcome: ChannelOutcome,
  sent: SentAttempt,
  step: Step,
): Promise<OutcomeWrite> {
  const [result] = await em.getConnection().execute(
    `with s as (
       update send_records set status = 'sent', provider_message_id = ?, sent_at = now() where notification_id = ? and channel = ?),
     a as (
       insert into delivery_attempts (notification_id, channel, attempt, status, provider, provider_message_id, error, started_at, finished_at, duration_ms)
       select ?::uuid, ?, ?, 'delivered', ?, ?, null, ?::timestamptz, ?::timestamptz, ? from notifications where id = ?),
     n as (
       update notifications set state = ?, channel_states = ?::jsonb, error = ?, version = version + 1, updated_at = now()
        where id = ? and version = ? and ? returning event_id),
     e as (
       update notification_events set open_channels = open_channels + ?, updated_at = now()
        where event_id in (select event_id from n) and ? <> 0 returning open_channels)
     select (select count(*) from n)::int as updated, (select open_channels from e) as open_channels`,
    [
      sent.providerMessageId,
      id,
      outcome.channel,
      id,
      outcome.channel,
      sent.attempt,
      sent.provider,
      sent.providerMessageId,
      sent.startedAt,
      sent.finishedAt,
      sent.finishedAt.getTime() - sent.startedAt.getTime(),
      id,
      step.state,
      JSON.stringify(step.channels),
      finalError(step.state, step.channels),
      id,
      version,
      step.changed,
      step.openDelta,
      step.openDelta,
    ],
  );
  return result as OutcomeWrite;
}

/** A lifecycle step from a channel outcome, with an optimistic version check and the counter in the same statement. */
export async function writeOutcome(
  em: EntityManager,
  id: string,
  version: number,
  step: Step,
): Promise<OutcomeWrite> {
  const [result] = await em.getConnection().execute(
    `with n as (
       update notifications set state = ?, channel_states = ?::jsonb, error = ?, version = version + 1, updated_at = now()
        where id = ? and version = ? returning event_id),
     e as (
       update notification_events set open_channels = open_channels + ?, updated_at = now()
        where event_id in (select event_id from n) and ? <> 0 returning open_channels)
     select (select count(*) from n)::int as updated, (select open_channels from e) as open_channels`,
    [
      step.state,
      JSON.stringify(step.channels),
      finalError(step.state, step.channels),
      id,
      version,
      step.openDelta,
      step.openDelta,
    ],
  );
  return result as OutcomeWrite;
}

/** Closes channels' send records so a late pickup of their job skips the provider; a sent record stays sent. */
export async function cancelSendRecords(
  em: EntityManager,
  notificationId: string,
  channels: Channel[],
): Promise<void> {
  if (channels.length === 0) return;
  await em.getConnection().execute(
    `insert into send_records (notification_id, channel, status)
     select ?, c, 'cancelled' from jsonb_array_elements_text(?::jsonb) as c
     on conflict (notification_id, channel) do update set status = 'cancelled' where send_records.status in ('failed', 'cancelled')`,
    [notificationId, JSON.stringify(channels)],
  );
}

/** The error a failed or expired notification shows: its channels' errors. */
export function finalError(state: NotificationState, channels: ChannelRecords): string | null {
  if (state !== 'failed' && state !== 'expired') return null;
  const errors = Object.entries(channels)
    .filter(([, r]) => (r?.state === 'failed' || r?.state === 'expired') && r.error)
    .map(([c, r]) => `${c}: ${r.error}`);
  return errors.length ? errors.join('; ') : null;
}

// ---- the shopper's inbox -----------------------------------------------------------------------

/** The in-app provider's delivery: the row shows in the feed (first delivery time kept). */
export async function markInAppDelivered(
  em: EntityManager,
  id: string,
): Promise<{ id: string; created_at: Date; delivered_at: Date } | null> {
  const rows = await em
    .getConnection()
    .execute(
      `update notifications set delivered_at = coalesce(delivered_at, now()) where id = ? returning id, created_at, delivered_at`,
      [id],
    );
  return (rows[0] as { id: string; created_at: Date; delivered_at: Date } | undefined) ?? null;
}

/** Marks one of the recipient's delivered notifications read (first read time kept); null when it is not theirs. */
export async function markRead(
  em: EntityManager,
  recipientId: string,
  id: string,
  at: Date,
): Promise<Date | null> {
  const rows: { read_at: string }[] = await em.getConnection().execute(
    `update notifications set read_at = coalesce(read_at, ?), updated_at = now()
      where id = ? and recipient_id = ? and delivered_at is not null returning read_at`,
    [at, id, recipientId],
  );
  if (!rows.length) return null;
  // Engagement `read` (docs/tracking-and-receipts.md): the first read once, a repeated mark bumps its count.
  await recordEngagement(em, { notificationId: id, channel: 'in_app', kind: 'read', at });
  return new Date(rows[0].read_at);
}

/** Marks every delivered, unread notification of the recipient read; returns how many changed. */
export async function markAllRead(em: EntityManager, recipientId: string, at: Date): Promise<number> {
  const rows = await em.getConnection().execute<{ id: string }[]>(
    `update notifications set read_at = ?, updated_at = now()
      where recipient_id = ? and delivered_at is not null and read_at is null returning id`,
    [at, recipientId],
  );
  await recordEngagementOfMany(
    em,
    rows.map((row) => row.id),
    { channel: 'in_app', kinds: ['read'], at },
  );
  return rows.length;
}

// ---- release 0 ---------------------------------------------------------------------------------

/** Mirrors a release-0 notificationWorkflow's final state into its row (release-0 rows have no channel_states). */
export async function setRelease0State(
  em: EntityManager,
  id: string,
  state: NotificationState,
  error: string | null,
): Promise<void> {
  await em
    .getConnection()
    .execute(`update notifications set state = ?, error = ?, updated_at = now() where id = ?`, [
      state,
      error,
      id,
    ]);
}

/**
 * Stores a release-0 notification row; a retried activity finds the row the first try stored. Its
 * content and data stay inline (`content` / `data` are read-only on the entity).
 */
export async function insertRelease0Row(
  em: EntityManager,
  row: RequiredEntityData<Notification>,
): Promise<string> {
  const { content, data, ...columns } = row;
  await em
    .createQueryBuilder(Notification)
    .insert({ ...columns, inlineContent: content ?? {}, inlineData: data ?? {} })
    .onConflict(['eventId', 'recipientId'])
    .ignore()
    .execute();
  const stored = await em.findOneOrFail(
    Notification,
    { eventId: row.eventId, recipientId: row.recipientId },
    { fields: ['id'] },
  );
  return stored.id;
}

import type { EntityManager } from '@mikro-orm/postgresql';
import { parseBusinessEvent, type BusinessEvent } from '../src/domain/business-event';
import { sendJobId, type Channel } from '../src/domain/channels';
import { correlationKeyOf, EVENT_CATALOG, fallbacksFor } from '../src/domain/event-catalog';
import {
  applyOutcome,
  onDeadline,
  openChannelCount,
  type ChannelRecords,
  type DeadlineObservation,
  type NotificationView,
} from '../src/domain/notification-lifecycle';
import type { NotificationState } from '../src/domain/notification-status';
import type { Priority } from '../src/domain/priorities';
import { followUpWorkflowId } from '../src/domain/workflow-ids';
import { cancelSendRecords, finalError } from '../src/delivery/outcome-recorder';
import type { ActivityDeps } from './deps';
import { fetchTemplates, summarizeRows, type StoredRow as DispatcherRow, type Dispatcher, type DispatchResult, type EventSpec, type RecipientSummary } from './dispatcher';
import { INLINE_STATUS_LIMIT } from '../src/domain/event-ledger';
import { businessFailure } from './errors';
import { planFollowUp } from './follow-up-plan';
import { findRelease0Waiting } from './release-0-lookups';

/** Recipients admitted per local activity; an event has at most 1000 (larger audiences are campaigns). */
export const EVENT_PAGE_SIZE = 500;

/** What the event workflow learns from its first step. */
export interface OpenedEvent extends DispatchResult {
  spec: EventSpec;
  /** Recipients still to admit (events of more than one page). */
  pending: string[];
  /** Workflows to tell `cancel`: superseded notifications and follow-ups this event makes obsolete. */
  supersede: { workflowId: string; userId?: string }[];
  followUp: { kind: string; templateCode: string; category: string; channels: Channel[]; delayMs: number; correlationKey: string } | null;
}

export interface ReconcileResult {
  recipients: RecipientSummary[];
  /** Channels still waiting for an outcome. */
  open: number;
  nextDeadlineMs: number | null;
}

/**
 * The event workflow's steps, run as local activities: each is a few set-based statements, so a
 * single-recipient event costs one workflow task to hand off and one to finish.
 */
export function createEventActivities(deps: ActivityDeps, dispatcher: Dispatcher) {
  const { orm, queues, temporalClient, config } = deps;

  return {
    /**
     * Validates the envelope (any Temporal client may start the workflow with hand-written JSON),
     * resolves recipients, template and channels, finds what this event supersedes, and admits the
     * first page of recipients: those due now are stored and handed to the queues in this same step.
     */
    async openEvent(input: { event: unknown; workflowId: string; eventId?: string }): Promise<OpenedEvent> {
      let event: BusinessEvent;
      try {
        event = parseBusinessEvent(input.event);
      } catch (err) {
        throw businessFailure('InvalidEvent', (err as Error).message);
      }
      const db = orm.em.fork();
      const conn = db.getConnection();
      const definition = event.type ? EVENT_CATALOG[event.type] : undefined;
      const templateCode = definition?.templateCode ?? event.templateCode!;
      // Read once: the plan takes channels and category from it, the dispatcher renders from it.
      const templates = await fetchTemplates(db, templateCode);
      if (templates.length === 0) throw businessFailure('TemplateNotFound', `no template with code "${templateCode}"`);
      let recipients = event.userIds ?? (event.userId ? [event.userId] : []);
      if (recipients.length === 0 && definition?.defaultRecipientRole) {
        const rows: { id: string }[] = await conn.execute(`select id from recipients where ? = any(roles) order by id`, [definition.defaultRecipientRole]);
        recipients = rows.map((r) => r.id);
      }
      recipients = [...new Set(recipients)];
      const channels = event.options.channels ?? definition?.channels ?? [...new Set(templates.map((t) => t.channel))];
      const correlationKey = correlationKeyOf(event.data);
      const eventType = event.type ?? null;

      const supersede: OpenedEvent['supersede'] = [];
      let followUp: OpenedEvent['followUp'] = null;
      if (correlationKey !== null && definition) {
        for (const kind of definition.cancelsFollowUps ?? []) {
          for (const userId of recipients) supersede.push({ workflowId: followUpWorkflowId(kind, correlationKey, userId) });
        }
        if (definition.supersedes?.length) {
          const rows: { workflow_id: string; recipient_id: string }[] = await conn.execute(
            `select workflow_id, recipient_id from notifications
              where event_type in (select jsonb_array_elements_text(?::jsonb)) and data->>'orderNumber' = ?
                and recipient_id in (select jsonb_array_elements_text(?::jsonb)) and state in ('scheduled', 'waiting_quiet_hours')`,
            [JSON.stringify(definition.supersedes), correlationKey, JSON.stringify(recipients)],
          );
          supersede.push(...rows.map((r) => ({ workflowId: r.workflow_id, userId: r.recipient_id })));
          for (const type of definition.supersedes) {
            supersede.push(...(await findRelease0Waiting(temporalClient, type, correlationKey, recipients)).map((workflowId) => ({ workflowId })));
          }
        }
        if (definition.followUp) followUp = { ...(await planFollowUp(db, definition.followUp, channels, config.paymentReminderDelayMs)), correlationKey };
      }

      const spec: EventSpec = {
        eventId: event.id,
        eventType,
        workflowId: input.workflowId,
        templateCode,
        category: definition?.category ?? templates[0].category,
        channels,
        fallbacks: fallbacksFor(templateCode),
        data: event.data,
        options: event.options,
        deliveryDeadlineMs: config.deliveryDeadlineMs,
        tracked: true,
      };
      const first = recipients.slice(0, EVENT_PAGE_SIZE);
      const admitted = await dispatcher.admitRecipients(spec, first, { inline: recipients.length <= INLINE_STATUS_LIMIT, templates });
      return { ...admitted, spec, pending: recipients.slice(EVENT_PAGE_SIZE), supersede, followUp };
    },

    /** Admits one more page of an event's recipients. */
    async admitRecipients(input: { spec: EventSpec; userIds: string[]; inline: boolean }): Promise<DispatchResult> {
      return dispatcher.admitRecipients(input.spec, input.userIds, { inline: input.inline });
    },

    /** Sends the event's waiting notifications that are due now (a page at a time). */
    async dispatchDue(input: { spec: EventSpec; inline: boolean }): Promise<DispatchResult & { examined: number }> {
      return dispatcher.dispatchDue(input.spec, { inline: input.inline, limit: EVENT_PAGE_SIZE });
    },

    /**
     * Cancels or moves waiting notifications of the event (one recipient's or all), in Postgres first:
     * a row that started sending meanwhile is left alone. Answers the recipients' states as stored.
     */
    async controlRecipients(input: {
      eventId: string;
      action: 'cancel' | 'reschedule';
      userId?: string;
      reason?: string;
      sendAt?: string;
    }): Promise<RecipientSummary[]> {
      const em = orm.em.fork();
      const conn = em.getConnection();
      const who = input.userId === undefined ? '' : ' and recipient_id = ?';
      const whoArgs = input.userId === undefined ? [] : [input.userId];
      if (input.action === 'cancel') {
        await cancelBeforeProviders(em, input.eventId, who, whoArgs, input.reason ? `cancelled: ${input.reason}` : 'cancelled');
      } else {
        await conn.execute(
          `update notifications set state = 'scheduled', send_at = ?, version = version + 1, updated_at = now()
            where event_id = ?${who} and state in ('scheduled', 'waiting_quiet_hours')`,
          [new Date(input.sendAt!), input.eventId, ...whoArgs],
        );
      }
      const rows: StoredRow[] = await conn.execute(`select ${STORED_COLUMNS} from notifications where event_id = ?${who}`, [input.eventId, ...whoArgs]);
      return summarizeRows(rows, input.userId !== undefined).recipients;
    },

    /**
     * Reconciles the event's open channels whose deadline passed, then reports every recipient. A
     * channel is failed only when its job failed for good (or vanished too often): a backlog extends
     * the deadline, a sent send record is a delivery whose outcome got lost.
     */
    async reconcileEvent(input: { spec: EventSpec; inline: boolean }): Promise<ReconcileResult> {
      const { spec } = input;
      const em = orm.em.fork();
      const conn = em.getConnection();
      const rows: StoredRow[] = await conn.execute(`select ${STORED_COLUMNS} from notifications where event_id = ? and lifecycle = 2`, [spec.eventId]);
      const nowMs = Date.now();
      let reconciled = 0;
      for (const row of rows) {
        if (row.state !== 'sending') continue;
        const expired = (Object.entries(row.channel_states) as [Channel, NonNullable<ChannelRecords[Channel]>][]).filter(
          ([, r]) => r.state === 'queued' && r.deadlineAt && Date.parse(r.deadlineAt) <= nowMs,
        );
        if (expired.length === 0) continue;
        reconciled++;
        let view: NotificationView = { state: row.state, channels: row.channel_states, fallbacks: row.fallbacks };
        const enqueue: Channel[] = [];
        const handOffAgain: Channel[] = [];
        const cancel: Channel[] = [];
        for (const [channel, record] of expired) {
          const seen = await observe(em, row.id, channel);
          const decision = onDeadline(channel, record, seen);
          const deadlineAt = new Date(nowMs + spec.deliveryDeadlineMs).toISOString();
          if (decision.action === 'extend') {
            view = { ...view, channels: { ...view.channels, [channel]: { ...record, deadlineAt } } };
          } else if (decision.action === 'hand_off_again') {
            view = { ...view, channels: { ...view.channels, [channel]: { ...record, deadlineAt, handOffs: (record.handOffs ?? 1) + 1 } } };
            handOffAgain.push(channel);
          } else {
            const step = applyOutcome(view, decision.outcome, nowMs, spec.deliveryDeadlineMs);
            view = step;
            enqueue.push(...step.enqueue);
            cancel.push(...step.cancelSendRecords);
          }
        }
        const updated = await conn.execute(
          `update notifications set state = ?, channel_states = ?::jsonb, error = ?, version = version + 1, updated_at = now()
            where id = ? and version = ? returning id`,
          [view.state, JSON.stringify(view.channels), finalError(view.state, view.channels), row.id, row.version],
        );
        // A worker recorded an outcome meanwhile: this row is looked at again at the next wake-up.
        if (updated.length === 0) continue;
        Object.assign(row, { state: view.state, channel_states: view.channels, error: finalError(view.state, view.channels) });
        if (cancel.length > 0) await cancelSendRecords(em, row.id, cancel);
        for (const channel of handOffAgain) await queues.enqueue({ notificationId: row.id, channel }, row.priority);
        for (const channel of enqueue) await queues.enqueueBulk(channel, [row.id], row.priority);
      }
      // The count the channel workers move; reset from the rows after a deadline, so a lost decrement cannot wedge the event.
      const open = rows.reduce((n, r) => n + (r.state === 'sending' ? openChannelCount(r.channel_states) : 0), 0);
      if (reconciled > 0) await conn.execute(`update notification_events set open_channels = ?, updated_at = now() where event_id = ?`, [open, spec.eventId]);
      const { recipients, nextDeadlineMs } = summarizeRows(rows, input.inline);
      return { recipients, open, nextDeadlineMs };
    },
  };

  /**
   * Cancels waiting notifications, and sending ones whose channels no worker has claimed yet (no
   * provider was called). The rows are locked first, so a worker's claim (which reads the row FOR
   * SHARE, SendRecordStore.claim) either committed before the send records are read here (the
   * notification is refused) or waits and then finds it cancelled.
   */
  async function cancelBeforeProviders(em: EntityManager, eventId: string, who: string, whoArgs: string[], error: string): Promise<void> {
    await em.transactional(async (tx) => {
      const ctx = tx.getTransactionContext();
      const conn = tx.getConnection();
      const rows: { id: string; state: NotificationState; channel_states: ChannelRecords }[] = await conn.execute(
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
        const channels: ChannelRecords = {};
        for (const [channel, record] of Object.entries(row.channel_states ?? {}) as [Channel, NonNullable<ChannelRecords[Channel]>][]) {
          if (record.state === 'pending' || record.state === 'queued') {
            closedChannels++;
            const { deadlineAt: _d, ...rest } = record;
            channels[channel] = { ...rest, state: 'cancelled' };
          } else channels[channel] = record;
        }
        row.channel_states = channels;
      }
      await conn.execute(
        `update notifications n set state = 'cancelled', error = ?, send_at = null, channel_states = x.channel_states, version = n.version + 1, updated_at = now()
           from jsonb_to_recordset(?::jsonb) as x(id uuid, channel_states jsonb) where n.id = x.id`,
        [error, JSON.stringify(cancel.map((r) => ({ id: r.id, channel_states: r.channel_states })))],
        'all',
        ctx,
      );
      if (closedChannels > 0) {
        await conn.execute(`update notification_events set open_channels = greatest(open_channels - ?, 0), updated_at = now() where event_id = ?`, [closedChannels, eventId], 'all', ctx);
      }
    });
  }

  /** Reads the job and the send record of one channel of one notification. */
  async function observe(em: EntityManager, notificationId: string, channel: Channel): Promise<DeadlineObservation> {
    const [job, [record]] = await Promise.all([
      queues.queue(channel).getJob(sendJobId(notificationId, channel)),
      em.getConnection().execute(`select status, provider_message_id from send_records where notification_id = ? and channel = ?`, [notificationId, channel]),
    ]);
    let jobState: DeadlineObservation['job'] = 'missing';
    if (job) {
      const state = await job.getState();
      jobState = state === 'completed' ? 'completed' : state === 'failed' ? 'failed' : state === 'active' ? 'active' : state === 'unknown' ? 'missing' : 'queued';
    }
    return {
      job: jobState,
      jobError: job?.failedReason,
      sendRecord: (record?.status as DeadlineObservation['sendRecord']) ?? null,
      providerMessageId: record?.provider_message_id ?? null,
      attempts: job?.attemptsMade,
    };
  }
}

const STORED_COLUMNS = 'id, recipient_id, state, channel_states, fallbacks, send_at, error, version, priority';

interface StoredRow extends DispatcherRow {
  channel_states: ChannelRecords;
  fallbacks: Partial<Record<Channel, Channel>>;
  version: number;
  priority: Priority;
}

import { Context, log } from '@temporalio/activity';
import { parseBusinessEvent, type BusinessEvent } from '../src/domain/business-event';
import type { Channel } from '../src/domain/channels';
import { correlationKeyOf, EVENT_CATALOG, fallbacksFor } from '../src/domain/event-catalog';
import { openChannelCount } from '../src/domain/notification-lifecycle';
import { followUpWorkflowId } from '../src/domain/workflow-ids';
import {
  cancelBeforeProviders,
  eventRows,
  expireOpenWork,
  reopenExpired,
  rescheduleWaiting,
  storedEventSpec,
  resetOpenChannels,
  waitingSendTimes,
} from '../src/state/notification-store';
import type { ActivityDeps } from './deps';
import {
  fetchTemplates,
  summarizeRows,
  type Dispatcher,
  type DispatchResult,
  type EventSpec,
  type RecipientSummary,
} from './dispatcher';
import { INLINE_STATUS_LIMIT } from '../src/domain/event-ledger';
import { businessFailure } from './errors';
import { planFollowUp } from './follow-up-plan';
import { createReconciler, DEFAULT_INFRA_HORIZON_MS } from './reconciler';
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
  followUp: {
    kind: string;
    templateCode: string;
    category: string;
    channels: Channel[];
    delayMs: number;
    correlationKey: string;
  } | null;
}

export interface ReconcileResult extends DispatchResult {
  /** Channels still waiting for an outcome. */
  open: number;
}

/**
 * The event workflow's steps, run as local activities: each is a few set-based statements, so a
 * single-recipient event costs one workflow task to hand off and one to finish.
 */
export function createEventActivities(deps: ActivityDeps, dispatcher: Dispatcher) {
  const { orm, temporalClient, config } = deps;
  const reconciler = createReconciler(deps);

  return {
    /**
     * Validates the envelope (any Temporal client may start the workflow with hand-written JSON),
     * resolves recipients, template and channels, finds what this event supersedes, and admits the
     * first page of recipients: those due now are stored and handed to the queues in this same step.
     */
    async openEvent(input: {
      event: unknown;
      workflowId: string;
      eventId?: string;
      nowMs?: number;
    }): Promise<OpenedEvent> {
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
      if (templates.length === 0)
        throw businessFailure('TemplateNotFound', `no template with code "${templateCode}"`);
      let recipients = event.userIds ?? (event.userId ? [event.userId] : []);
      if (recipients.length === 0 && definition?.defaultRecipientRole) {
        const rows: { id: string }[] = await conn.execute(
          `select id from recipients where ? = any(roles) order by id`,
          [definition.defaultRecipientRole],
        );
        recipients = rows.map((r) => r.id);
      }
      recipients = [...new Set(recipients)];
      const channels = event.options.channels ??
        definition?.channels ?? [...new Set(templates.map((t) => t.channel))];
      const correlationKey = correlationKeyOf(event.data);
      const eventType = event.type ?? null;

      const supersede: OpenedEvent['supersede'] = [];
      let followUp: OpenedEvent['followUp'] = null;
      if (correlationKey !== null && definition) {
        for (const kind of definition.cancelsFollowUps ?? []) {
          for (const userId of recipients)
            supersede.push({ workflowId: followUpWorkflowId(kind, correlationKey, userId) });
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
            supersede.push(
              ...(await findRelease0Waiting(temporalClient, type, correlationKey, recipients)).map(
                (workflowId) => ({ workflowId }),
              ),
            );
          }
        }
        if (definition.followUp)
          followUp = {
            ...(await planFollowUp(db, definition.followUp, channels, config.paymentReminderDelayMs)),
            correlationKey,
          };
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
        infraHorizonMs: config.infraRetryHorizonMs ?? DEFAULT_INFRA_HORIZON_MS,
        tracked: true,
      };
      const first = recipients.slice(0, EVENT_PAGE_SIZE);
      const admitted = await dispatcher.admitRecipients(spec, first, {
        inline: recipients.length <= INLINE_STATUS_LIMIT,
        templates,
        nowMs: input.nowMs,
      });
      return { ...admitted, spec, pending: recipients.slice(EVENT_PAGE_SIZE), supersede, followUp };
    },

    /** Admits one more page of an event's recipients. */
    async admitRecipients(input: {
      spec: EventSpec;
      userIds: string[];
      inline: boolean;
      nowMs?: number;
    }): Promise<DispatchResult> {
      return dispatcher.admitRecipients(input.spec, input.userIds, {
        inline: input.inline,
        nowMs: input.nowMs,
      });
    },

    /**
     * Sends the event's waiting notifications that are due by the workflow's clock (I5), a page at a
     * time, and reports every time still to wait for. A retry first hands off again what an earlier
     * try stored as sending (I3) and then reports the event's rows as they are.
     */
    async dispatchDue(input: {
      spec: EventSpec;
      inline: boolean;
      nowMs?: number;
    }): Promise<DispatchResult & { examined: number }> {
      const { spec } = input;
      const retried = currentAttempt() > 1;
      if (retried) await dispatcher.handOffUnclaimed(spec.eventId);
      const due = await dispatcher.dispatchDue(spec, {
        inline: input.inline,
        limit: EVENT_PAGE_SIZE,
        nowMs: input.nowMs,
      });
      const em = orm.em.fork();
      // Every time still to wait for (rows due now that did not fit this page come back by `examined`).
      const nowMs = input.nowMs ?? Date.now();
      const wakeTimes = (await waitingSendTimes(em, spec.eventId)).filter((t) => t > nowMs);
      if (!retried) return { ...due, wakeTimes };
      const all = summarizeRows(await eventRows(em, spec.eventId), input.inline);
      return {
        ...all,
        recipients: [...due.recipients.filter((r) => !r.notificationId), ...all.recipients],
        wakeTimes,
        examined: due.examined,
      };
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
      if (input.action === 'cancel') {
        await cancelBeforeProviders(
          em,
          input.eventId,
          input.userId,
          input.reason ? `cancelled: ${input.reason}` : 'cancelled',
        );
      } else {
        await rescheduleWaiting(em, input.eventId, input.userId, new Date(input.sendAt!));
      }
      return summarizeRows(await eventRows(em, input.eventId, input.userId), input.userId !== undefined)
        .recipients;
    },

    /**
     * Reconciles the event's open channels whose deadline passed (docs/contracts.md, "Durability
     * invariants"), then reports every recipient. Only a provider's answer fails a channel; what our own
     * infrastructure lost is handed off again until the horizon, then expires.
     */
    async reconcileEvent(input: {
      spec: EventSpec;
      inline: boolean;
      nowMs?: number;
    }): Promise<ReconcileResult> {
      const { spec } = input;
      const em = orm.em.fork();
      if (currentAttempt() > 1) await dispatcher.handOffUnclaimed(spec.eventId);
      const rows = await eventRows(em, spec.eventId);
      const nowMs = input.nowMs ?? Date.now();
      let reconciled = 0;
      for (const row of rows) {
        if (row.state !== 'sending') continue;
        if (await reconciler.reconcileRow(em, spec, row, nowMs)) reconciled++;
      }
      const open = rows.reduce(
        (n, r) => n + (r.state === 'sending' ? openChannelCount(r.channel_states) : 0),
        0,
      );
      if (reconciled > 0) await resetOpenChannels(em, spec.eventId, open);
      const { recipients, nextDeadlineMs, wakeTimes } = summarizeRows(rows, input.inline);
      return { recipients, open, nextDeadlineMs, wakeTimes };
    },

    /**
     * The event's own steps could not reach our infrastructure within the horizon (I4): every
     * notification still waiting or sending ends `expired`, and operators are alerted (an error log here;
     * the stuck-work scan's `notifications_expired` gauge). Its retries are unbounded: the workflow holds
     * its timer until this is written.
     */
    async expireEvent(input: { spec: EventSpec; inline: boolean; reason: string }): Promise<ReconcileResult> {
      const { spec } = input;
      const error = `expired: ${input.reason}`;
      const rows = await expireOpenWork(orm.em.fork(), spec.eventId, error);
      const expired = rows.filter((r) => r.state === 'expired').length;
      log.error('notifications expired: our infrastructure failed past the horizon', {
        eventId: spec.eventId,
        expired,
        reason: input.reason,
      });
      const { recipients, nextDeadlineMs, wakeTimes } = summarizeRows(rows, input.inline);
      return { recipients, open: 0, nextDeadlineMs, wakeTimes };
    },

    /**
     * An operator's redrive of the event's expired notifications, after its workflow closed: expired
     * channels are handed off again with a new horizon, rows that expired while waiting are due now.
     * Answers like openEvent, from the plan the rows were stored with.
     */
    async reopenExpiredEvent(input: {
      eventId: string;
      workflowId: string;
      nowMs?: number;
    }): Promise<OpenedEvent> {
      const em = orm.em.fork();
      const stored = (await storedEventSpec(em, input.eventId)) as EventSpec | null;
      if (!stored)
        throw businessFailure(
          'NothingToRedrive',
          `event "${input.eventId}" has no stored plan: nothing of it can be redriven`,
        );
      const spec: EventSpec = {
        ...stored,
        workflowId: input.workflowId,
        deliveryDeadlineMs: config.deliveryDeadlineMs,
        infraHorizonMs: reconciler.horizonMs(stored),
      };
      const reopened = await reopenExpired(
        em,
        input.eventId,
        input.nowMs ?? Date.now(),
        spec.deliveryDeadlineMs,
      );
      if (reopened.length === 0)
        throw businessFailure('NothingToRedrive', `event "${input.eventId}" has no expired notification`);
      await dispatcher.handOffUnclaimed(input.eventId);
      const rows = await eventRows(em, input.eventId);
      const inline = rows.length <= INLINE_STATUS_LIMIT;
      return { ...summarizeRows(rows, inline), spec, pending: [], supersede: [], followUp: null };
    },
  };
}

/** The try of the running activity (1 outside an activity context, e.g. a direct call in a test). */
function currentAttempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

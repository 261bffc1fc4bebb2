import { Context, log } from '@temporalio/activity';
import { INLINE_STATUS_LIMIT } from '../src/domain/event-ledger';
import { openChannelCount } from '../src/domain/notification-lifecycle';
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
import { summarizeRows, type Dispatcher, type DispatchResult, type RecipientSummary } from './dispatcher';
import { businessFailure } from './errors';
import type { EventSpec } from './event-spec';
import type { EventStepDeps } from './event-step-deps';
import { EVENT_PAGE_SIZE, openEvent, type OpenedEvent, type OpenEventInput } from './open-event';
import { createReconciler } from './reconciler';

export { EVENT_PAGE_SIZE, type OpenedEvent } from './open-event';

export interface ReconcileResult extends DispatchResult {
  /** Channels still waiting for an outcome. */
  open: number;
}

/** The input of the steps that look at an event's rows (inline: report channel details per recipient). */
interface EventStepInput {
  spec: EventSpec;
  inline: boolean;
  nowMs?: number;
}

interface ReconcileInput extends EventStepInput {
  /** Recipients the workflow knows as sending (absent from release-4 and earlier workflows). */
  sending?: string[];
}

/** What a sending recipient whose row is gone is reported as: only an erasure deletes an open row. */
const ERASED_WHILE_SENDING = 'notification deleted while sending: the recipient was erased';

interface AdmitPageInput {
  spec: EventSpec;
  userIds: string[];
  inline: boolean;
  nowMs?: number;
}

interface ExpireEventInput {
  spec: EventSpec;
  inline: boolean;
  /** Which step gave up, and why (kept in each row's error). */
  reason: string;
}

interface ReopenExpiredInput {
  eventId: string;
  /** The redrive's own workflow, which now owns the rows. */
  workflowId: string;
  nowMs?: number;
}

interface ControlRecipientsInput {
  eventId: string;
  action: 'cancel' | 'reschedule';
  userId?: string;
  reason?: string;
  sendAt?: string;
}

/**
 * The event workflow's steps, run as local activities: each is a few set-based statements, so a
 * single-recipient event costs one workflow task to hand off and one to finish.
 */
export function createEventActivities(deps: ActivityDeps, dispatcher: Dispatcher) {
  const steps: EventStepDeps = { ...deps, dispatcher, reconciler: createReconciler(deps) };
  return {
    openEvent: (input: OpenEventInput) => openEvent(steps, input),
    admitRecipients: (input: AdmitPageInput) => admitRecipients(steps, input),
    dispatchDue: (input: EventStepInput) => dispatchDue(steps, input),
    controlRecipients: (input: ControlRecipientsInput) => controlRecipients(steps, input),
    reconcileEvent: (input: ReconcileInput) => reconcileEvent(steps, input),
    expireEvent: (input: ExpireEventInput) => expireEvent(steps, input),
    reopenExpiredEvent: (input: ReopenExpiredInput) => reopenExpiredEvent(steps, input),
  };
}

/** Admits one more page of an event's recipients. */
async function admitRecipients(deps: EventStepDeps, input: AdmitPageInput): Promise<DispatchResult> {
  return deps.dispatcher.admitRecipients(input.spec, input.userIds, {
    inline: input.inline,
    nowMs: input.nowMs,
  });
}

/**
 * Sends the event's waiting notifications that are due by the workflow's clock (I5), a page at a
 * time, and reports every time still to wait for. A retry first hands off again what an earlier
 * try stored as sending (I3) and then reports the event's rows as they are.
 */
async function dispatchDue(
  deps: EventStepDeps,
  input: EventStepInput,
): Promise<DispatchResult & { examined: number }> {
  const { spec } = input;
  const retried = currentAttempt() > 1;
  if (retried) await deps.dispatcher.handOffUnclaimed(spec.eventId);
  const due = await deps.dispatcher.dispatchDue(spec, {
    inline: input.inline,
    limit: EVENT_PAGE_SIZE,
    nowMs: input.nowMs,
  });
  const em = deps.orm.em.fork();
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
}

/**
 * Cancels or moves waiting notifications of the event (one recipient's or all), in Postgres first:
 * a row that started sending meanwhile is left alone. Answers the recipients' states as stored.
 */
async function controlRecipients(
  deps: EventStepDeps,
  input: ControlRecipientsInput,
): Promise<RecipientSummary[]> {
  const em = deps.orm.em.fork();
  if (input.action === 'cancel') {
    const reason = input.reason ? `cancelled: ${input.reason}` : 'cancelled';
    await cancelBeforeProviders(em, input.eventId, input.userId, reason);
  } else {
    await rescheduleWaiting(em, input.eventId, input.userId, new Date(input.sendAt!));
  }
  const rows = await eventRows(em, input.eventId, input.userId);
  return summarizeRows(rows, input.userId !== undefined).recipients;
}

/**
 * Reconciles the event's open channels whose deadline passed (docs/contracts.md, "Durability
 * invariants"), then reports every recipient. Only a provider's answer fails a channel; what our own
 * infrastructure lost is handed off again until the horizon, then expires.
 */
async function reconcileEvent(deps: EventStepDeps, input: ReconcileInput): Promise<ReconcileResult> {
  const { spec } = input;
  const em = deps.orm.em.fork();
  if (currentAttempt() > 1) await deps.dispatcher.handOffUnclaimed(spec.eventId);
  const rows = await eventRows(em, spec.eventId);
  const nowMs = input.nowMs ?? Date.now();
  let reconciled = 0;
  for (const row of rows) {
    if (row.state !== 'sending') continue;
    if (await deps.reconciler.reconcileRow(em, spec, row, nowMs)) reconciled++;
  }
  const open = rows.reduce((n, r) => n + (r.state === 'sending' ? openChannelCount(r.channel_states) : 0), 0);
  if (reconciled > 0) await resetOpenChannels(em, spec.eventId, open);
  const { recipients, nextDeadlineMs, wakeTimes } = summarizeRows(rows, input.inline);
  const stored = new Set(rows.map((r) => r.recipient_id));
  for (const userId of input.sending ?? [])
    if (!stored.has(userId)) recipients.push({ userId, state: 'cancelled', error: ERASED_WHILE_SENDING });
  return { recipients, open, nextDeadlineMs, wakeTimes };
}

/**
 * The event's own steps could not reach our infrastructure within the horizon (I4): every
 * notification still waiting or sending ends `expired`, and operators are alerted (an error log here;
 * the stuck-work scan's `notifications_expired` gauge). Its retries are unbounded: the workflow holds
 * its timer until this is written.
 */
async function expireEvent(deps: EventStepDeps, input: ExpireEventInput): Promise<ReconcileResult> {
  const { spec } = input;
  const error = `expired: ${input.reason}`;
  const rows = await expireOpenWork(deps.orm.em.fork(), spec.eventId, error);
  const expired = rows.filter((r) => r.state === 'expired').length;
  log.error('notifications expired: our infrastructure failed past the horizon', {
    eventId: spec.eventId,
    expired,
    reason: input.reason,
  });
  const { recipients, nextDeadlineMs, wakeTimes } = summarizeRows(rows, input.inline);
  return { recipients, open: 0, nextDeadlineMs, wakeTimes };
}

/**
 * An operator's redrive of the event's expired notifications, after its workflow closed: expired
 * channels are handed off again with a new horizon, rows that expired while waiting are due now.
 * Answers like openEvent, from the plan the rows were stored with.
 */
async function reopenExpiredEvent(deps: EventStepDeps, input: ReopenExpiredInput): Promise<OpenedEvent> {
  const em = deps.orm.em.fork();
  const stored = (await storedEventSpec(em, input.eventId)) as EventSpec | null;
  if (!stored)
    throw businessFailure(
      'NothingToRedrive',
      `event "${input.eventId}" has no stored plan: nothing of it can be redriven`,
    );
  const spec: EventSpec = {
    ...stored,
    workflowId: input.workflowId,
    deliveryDeadlineMs: deps.config.deliveryDeadlineMs,
    infraHorizonMs: deps.reconciler.horizonMs(stored),
  };
  const nowMs = input.nowMs ?? Date.now();
  const reopened = await reopenExpired(em, input.eventId, nowMs, spec.deliveryDeadlineMs);
  if (reopened.length === 0)
    throw businessFailure('NothingToRedrive', `event "${input.eventId}" has no expired notification`);
  await deps.dispatcher.handOffUnclaimed(input.eventId);
  const rows = await eventRows(em, input.eventId);
  const inline = rows.length <= INLINE_STATUS_LIMIT;
  return { ...summarizeRows(rows, inline), spec, pending: [], supersede: [], followUp: null };
}

/** The try of the running activity (1 outside an activity context, e.g. a direct call in a test). */
function currentAttempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  log,
  ParentClosePolicy,
  patched,
  proxyLocalActivities,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { ActivityFailure, TimeoutFailure, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities';
import type { BusinessEvent } from '../src/domain/business-event';
import { EventLedger, INLINE_STATUS_LIMIT, type DispatchResult } from '../src/domain/event-ledger';
import type { EventResult } from '../src/domain/notification-request';
import type { NotificationStatus } from '../src/domain/notification-status';
import type { CancelRequest, OutcomesReport, RescheduleRequest } from '../src/domain/workflow-messages';
import { followUpWorkflowId } from '../src/domain/workflow-ids';
import {
  NotificationEventId,
  NotificationEventType,
  NotificationUserId,
} from '../src/temporal/search-attributes';
import {
  cancelSignal,
  cancelUpdate,
  eventStatusQuery,
  outcomesReadySignal,
  rescheduleSignal,
  rescheduleUpdate,
  statusQuery,
} from './definitions';
import { PATCHES } from './patches';
import { release0BusinessEvent } from './release-0';

/**
 * The short steps run as local activities: their results are markers in this history, with no
 * activity task of their own. They only touch our own Postgres and Redis, so every failure that is
 * not a business failure is our infrastructure's: retried with capped backoff until the horizon
 * (INFRA_RETRY_HORIZON_MS, docs/contracts.md "Durability invariants"), then the event's open work
 * expires. Backoffs above two seconds are durable timers in this history (I2: a workflow whose step
 * waits for Postgres or Redis holds a timer and survives a worker restart meanwhile; the SDK checks the
 * horizon when it schedules one, so it is kept within a backoff).
 */
function durableSteps(horizonMs: number) {
  return proxyLocalActivities<Activities>({
    startToCloseTimeout: '60 seconds',
    scheduleToCloseTimeout: horizonMs,
    localRetryThreshold: '2 seconds',
    retry: { initialInterval: '500 milliseconds', maximumInterval: '5 minutes', backoffCoefficient: 2 },
  });
}
/** Default INFRA_RETRY_HORIZON_MS, for the first step (the configured one comes with the event's spec). */
const DEFAULT_HORIZON_MS = 24 * 3600 * 1000;
/** Writing the expiry itself has nowhere else to go: it retries for as long as it takes, on a timer. */
const expirySteps = proxyLocalActivities<Activities>({
  startToCloseTimeout: '60 seconds',
  localRetryThreshold: '2 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '5 minutes', backoffCoefficient: 2 },
});

const PAGE_SIZE = 500;

/**
 * One business event (or direct send) and all its recipients: plan and hand off in the first
 * workflow task, wait with one timer per distinct send time, and finish when the channel workers
 * report the last outcome (one signal) or the deadline reconciles what is still open.
 */
export async function businessEventWorkflow(input: BusinessEvent): Promise<EventResult> {
  const release0 = release0BusinessEvent(input);
  if (release0) return release0;
  const eventType = input.type ?? `direct:${input.templateCode}`;
  // A client that is not ours (e.g. the temporal CLI) may start us without search attributes.
  if (!workflowInfo().typedSearchAttributes.get(NotificationEventId)) {
    upsertSearchAttributes([
      { key: NotificationEventId, value: input.id },
      { key: NotificationEventType, value: eventType },
      ...(input.userId ? [{ key: NotificationUserId, value: input.userId }] : []),
    ]);
  }
  return runEvent({
    eventId: input.id,
    open: (workflowId) =>
      durableSteps(DEFAULT_HORIZON_MS).openEvent({ event: input, workflowId, nowMs: Date.now() }),
    afterOpen: async (opened) => ({
      cancelled: await supersede(opened.supersede, `superseded by ${eventType} ${opened.spec.eventId}`),
      followUps: await startFollowUps(opened, input),
    }),
  });
}

/**
 * An operator's redrive of an event's `expired` notifications (docs/contracts.md, "Durability
 * invariants"), run under the event's own workflow id once its workflow closed: the channel workers'
 * `outcomesReady` reaches it, and it waits, reconciles and expires exactly like the event workflow.
 */
export async function redriveEventWorkflow(input: { eventId: string }): Promise<EventResult> {
  return runEvent({
    eventId: input.eventId,
    open: (workflowId) =>
      durableSteps(DEFAULT_HORIZON_MS).reopenExpiredEvent({
        eventId: input.eventId,
        workflowId,
        nowMs: Date.now(),
      }),
    afterOpen: async () => ({ cancelled: [], followUps: [] }),
  });
}

type OpenedEvent = Awaited<ReturnType<Activities['openEvent']>>;

/** The event workflow's body after its start: handlers, the first step, hand-off of further pages, and the wait loop. */
async function runEvent(how: {
  eventId: string;
  open: (workflowId: string) => Promise<OpenedEvent>;
  afterOpen: (opened: OpenedEvent) => Promise<Pick<EventResult, 'cancelled' | 'followUps'>>;
}): Promise<EventResult> {
  const { workflowId } = workflowInfo();
  const ledger = new EventLedger();
  let opened: OpenedEvent | undefined;
  let woken = false;

  /**
   * Cancel and reschedule: Postgres first (a notification a worker already handed to a provider is
   * left alone), then the ledger. An update that could not cancel its recipient fails with the reason;
   * a signal never fails the workflow.
   */
  const control = async (
    action: 'cancel' | 'reschedule',
    request: CancelRequest & Partial<RescheduleRequest>,
    viaUpdate: boolean,
  ): Promise<NotificationStatus> => {
    await condition(() => opened !== undefined);
    const recipients = await durableSteps(
      opened!.spec.infraHorizonMs ?? DEFAULT_HORIZON_MS,
    ).controlRecipients({ eventId: opened!.spec.eventId, action, ...request });
    ledger.apply({ recipients });
    if (action === 'reschedule') ledger.addWakeTime(Date.parse(request.sendAt!));
    const status = ledger.status(request.userId ?? recipients[0]?.userId);
    if (viaUpdate && action === 'cancel' && request.userId !== undefined && status.state !== 'cancelled') {
      throw ApplicationFailure.create({
        type: 'NotCancellable',
        message: `notification is ${status.state}: a provider was already called for it`,
        nonRetryable: true,
      });
    }
    return status;
  };
  const validate =
    (verb: 'cancelled' | 'rescheduled') => (request: CancelRequest & Partial<RescheduleRequest>) => {
      if (verb === 'rescheduled' && Number.isNaN(Date.parse(request?.sendAt ?? '')))
        throw new Error(`sendAt: "${request?.sendAt}" is not an ISO 8601 time`);
      const refusal = opened ? ledger.refusal(request?.userId, verb) : null;
      if (refusal) throw new Error(refusal);
    };
  setHandler(statusQuery, (arg) => ledger.status(arg?.userId));
  setHandler(eventStatusQuery, () => ({
    eventId: how.eventId,
    recipients: ledger.results(workflowId).length,
    states: ledger.counts(),
  }));
  let reported: NonNullable<OutcomesReport['recipients']> = [];
  setHandler(outcomesReadySignal, (report) => {
    woken = true;
    reported = [...reported, ...(report?.recipients ?? [])];
  });
  setHandler(cancelUpdate, (request) => control('cancel', request ?? {}, true), {
    validator: validate('cancelled'),
  });
  setHandler(rescheduleUpdate, (request) => control('reschedule', request, true), {
    validator: validate('rescheduled'),
  });
  // Signals: the same, for clients that cannot send updates; an invalid one is logged and dropped.
  setHandler(cancelSignal, async (request) => void (await control('cancel', request ?? {}, false)));
  setHandler(rescheduleSignal, async (request) => {
    if (Number.isNaN(Date.parse(request?.sendAt ?? '')))
      return log.warn('reschedule ignored: sendAt is not a time', { sendAt: request?.sendAt });
    await control('reschedule', request, false);
  });

  // 1. Plan, supersede, and admit the first page: a due notification is stored and queued right here.
  opened = await how.open(workflowId);
  const { spec } = opened;
  const steps = durableSteps(spec.infraHorizonMs ?? DEFAULT_HORIZON_MS);
  ledger.apply(opened);
  // Decided on the recipients as resolved (a role broadcast names none in its envelope), as openEvent did.
  const inline = opened.recipients.length + opened.pending.length <= INLINE_STATUS_LIMIT;
  const { cancelled, followUps } = await how.afterOpen(opened);
  /**
   * Runs a step; when our infrastructure stayed out of reach past the horizon (the step timed out),
   * the event's open work expires instead of the workflow failing with rows left open (I1, I4).
   */
  const orExpire = async <T extends Partial<DispatchResult>>(
    step: () => Promise<T>,
    options?: { deadlineIsComplete?: boolean },
  ): Promise<T | null> => {
    try {
      const result = await step();
      ledger.apply(result, options);
      return result;
    } catch (err) {
      if (!isPastHorizon(err) || !patched(PATCHES.expireOnHorizon)) throw err;
      ledger.apply(
        await expirySteps.expireEvent({
          spec,
          inline,
          reason: `${stepName(err)}: our own infrastructure stayed unreachable for ${spec.infraHorizonMs ?? DEFAULT_HORIZON_MS} ms`,
        }),
        { deadlineIsComplete: true },
      );
      return null;
    }
  };
  for (let pending = opened.pending; pending.length > 0; pending = pending.slice(PAGE_SIZE)) {
    const page = pending.slice(0, PAGE_SIZE);
    await orExpire(() => steps.admitRecipients({ spec, userIds: page, inline, nowMs: Date.now() }));
  }

  // 2. Wait for the next send time, the last outcome, or the channel deadline; act; repeat.
  const timers = new DurableTimers();
  while (!ledger.isSettled()) {
    timers.keepOnly(ledger.timerTimes());
    let at = ledger.nextTimerAt();
    // I2: never a wait without a timer. The ledger always knows a time (wake-up or deadline); should it
    // not, the deadline from now reconciles from Postgres, which reports every time still wanted.
    const guarded = at === null && patched(PATCHES.alwaysATimer);
    if (guarded) at = Date.now() + spec.deliveryDeadlineMs;
    const seen = ledger.revision;
    if (!woken && (at === null || at > Date.now())) {
      const wake = () => woken || ledger.revision !== seen;
      // A handler's change (a cancel, a reschedule) wakes the loop without restarting the timer of a time still wanted.
      await (at === null ? condition(wake) : Promise.race([condition(wake), timers.at(at)]));
    }
    const guardFired = guarded && at! <= Date.now();
    if (ledger.takeDue(Date.now())) {
      const due = await orExpire(() => steps.dispatchDue({ spec, inline, nowMs: Date.now() }));
      if (due && due.examined >= PAGE_SIZE) ledger.addWakeTime(Date.now());
    }
    if (woken || guardFired || ledger.deadlinePassed(Date.now())) {
      woken = false;
      // The closing worker's report settles a one-recipient delivered event without another step.
      if (reported.length > 0 && patched(PATCHES.outcomesReport)) ledger.apply({ recipients: reported });
      reported = [];
      if (!ledger.isSettled())
        await orExpire(() => steps.reconcileEvent({ spec, inline, nowMs: Date.now() }), {
          deadlineIsComplete: true,
        });
    }
  }
  await condition(allHandlersFinished);
  return { eventId: spec.eventId, notifications: ledger.results(workflowId), followUps, cancelled };
}

/**
 * One durable timer per distinct wake-up time (docs/contracts.md, "Notification lifecycle"), kept
 * across the loop's turns: recipients sharing a send time share a timer, and a handler waking the
 * loop does not cancel and start it again. Times no longer wanted are cancelled.
 */
class DurableTimers {
  private readonly timers = new Map<number, { fired: Promise<void>; scope: CancellationScope }>();

  at(atMs: number): Promise<void> {
    let timer = this.timers.get(atMs);
    if (!timer) {
      const scope = new CancellationScope();
      const fired = scope.run(() => sleep(Math.max(atMs - Date.now(), 1)));
      // A cancelled timer rejects; nobody waits on it any more.
      fired.catch(() => undefined);
      timer = { fired, scope };
      this.timers.set(atMs, timer);
    }
    return timer.fired;
  }

  /** Forgets fired timers and cancels those of times no longer wanted. */
  keepOnly(wanted: number[]): void {
    for (const [atMs, timer] of this.timers) {
      if (wanted.includes(atMs) && atMs > Date.now()) continue;
      if (atMs > Date.now()) timer.scope.cancel();
      this.timers.delete(atMs);
    }
  }
}

/** A step that ran out of its horizon (its schedule-to-close timeout) rather than failing for a business reason. */
function isPastHorizon(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof TimeoutFailure;
}

function stepName(err: unknown): string {
  return err instanceof ActivityFailure ? err.activityType : 'a step';
}

/** Tells superseded notifications and obsolete follow-ups to cancel; returns the workflows reached. */
async function supersede(
  targets: { workflowId: string; userId?: string }[],
  reason: string,
): Promise<string[]> {
  const reached: string[] = [];
  for (const { workflowId, userId } of targets) {
    try {
      await getExternalWorkflowHandle(workflowId).signal(cancelSignal, {
        ...(userId ? { userId } : {}),
        reason,
      });
      reached.push(workflowId);
    } catch (err) {
      // Already finished or never scheduled: nothing to cancel.
      log.info('nothing to cancel', { workflowId, error: String(err) });
    }
  }
  return reached;
}

/**
 * The follow-up an event schedules per recipient (a payment reminder): an event workflow of its own
 * whose id derives from the order, so a later event cancels it by id. One per order and recipient.
 */
async function startFollowUps(opened: OpenedEvent, input: BusinessEvent): Promise<EventResult['followUps']> {
  const { followUp, spec } = opened;
  if (!followUp) return [];
  const started: EventResult['followUps'] = [];
  for (const recipient of opened.recipients) {
    if (recipient.state === 'failed' && !recipient.notificationId) continue;
    const workflowId = followUpWorkflowId(followUp.kind, followUp.correlationKey, recipient.userId);
    const event: BusinessEvent = {
      id: `${spec.eventId}.${followUp.kind}`,
      templateCode: followUp.templateCode,
      occurredAt: new Date().toISOString(),
      userId: recipient.userId,
      data: spec.data,
      options: { ...input.options, delayMs: followUp.delayMs, sendAt: null, channels: followUp.channels },
    };
    try {
      await startChild(businessEventWorkflow, {
        workflowId,
        args: [event],
        // The reminder outlives this event's workflow.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        typedSearchAttributes: [
          { key: NotificationEventId, value: event.id },
          { key: NotificationEventType, value: spec.eventType ?? `direct:${followUp.templateCode}` },
          { key: NotificationUserId, value: recipient.userId },
        ],
        memo: {
          templateCode: followUp.templateCode,
          channels: followUp.channels,
          correlationKey: followUp.correlationKey,
        },
      });
      started.push({ userId: recipient.userId, workflowId });
    } catch (err) {
      // A second PAYMENT_FAILED of the same order keeps the first reminder.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
  return started;
}

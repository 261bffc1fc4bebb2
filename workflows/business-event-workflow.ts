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
import { eventTypeOf, followUpWorkflowId } from '../src/domain/workflow-ids';
import {
  NotificationEventId,
  NotificationEventType,
  NotificationRecipientRef,
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
  const eventType = eventTypeOf(input);
  // A client that is not ours (e.g. the temporal CLI) may start us without search attributes.
  if (!workflowInfo().typedSearchAttributes.get(NotificationEventId)) {
    upsertSearchAttributes([
      { key: NotificationEventId, value: input.id },
      { key: NotificationEventType, value: eventType },
      // Release 4 and earlier tagged the user id in clear; now the first step's ref does (tagRecipientRef).
      ...(input.userId && !patched(PATCHES.opaqueRecipientIds)
        ? [{ key: NotificationUserId, value: input.userId }]
        : []),
    ]);
  }
  return runEvent({
    eventId: input.id,
    open: (workflowId) =>
      durableSteps(DEFAULT_HORIZON_MS).openEvent({ event: input, workflowId, nowMs: Date.now() }),
    afterOpen: async (opened) => {
      tagRecipientRef(opened, input);
      return {
        cancelled: await supersede(opened.supersede, `superseded by ${eventType} ${opened.spec.eventId}`),
        followUps: await startFollowUps(opened, input),
      };
    },
  });
}

/**
 * The opaque ref of the recipient a follow-up or a single-recipient event is for, when the first step
 * answered refs (patch opaque-recipient-ids); undefined for release-4 histories, whose steps did not.
 */
function refOf(opened: OpenedEvent, userId: string): string | undefined {
  const ref = opened.recipientRefs?.[userId];
  return ref !== undefined && patched(PATCHES.opaqueRecipientIds) ? ref : undefined;
}

/** A single-recipient event is found by its recipient's ref (docs/contracts.md, "Search attributes"), never the user id. */
function tagRecipientRef(opened: OpenedEvent, input: BusinessEvent): void {
  const ref = input.userId ? refOf(opened, input.userId) : undefined;
  if (ref !== undefined) upsertSearchAttributes([{ key: NotificationRecipientRef, value: ref }]);
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
type EventSpec = OpenedEvent['spec'];
type EventSteps = ReturnType<typeof durableSteps>;
type ControlRequest = CancelRequest & Partial<RescheduleRequest>;

/** The infrastructure retry horizon an event was opened with. */
function horizonOf(spec: EventSpec): number {
  return spec.infraHorizonMs ?? DEFAULT_HORIZON_MS;
}

/**
 * The event workflow's body after its start: handlers, the first step, hand-off of further pages, and the
 * wait loop. Its awaits stay in this function and EventRun.untilSettled (entered synchronously, left only
 * once every handler finished); the helpers between them are synchronous. An extra async hop would move
 * this body's commands relative to a handler's issued in the same activation, and replay would refuse it.
 */
async function runEvent(how: {
  eventId: string;
  open: (workflowId: string) => Promise<OpenedEvent>;
  afterOpen: (opened: OpenedEvent) => Promise<Pick<EventResult, 'cancelled' | 'followUps'>>;
}): Promise<EventResult> {
  const run = new EventRun(how.eventId);
  run.registerHandlers();

  // 1. Plan, supersede, and admit the first page: a due notification is stored and queued right here.
  const opened = await how.open(run.workflowId);
  const steps = run.begin(opened);
  const { spec } = opened;
  const { cancelled, followUps } = await how.afterOpen(opened);
  for (let pending = opened.pending; pending.length > 0; pending = pending.slice(PAGE_SIZE)) {
    const page = pending.slice(0, PAGE_SIZE);
    await run.orExpire(() =>
      steps.admitRecipients({ spec, userIds: page, inline: run.inline, nowMs: Date.now() }),
    );
  }

  // 2. Wait for the next send time, the last outcome, or the channel deadline; act; repeat.
  const notifications = await run.untilSettled(steps);
  return { eventId: spec.eventId, notifications, followUps, cancelled };
}

/**
 * What one event workflow run shares between its body and its handlers: the ledger of its recipients,
 * what the first step opened, and whether an outcomes report woke the wait loop.
 */
class EventRun {
  readonly workflowId = workflowInfo().workflowId;
  readonly ledger = new EventLedger();
  /** Set by the first step; cancel and reschedule wait for it. */
  opened: OpenedEvent | undefined;
  /** Whether statuses are answered inline; decided once the first step resolved the recipients. */
  inline = false;
  /** Set by outcomesReady: the loop reconciles (or applies the report) on its next turn. */
  private woken = false;
  private reported: NonNullable<OutcomesReport['recipients']> = [];

  constructor(private readonly eventId: string) {}

  /** The event's queries, updates and signals (docs/contracts.md, "Signals, updates and queries"). */
  registerHandlers(): void {
    const { ledger } = this;
    setHandler(statusQuery, (arg) => ledger.status(arg?.userId));
    setHandler(eventStatusQuery, () => ({
      eventId: this.eventId,
      recipients: ledger.results(this.workflowId).length,
      states: ledger.counts(),
    }));
    setHandler(outcomesReadySignal, (report) => {
      this.woken = true;
      this.reported = [...this.reported, ...(report?.recipients ?? [])];
    });
    setHandler(cancelUpdate, (request) => this.control('cancel', request ?? {}, true), {
      validator: this.validator('cancelled'),
    });
    setHandler(rescheduleUpdate, (request) => this.control('reschedule', request, true), {
      validator: this.validator('rescheduled'),
    });
    // Signals: the same, for clients that cannot send updates; an invalid one is logged and dropped.
    setHandler(cancelSignal, async (request) => void (await this.control('cancel', request ?? {}, false)));
    setHandler(rescheduleSignal, async (request) => {
      if (Number.isNaN(Date.parse(request?.sendAt ?? '')))
        return log.warn('reschedule ignored: sendAt is not a time', { sendAt: request?.sendAt });
      await this.control('reschedule', request, false);
    });
  }

  /** Takes in the first step's result; returns the event's steps, retried within its horizon. */
  begin(opened: OpenedEvent): EventSteps {
    this.opened = opened;
    const steps = durableSteps(horizonOf(opened.spec));
    this.ledger.apply(opened);
    // Decided on the recipients as resolved (a role broadcast names none in its envelope), as openEvent did.
    this.inline = opened.recipients.length + opened.pending.length <= INLINE_STATUS_LIMIT;
    return steps;
  }

  /**
   * Cancel and reschedule: Postgres first (a notification a worker already handed to a provider is
   * left alone), then the ledger. An update that could not cancel its recipient fails with the reason;
   * a signal never fails the workflow.
   */
  private async control(
    action: 'cancel' | 'reschedule',
    request: ControlRequest,
    viaUpdate: boolean,
  ): Promise<NotificationStatus> {
    await condition(() => this.opened !== undefined);
    const { spec } = this.opened!;
    const recipients = await durableSteps(horizonOf(spec)).controlRecipients({
      eventId: spec.eventId,
      action,
      ...request,
    });
    this.ledger.apply({ recipients });
    if (action === 'reschedule') this.ledger.addWakeTime(Date.parse(request.sendAt!));
    const status = this.ledger.status(request.userId ?? recipients[0]?.userId);
    if (viaUpdate && action === 'cancel' && request.userId !== undefined && status.state !== 'cancelled') {
      throw ApplicationFailure.create({
        type: 'NotCancellable',
        message: `notification is ${status.state}: a provider was already called for it`,
        nonRetryable: true,
      });
    }
    return status;
  }

  /** An update's validator: refuses a malformed time, or a recipient the ledger says is past that change. */
  private validator(verb: 'cancelled' | 'rescheduled') {
    return (request: ControlRequest) => {
      if (verb === 'rescheduled' && Number.isNaN(Date.parse(request?.sendAt ?? '')))
        throw new Error(`sendAt: "${request?.sendAt}" is not an ISO 8601 time`);
      const refusal = this.opened ? this.ledger.refusal(request?.userId, verb) : null;
      if (refusal) throw new Error(refusal);
    };
  }

  /**
   * Runs a step; when our infrastructure stayed out of reach past the horizon (the step timed out),
   * the event's open work expires instead of the workflow failing with rows left open (I1, I4).
   */
  async orExpire<T extends Partial<DispatchResult>>(
    step: () => Promise<T>,
    options?: { deadlineIsComplete?: boolean },
  ): Promise<T | null> {
    try {
      const result = await step();
      this.ledger.apply(result, options);
      return result;
    } catch (err) {
      if (!isPastHorizon(err) || !patched(PATCHES.expireOnHorizon)) throw err;
      const { spec } = this.opened!;
      this.ledger.apply(
        await expirySteps.expireEvent({
          spec,
          inline: this.inline,
          reason: `${stepName(err)}: our own infrastructure stayed unreachable for ${horizonOf(spec)} ms`,
        }),
        { deadlineIsComplete: true },
      );
      return null;
    }
  }

  /**
   * The wait loop: sleeps until the next send time, the last outcome or the channel deadline, then
   * dispatches what is due and reconciles what the wake-up asks for, until every recipient is final.
   * Returns the notifications once every handler finished.
   */
  async untilSettled(steps: EventSteps): Promise<EventResult['notifications']> {
    const { ledger } = this;
    const { spec } = this.opened!;
    const timers = new DurableTimers();
    while (!ledger.isSettled()) {
      const { at, guarded } = this.nextWakeUp(timers, spec);
      if (!this.woken && (at === null || at > Date.now())) await this.wakeUp(at, timers);
      const guardFired = guarded && at! <= Date.now();
      if (ledger.takeDue(Date.now())) {
        const due = await this.orExpire(() =>
          steps.dispatchDue({ spec, inline: this.inline, nowMs: Date.now() }),
        );
        if (due && due.examined >= PAGE_SIZE) ledger.addWakeTime(Date.now());
      }
      if (this.woken || guardFired || ledger.deadlinePassed(Date.now())) {
        this.woken = false;
        this.applyReport();
        if (!ledger.isSettled())
          await this.orExpire(
            // The sending recipients: one whose row is gone (erased meanwhile) is reported final. An
            // argument, not a command: histories replay unchanged.
            () =>
              steps.reconcileEvent({
                spec,
                inline: this.inline,
                nowMs: Date.now(),
                sending: ledger.sendingUserIds(),
              }),
            { deadlineIsComplete: true },
          );
      }
    }
    await condition(allHandlersFinished);
    return ledger.results(this.workflowId);
  }

  /**
   * The time the loop wakes at, keeping only the timers of times still wanted. I2: never a wait without
   * a timer. The ledger always knows a time (wake-up or deadline); should it not (`guarded`), the
   * deadline from now reconciles from Postgres, which reports every time still wanted.
   */
  private nextWakeUp(timers: DurableTimers, spec: EventSpec): { at: number | null; guarded: boolean } {
    timers.keepOnly(this.ledger.timerTimes());
    const at = this.ledger.nextTimerAt();
    const guarded = at === null && patched(PATCHES.alwaysATimer);
    return { at: guarded ? Date.now() + spec.deliveryDeadlineMs : at, guarded };
  }

  /**
   * Resolves at `at`, on an outcomes report, or on a handler's change (a cancel, a reschedule), which
   * wakes the loop without restarting the timer of a time still wanted.
   */
  private wakeUp(at: number | null, timers: DurableTimers): Promise<void> {
    const seen = this.ledger.revision;
    const wake = () => this.woken || this.ledger.revision !== seen;
    return at === null ? condition(wake) : Promise.race([condition(wake), timers.at(at)]);
  }

  /** The closing worker's report settles a one-recipient delivered event without another step. */
  private applyReport(): void {
    if (this.reported.length > 0 && patched(PATCHES.outcomesReport))
      this.ledger.apply({ recipients: this.reported });
    this.reported = [];
  }
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

/**
 * A step that ran out of its schedule-to-close horizon (not a business failure). A live run sees the
 * timeout wrapped in an ActivityFailure; a replay of a local activity's marker hands back the bare TimeoutFailure: both count.
 */
function isPastHorizon(err: unknown): boolean {
  return (
    err instanceof TimeoutFailure || (err instanceof ActivityFailure && err.cause instanceof TimeoutFailure)
  );
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
  if (!opened.followUp) return [];
  const started: EventResult['followUps'] = [];
  for (const recipient of opened.recipients) {
    if (recipient.state === 'failed' && !recipient.notificationId) continue;
    const child = followUpChild(opened, input, recipient.userId);
    try {
      await startChild(businessEventWorkflow, child);
      started.push({ userId: recipient.userId, workflowId: child.workflowId });
    } catch (err) {
      // A second PAYMENT_FAILED of the same order keeps the first reminder.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
  return started;
}

/** How one recipient's follow-up workflow starts: its id, its event, search attributes and memo. */
function followUpChild(opened: OpenedEvent, input: BusinessEvent, userId: string) {
  const { spec } = opened;
  const followUp = opened.followUp!;
  const ref = refOf(opened, userId);
  const event: BusinessEvent = {
    id: `${spec.eventId}.${followUp.kind}`,
    templateCode: followUp.templateCode,
    occurredAt: new Date().toISOString(),
    userId,
    data: spec.data,
    options: { ...input.options, delayMs: followUp.delayMs, sendAt: null, channels: followUp.channels },
  };
  return {
    workflowId: followUpWorkflowId(followUp.kind, followUp.correlationKey, ref ?? userId),
    args: [event] as [BusinessEvent],
    // The reminder outlives this event's workflow.
    parentClosePolicy: ParentClosePolicy.ABANDON,
    typedSearchAttributes: [
      { key: NotificationEventId, value: event.id },
      {
        key: NotificationEventType,
        value: eventTypeOf({ type: spec.eventType, templateCode: followUp.templateCode }),
      },
      ref !== undefined
        ? { key: NotificationRecipientRef, value: ref }
        : { key: NotificationUserId, value: userId },
    ],
    memo: {
      templateCode: followUp.templateCode,
      channels: followUp.channels,
      correlationKey: followUp.correlationKey,
    },
  };
}

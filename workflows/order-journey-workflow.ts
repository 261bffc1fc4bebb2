import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  ParentClosePolicy,
  patched,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
import type { BusinessEvent } from '../src/domain/business-event';
import {
  applyEvent,
  DELAY_TEMPLATE,
  delayNoticeEventId,
  JOURNEY_MESSAGES,
  journeyView,
  newJourney,
  nextDeadline,
  onDeadline,
  type JourneyAction,
  type JourneyInput,
  type JourneySettings,
  type JourneySignal,
  type JourneyState,
  type JourneyView,
} from '../src/domain/order-journey';
import { eventTypeOf, eventWorkflowId } from '../src/domain/workflow-ids';
import {
  NotificationEventId,
  NotificationEventType,
  NotificationUserId,
} from '../src/temporal/search-attributes';
import { businessEventWorkflow } from './business-event-workflow';
import { PATCHES } from './patches';

export const orderEventSignal = defineSignal<[JourneySignal]>(JOURNEY_MESSAGES.orderEvent);
export const orderJourneyQuery = defineQuery<JourneyView>(JOURNEY_MESSAGES.orderJourney);

/** Events one run takes before it continues as new (the history stays bounded). */
const EVENTS_PER_RUN = 200;

/**
 * One order's journey (docs/order-journeys.md): the order's events signal it (`orderEvent`, sent by each
 * event's first step with signal-with-start); it keeps the order's state, sends the delay message when
 * shipping misses its promise, and ends when the order is delivered or cancelled, or after the idle
 * days. I2: while open it always waits on a timer (the promise or the idle end).
 */
export async function orderJourneyWorkflow(input: JourneyInput): Promise<JourneyView> {
  const run = new JourneyRun(input);
  setHandler(orderEventSignal, (signal) => void run.inbox.push(signal));
  setHandler(orderJourneyQuery, () => journeyView(run.state, run.settings));
  for (let taken = 0; ;) {
    while (run.inbox.length > 0 && !run.state.ended) {
      await run.take(run.inbox.shift()!);
      taken++;
    }
    const deadline = nextDeadline(run.state, run.settings);
    if (!deadline) break;
    if (taken >= EVENTS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      if (run.inbox.length === 0)
        return continueAsNew<typeof orderJourneyWorkflow>({
          ...input,
          settings: run.settings,
          state: run.state,
        });
      continue;
    }
    const signalled = await condition(() => run.inbox.length > 0, Math.max(deadline.atMs - Date.now(), 1));
    if (!signalled) await run.act(onDeadline(run.state, run.settings, Date.now(), run.delayEventId()));
  }
  await condition(allHandlersFinished);
  return journeyView(run.state, run.settings);
}

/** The journey's state and settings, and what it does about an event or a deadline. */
class JourneyRun {
  state: JourneyState;
  settings: JourneySettings;
  readonly inbox: JourneySignal[] = [];

  constructor(input: JourneyInput) {
    this.state = input.state ?? newJourney(input.orderNumber, Date.now());
    this.settings = input.settings;
  }

  async take(signal: JourneySignal): Promise<void> {
    this.settings = signal.settings ?? this.settings;
    await this.act(applyEvent(this.state, signal.event, this.settings, Date.now()));
  }

  async act(step: { state: JourneyState; actions: JourneyAction[] }): Promise<void> {
    this.state = step.state;
    for (const action of step.actions) {
      if (action.kind === 'send_delay_notice') await this.sendDelayNotice(action);
    }
  }

  delayEventId(): string {
    return delayNoticeEventId(this.state.orderNumber, workflowInfo().firstExecutionRunId);
  }

  /** A direct send of `order_delayed` through the normal event path: an event workflow of its own. */
  private async sendDelayNotice(
    action: Extract<JourneyAction, { kind: 'send_delay_notice' }>,
  ): Promise<void> {
    const eventId = this.delayEventId();
    const single = action.userIds.length === 1 ? action.userIds[0] : undefined;
    const event: BusinessEvent = {
      id: eventId,
      templateCode: DELAY_TEMPLATE,
      occurredAt: new Date().toISOString(),
      ...(single ? { userId: single } : { userIds: action.userIds }),
      data: { orderNumber: this.state.orderNumber, promisedShipBy: action.promisedShipBy },
      options: { priority: 'normal', delayMs: 0, sendAt: null },
    };
    try {
      await startChild(businessEventWorkflow, {
        workflowId: eventWorkflowId(eventId),
        args: [event],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        // Like every event: a completed notice is not started again.
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        typedSearchAttributes: [
          { key: NotificationEventId, value: eventId },
          { key: NotificationEventType, value: eventTypeOf({ templateCode: DELAY_TEMPLATE }) },
          // Release 4 tagged the user id; now the notice's own first step tags its recipient's ref.
          ...(single && !patched(PATCHES.opaqueRecipientIds)
            ? [{ key: NotificationUserId, value: single }]
            : []),
        ],
      });
    } catch (err) {
      // A journey run again after a close finds its notice already sent: once per order.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
}

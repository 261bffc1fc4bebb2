import {
  getExternalWorkflowHandle,
  log,
  ParentClosePolicy,
  proxyActivities,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../../activities';
import type { BusinessEvent } from '../../src/domain/business-event';
import type { EventPlan, EventResult, NotificationRequest } from '../../src/domain/notification-request';
import { eventTypeOf, followUpWorkflowId, notificationWorkflowId } from '../../src/domain/workflow-ids';
import {
  NotificationEventId,
  NotificationEventType,
  NotificationUserId,
} from '../../src/temporal/search-attributes';
import { cancelSignal } from '../definitions';
import { notificationWorkflow } from './notification-workflow';

const { planBusinessEvent } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/**
 * One business event: resolves recipients and templates, cancels what this event makes obsolete
 * (a payment reminder, a still-waiting shipping notice of the same order), then starts one
 * notificationWorkflow per recipient and the follow-up the event schedules.
 * Release 0 only (docs/release-0.md): the commands it issues and their order stay as they are.
 */
export async function businessEventWorkflowV0(input: BusinessEvent): Promise<EventResult> {
  const eventType = eventTypeOf(input);
  // A client that is not ours (e.g. the temporal CLI) may start us without search attributes.
  if (!workflowInfo().typedSearchAttributes.get(NotificationEventId)) {
    upsertSearchAttributes([
      { key: NotificationEventId, value: input.id },
      { key: NotificationEventType, value: eventType },
      ...(input.userId ? [{ key: NotificationUserId, value: input.userId }] : []),
    ]);
  }

  const plan = await planBusinessEvent(input);
  const event = plan.event;
  const cancelled = await cancelSuperseded(plan.cancelWorkflowIds, `superseded by ${eventType} ${event.id}`);
  const children = await Promise.all(
    plan.recipients.map((userId) =>
      startNotification(
        notificationWorkflowId(event.id, userId),
        requestOf(plan, userId),
        plan,
        eventType,
        event.id,
      ),
    ),
  );
  const followUps = await startFollowUps(plan, eventType);

  const results = await Promise.all(children.map((child) => child.result()));
  return {
    eventId: event.id,
    notifications: results.map((status, i) => ({
      userId: plan.recipients[i],
      workflowId: children[i].workflowId,
      state: status.state,
      ...(status.error ? { error: status.error } : {}),
    })),
    followUps,
    cancelled,
  };
}

/** Signals `cancel` to each workflow this event supersedes, one after the other; returns those that took it. */
async function cancelSuperseded(workflowIds: string[], reason: string): Promise<string[]> {
  const cancelled: string[] = [];
  for (const workflowId of workflowIds) {
    try {
      await getExternalWorkflowHandle(workflowId).signal(cancelSignal, { reason });
      cancelled.push(workflowId);
    } catch (err) {
      // Already finished or never scheduled: nothing to cancel.
      log.info('nothing to cancel', { workflowId, error: String(err) });
    }
  }
  return cancelled;
}

function requestOf(plan: EventPlan, userId: string): NotificationRequest {
  const event = plan.event;
  return {
    eventId: event.id,
    eventType: event.type ?? null,
    templateCode: plan.templateCode,
    category: plan.category,
    userId,
    data: event.data,
    options: event.options,
    channels: plan.channels,
    fallbacks: plan.fallbacks,
    deliveryDeadlineMs: plan.deliveryDeadlineMs,
  };
}

/** The follow-up the event schedules, one per recipient, started one after the other. */
async function startFollowUps(plan: EventPlan, eventType: string): Promise<EventResult['followUps']> {
  const followUps: EventResult['followUps'] = [];
  if (!plan.followUp || plan.correlationKey === null) return followUps;
  const event = plan.event;
  const { kind, templateCode, category, channels, delayMs } = plan.followUp;
  for (const userId of plan.recipients) {
    const workflowId = followUpWorkflowId(kind, plan.correlationKey, userId);
    try {
      await startNotification(
        workflowId,
        {
          ...requestOf(plan, userId),
          eventId: `${event.id}.${kind}`,
          templateCode,
          category,
          channels,
          options: { ...event.options, delayMs, sendAt: null },
        },
        { ...plan, templateCode, channels },
        eventType,
        event.id,
      );
      followUps.push({ userId, workflowId });
    } catch (err) {
      // One follow-up per order and recipient: a second PAYMENT_FAILED keeps the first reminder.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
  return followUps;
}

function startNotification(
  workflowId: string,
  request: NotificationRequest,
  plan: EventPlan,
  eventType: string,
  eventId: string,
) {
  return startChild(notificationWorkflow, {
    workflowId,
    args: [request],
    // Scheduled notifications outlive a cancelled or terminated event workflow.
    parentClosePolicy: ParentClosePolicy.ABANDON,
    typedSearchAttributes: [
      { key: NotificationEventId, value: eventId },
      { key: NotificationEventType, value: eventType },
      { key: NotificationUserId, value: request.userId },
    ],
    memo: { templateCode: plan.templateCode, channels: plan.channels, correlationKey: plan.correlationKey },
  });
}

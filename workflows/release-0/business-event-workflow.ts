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
import { followUpWorkflowId, notificationWorkflowId } from '../../src/domain/workflow-ids';
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
 */
export async function businessEventWorkflowV0(input: BusinessEvent): Promise<EventResult> {
  const eventType = input.type ?? `direct:${input.templateCode}`;
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

  const cancelled: string[] = [];
  for (const workflowId of plan.cancelWorkflowIds) {
    try {
      await getExternalWorkflowHandle(workflowId).signal(cancelSignal, {
        reason: `superseded by ${eventType} ${event.id}`,
      });
      cancelled.push(workflowId);
    } catch (err) {
      // Already finished or never scheduled: nothing to cancel.
      log.info('nothing to cancel', { workflowId, error: String(err) });
    }
  }

  const request = (userId: string): NotificationRequest => ({
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
  });
  const children = await Promise.all(
    plan.recipients.map((userId) =>
      startNotification(notificationWorkflowId(event.id, userId), request(userId), plan, eventType, event.id),
    ),
  );

  const followUps: EventResult['followUps'] = [];
  if (plan.followUp && plan.correlationKey !== null) {
    const { kind, templateCode, category, channels, delayMs } = plan.followUp;
    for (const userId of plan.recipients) {
      const workflowId = followUpWorkflowId(kind, plan.correlationKey, userId);
      try {
        await startNotification(
          workflowId,
          {
            ...request(userId),
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
  }

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

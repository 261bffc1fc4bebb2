import { ParentClosePolicy, proxyActivities, startChild, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { BusinessEvent } from '../src/domain/business-event';
import type { EventResult, NotificationRequest } from '../src/domain/notification-request';
import { notificationWorkflowId } from '../src/domain/workflow-ids';
import { NotificationEventId, NotificationEventType, NotificationUserId } from '../src/temporal/search-attributes';
import { notificationWorkflow } from './notification-workflow';

const { planBusinessEvent } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** One business event: resolves recipients and templates, then one notificationWorkflow per recipient. */
export async function businessEventWorkflow(event: BusinessEvent): Promise<EventResult> {
  const eventType = event.type ?? `direct:${event.templateCode}`;
  // A client that is not ours (e.g. the temporal CLI) may start us without search attributes.
  if (!workflowInfo().typedSearchAttributes.get(NotificationEventId)) {
    upsertSearchAttributes([
      { key: NotificationEventId, value: event.id },
      { key: NotificationEventType, value: eventType },
      ...(event.userId ? [{ key: NotificationUserId, value: event.userId }] : []),
    ]);
  }

  const plan = await planBusinessEvent(event);
  const children = await Promise.all(
    plan.recipients.map((userId) => {
      const request: NotificationRequest = {
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
      return startChild(notificationWorkflow, {
        workflowId: notificationWorkflowId(event.id, userId),
        args: [request],
        // Scheduled notifications outlive a cancelled or terminated event workflow.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        typedSearchAttributes: [
          { key: NotificationEventId, value: event.id },
          { key: NotificationEventType, value: eventType },
          { key: NotificationUserId, value: userId },
        ],
        memo: { templateCode: plan.templateCode, channels: plan.channels },
      });
    }),
  );
  const results = await Promise.all(children.map((child) => child.result()));
  return {
    eventId: event.id,
    notifications: results.map((status, i) => ({
      userId: plan.recipients[i],
      workflowId: children[i].workflowId,
      state: status.state,
      ...(status.error ? { error: status.error } : {}),
    })),
  };
}

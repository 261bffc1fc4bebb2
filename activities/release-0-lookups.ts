import type { Client } from '@temporalio/client';

/**
 * Running release-0 notification workflows of one event type, order and recipient, found through
 * Temporal visibility (search attributes, then the memo's correlation key): what any Temporal client
 * could query. Both releases' supersession looks for them.
 */
export async function findRelease0Waiting(
  temporalClient: Client,
  eventType: string,
  correlationKey: string,
  userIds: string[],
): Promise<string[]> {
  const ids: string[] = [];
  for (const userId of userIds) {
    const query = `WorkflowType = 'notificationWorkflow' AND ExecutionStatus = 'Running' AND NotificationEventType = '${eventType}' AND NotificationUserId = '${userId}'`;
    for await (const execution of temporalClient.workflow.list({ query })) {
      if (execution.memo?.correlationKey === correlationKey) ids.push(execution.workflowId);
    }
  }
  return ids;
}

import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  type Client,
} from '@temporalio/client';
import { eventWorkflowId } from '../domain/workflow-ids';
import { NotificationEventId, NotificationEventType } from '../temporal/search-attributes';

/**
 * Starts the redrive of an event's `expired` notifications (docs/contracts.md, "Durability
 * invariants"): `redriveEventWorkflow` under the event's own workflow id, allowed once the event's
 * workflow (or an earlier redrive) closed. `started: false` while one of them still runs.
 */
export async function startRedrive(
  client: Client,
  taskQueue: string,
  event: { eventId: string; eventType: string },
): Promise<{ workflowId: string; started: boolean }> {
  const workflowId = eventWorkflowId(event.eventId);
  try {
    await client.workflow.start('redriveEventWorkflow', {
      workflowId,
      taskQueue,
      args: [{ eventId: event.eventId }],
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      typedSearchAttributes: [
        { key: NotificationEventId, value: event.eventId },
        { key: NotificationEventType, value: event.eventType },
      ],
    });
    return { workflowId, started: true };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, started: false };
    throw err;
  }
}

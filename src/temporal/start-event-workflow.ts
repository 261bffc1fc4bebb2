import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { BusinessEvent } from '../domain/business-event';
import { EVENT_CATALOG } from '../domain/event-catalog';
import { eventTypeOf, eventWorkflowId } from '../domain/workflow-ids';
import { NotificationEventId, NotificationEventType } from './search-attributes';

/**
 * Reuse of an event workflow id (docs/contracts.md, "Workflows and ids"): a completed or running event is
 * never started again, but one whose run failed, was terminated, timed out or was cancelled is, so a resend
 * mends work an outage left behind. The new run's first step finds the rows already stored (unique per event
 * and recipient) and hands their open channels off again under the same job ids; send records keep a
 * provider from being called twice for a channel.
 */
export const EVENT_REUSE_POLICY = WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY;

/**
 * Starts businessEventWorkflow for an envelope already validated, once per event id (EVENT_REUSE_POLICY),
 * with its search attributes and memo; false when the id's workflow already ran or runs. Every starter of
 * event workflows outside workflow code (the client, digest sends) goes through here.
 */
export async function startEventWorkflow(
  client: Client,
  event: BusinessEvent,
  options: { taskQueue: string; eagerStart?: boolean },
): Promise<boolean> {
  try {
    await client.workflow.start('businessEventWorkflow', {
      taskQueue: options.taskQueue,
      workflowId: eventWorkflowId(event.id),
      args: [event],
      workflowIdReusePolicy: EVENT_REUSE_POLICY,
      ...(options.eagerStart ? { requestEagerStart: true } : {}),
      typedSearchAttributes: [
        { key: NotificationEventId, value: event.id },
        // No user id (docs/contracts.md, "Search attributes"): the workflow's first step tags a
        // single-recipient event with the recipient's opaque ref, which only our database resolves.
        { key: NotificationEventType, value: eventTypeOf(event) },
      ],
      memo: eventMemo(event),
    });
    return true;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw err;
  }
}

/** What an operator sees in the Web UI's memo column: the template and channels the event uses. */
function eventMemo(event: BusinessEvent): Record<string, unknown> {
  const definition = event.type ? EVENT_CATALOG[event.type] : undefined;
  return {
    templateCode: definition?.templateCode ?? event.templateCode,
    channels: event.options.channels ?? definition?.channels ?? 'template default',
  };
}

import type { Client } from '@temporalio/client';
import { release0NotificationsOpen } from '../src/release-0/open-executions';
import { RELEASE_0_WORKFLOW_TYPE } from '../src/release-0/notification-workflows';

/** How long an answer to "does a release-0 notificationWorkflow still run?" is trusted. */
export const RELEASE0_OPEN_CHECK_MS = 5 * 60_000;

/** The last answer per Temporal client (tests run several): whether any was open, and when asked. */
const lastAnswer = new WeakMap<Client, { open: boolean; at: number }>();

/**
 * Running release-0 notification workflows of one event type, order and recipient, found through
 * Temporal visibility (search attributes, then the memo's correlation key): what any Temporal client
 * could query. Both releases' supersession looks for them.
 *
 * Once release 0 has drained this costs nothing: with `RELEASE0_DRAINED=true` no query at all, else
 * one visibility count at most every RELEASE0_OPEN_CHECK_MS instead of a look-up per recipient.
 */
export async function findRelease0Waiting(
  temporalClient: Client,
  eventType: string,
  correlationKey: string,
  userIds: string[],
): Promise<string[]> {
  if (userIds.length === 0 || !(await release0MayBeOpen(temporalClient))) return [];
  const ids: string[] = [];
  for (const userId of userIds) {
    const query = `WorkflowType = '${RELEASE_0_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' AND NotificationEventType = '${eventType}' AND NotificationUserId = '${userId}'`;
    for await (const execution of temporalClient.workflow.list({ query })) {
      if (execution.memo?.correlationKey === correlationKey) ids.push(execution.workflowId);
    }
  }
  return ids;
}

/**
 * False once release 0 drained: RELEASE0_DRAINED=true (docs/contracts.md), or no release-0
 * notificationWorkflow running when last asked. Release 1+ starts none, so "none" stays true; the
 * answer is still asked again after RELEASE0_OPEN_CHECK_MS, which costs one count.
 */
async function release0MayBeOpen(temporalClient: Client): Promise<boolean> {
  if (process.env.RELEASE0_DRAINED === 'true') return false;
  const last = lastAnswer.get(temporalClient);
  const now = Date.now();
  if (last && now - last.at < RELEASE0_OPEN_CHECK_MS) return last.open;
  const open = await release0NotificationsOpen(temporalClient);
  lastAnswer.set(temporalClient, { open, at: now });
  return open;
}

import type { Client } from '@temporalio/client';

/** At most this many executions are listed for one recipient. */
const LIMIT = 100;

/**
 * A recipient's workflows by visibility (docs/contracts.md, "Search attributes"): those tagged with its
 * opaque ref, and those release 4 and earlier tagged with its user id. Values are quoted as Temporal's
 * list filter expects (a quote doubled); user ids are already restricted by the envelope schema.
 */
export async function recipientWorkflows(
  client: Client,
  ref: string,
  userId: string,
): Promise<{
  query: string;
  workflows: { workflowId: string; runId: string; type: string; status: string; startTime: string }[];
}> {
  const quote = (value: string) => `'${value.replace(/'/g, "''")}'`;
  const query = `NotificationRecipientRef = ${quote(ref)} OR NotificationUserId = ${quote(userId)}`;
  const workflows = [];
  for await (const execution of client.workflow.list({ query, pageSize: LIMIT })) {
    workflows.push({
      workflowId: execution.workflowId,
      runId: execution.runId,
      type: execution.type,
      status: execution.status.name,
      startTime: execution.startTime.toISOString(),
    });
    if (workflows.length >= LIMIT) break;
  }
  return { query, workflows };
}

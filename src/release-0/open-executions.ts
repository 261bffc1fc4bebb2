import type { Client } from '@temporalio/client';
import type { temporal as proto } from '@temporalio/proto';
import { PATCHES } from '../../workflows/patches';
import { RELEASE_0_WORKFLOW_TYPE } from './notification-workflows';

/**
 * Release-0 executions still open (docs/release-0.md, "Removing release 0"): every running
 * notificationWorkflow, and every running businessEventWorkflow or campaignWorkflow that took
 * release 0's code (its first workflow task completed without the release-1 patch marker).
 */

/** The longest wait a release-0 notification can have (delay or sendAt), so the latest it can close. */
export const LONGEST_DELAY_DAYS = 366;
const DAY_MS = 24 * 3600 * 1000;

/**
 * Set by the SDK when a workflow first takes a `patched(id)` branch: the ids of the patches it took.
 * Release-1+ event and campaign workflows carry `lean-event-path` / `bulk-campaign-fan-out` after their
 * first workflow task; release-0 ones carry none.
 */
const CHANGE_VERSION_ATTRIBUTE = 'TemporalChangeVersion';

/** The patch whose absence marks a workflow type's release-0 executions. */
const RELEASE_1_PATCH_OF: Record<string, string> = {
  businessEventWorkflow: PATCHES.leanEventPath,
  campaignWorkflow: PATCHES.bulkCampaign,
};

const NOTIFICATION_QUERY = `WorkflowType = '${RELEASE_0_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`;

export interface OpenRelease0Execution {
  workflowId: string;
  runId: string;
  type: string;
  startTime: Date;
  /** The latest it can close: start plus the longest delay (LONGEST_DELAY_DAYS). */
  closesBy: Date;
}

/**
 * Every release-0 execution still open, oldest first. Executions and histories are read as Temporal stores
 * them, without the payload codec: only ids, types, start times, search attributes and the SDK's patch
 * markers are needed, and a memo or payload encrypted with a key this process lacks (another service
 * sharing the namespace, a retired key) must not stop the listing.
 */
export async function listOpenRelease0(temporal: Client): Promise<OpenRelease0Execution[]> {
  const open: OpenRelease0Execution[] = [];
  for await (const execution of storedExecutions(temporal, NOTIFICATION_QUERY)) {
    open.push(openExecution(execution));
  }
  for await (const execution of storedExecutions(temporal, candidatesQuery())) {
    if (await ranRelease0(temporal, execution)) open.push(openExecution(execution));
  }
  return open.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
}

/** What the listing reads of one execution. */
interface StoredExecution {
  workflowId: string;
  runId: string;
  type: string;
  startTime: Date;
  changeVersions: string[];
}

/** The executions visibility lists for `query`, undecoded. */
async function* storedExecutions(temporal: Client, query: string): AsyncIterable<StoredExecution> {
  const { namespace } = temporal.options;
  for await (const page of pages((nextPageToken) =>
    temporal.workflowService.listWorkflowExecutions({ namespace, query, nextPageToken }),
  ))
    for (const raw of page.executions ?? []) yield storedExecution(raw);
}

/** The events of one run's history, undecoded. */
async function* storedEvents(
  temporal: Client,
  execution: { workflowId: string; runId: string },
): AsyncIterable<proto.api.history.v1.IHistoryEvent> {
  const { namespace } = temporal.options;
  for await (const page of pages((nextPageToken) =>
    temporal.workflowService.getWorkflowExecutionHistory({ namespace, execution, nextPageToken }),
  ))
    yield* page.history?.events ?? [];
}

/** Every page of a paged Temporal call, following its nextPageToken until an empty one. */
async function* pages<T extends { nextPageToken?: Uint8Array | null }>(
  fetchPage: (nextPageToken: Uint8Array | undefined) => Promise<T>,
): AsyncIterable<T> {
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await fetchPage(nextPageToken);
    yield page;
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
}

function storedExecution(raw: proto.api.workflow.v1.IWorkflowExecutionInfo): StoredExecution {
  const seconds = Number(raw.startTime?.seconds ?? 0);
  const changeVersions = raw.searchAttributes?.indexedFields?.[CHANGE_VERSION_ATTRIBUTE];
  return {
    workflowId: raw.execution?.workflowId ?? '',
    runId: raw.execution?.runId ?? '',
    type: raw.type?.name ?? '',
    startTime: new Date(seconds * 1000 + Math.floor((raw.startTime?.nanos ?? 0) / 1e6)),
    // A keyword list is stored as a JSON array of strings.
    changeVersions: changeVersions?.data
      ? (JSON.parse(Buffer.from(changeVersions.data).toString('utf8')) as string[])
      : [],
  };
}

/** True when a release-0 notificationWorkflow still runs (one visibility count). */
export async function release0NotificationsOpen(temporal: Client): Promise<boolean> {
  const { count } = await temporal.workflow.count(NOTIFICATION_QUERY);
  return count > 0;
}

/** Running event and campaign workflows that took no patch at all: release 0, or not started yet. */
function candidatesQuery(): string {
  const types = Object.keys(RELEASE_1_PATCH_OF)
    .map((t) => `'${t}'`)
    .join(', ');
  return `WorkflowType IN (${types}) AND ExecutionStatus = 'Running' AND TemporalChangeVersion IS NULL`;
}

/**
 * Whether the execution runs release 0's code: its search attribute lacks the release-1 patch and its
 * history shows a completed workflow task without that patch's marker. One whose first task has not
 * completed yet will take the current code.
 */
async function ranRelease0(temporal: Client, execution: StoredExecution): Promise<boolean> {
  const patch = RELEASE_1_PATCH_OF[execution.type];
  if (!patch) return false;
  if (execution.changeVersions.includes(patch)) return false;
  let taskCompleted = false;
  for await (const event of storedEvents(temporal, {
    workflowId: execution.workflowId,
    runId: execution.runId,
  })) {
    if (event.workflowTaskCompletedEventAttributes) taskCompleted = true;
    if (isPatchMarker(event.markerRecordedEventAttributes, patch)) return false;
  }
  return taskCompleted;
}

type MarkerAttributes = {
  markerName?: string | null;
  details?: Record<string, { payloads?: { data?: Uint8Array | null }[] | null }> | null;
} | null;

/** A `core_patch` marker whose data names the patch (JSON `{"id": "<patch>", ...}`, written by the SDK). */
function isPatchMarker(marker: MarkerAttributes | undefined, patch: string): boolean {
  if (marker?.markerName !== 'core_patch') return false;
  return Object.values(marker.details ?? {}).some((d) =>
    (d.payloads ?? []).some((p) =>
      Buffer.from(p.data ?? [])
        .toString('utf8')
        .includes(`"${patch}"`),
    ),
  );
}

function openExecution(execution: StoredExecution): OpenRelease0Execution {
  return {
    workflowId: execution.workflowId,
    runId: execution.runId,
    type: execution.type,
    startTime: execution.startTime,
    closesBy: new Date(execution.startTime.getTime() + LONGEST_DELAY_DAYS * DAY_MS),
  };
}

import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

/**
 * What an open workflow is waiting on, read from its history (docs/contracts.md, "Stuck work").
 * Invariant I2 ("Durability invariants"): an open event or campaign workflow always holds a timer or
 * pending work; one holding none waits for a signal that may never come.
 *
 * Local activities leave no event while they run or retry inside the SDK: the workflow task stays
 * open meanwhile (the worker heartbeats it, and a dead worker's task times out and is scheduled
 * again), so they count as a pending workflow task. A backoff longer than `localRetryThreshold`
 * (1 minute by default) is a real timer in history (@temporalio/workflow sleeps between attempts).
 */

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type History = temporal.api.history.v1.IHistory;

const T = temporal.api.enums.v1.EventType;

export interface OpenWork {
  /** False once the run closed (completed, failed, timed out, cancelled, terminated, continued as new). */
  open: boolean;
  /** Timers started and neither fired nor cancelled. */
  timers: number;
  /** Activities scheduled and not yet completed, failed, timed out or cancelled (retrying ones included). */
  activities: number;
  /** Workflow tasks scheduled or started and not yet completed, or retried by the server after one failed or timed out. */
  workflowTasks: number;
  /** Child workflows, external signals or cancels, Nexus operations and accepted updates still in flight. */
  others: number;
}

/** Events that close the run. */
const CLOSING = new Set<number>([
  T.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
  T.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
  T.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
  T.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
  T.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
  T.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
]);

type Kind = Exclude<keyof OpenWork, 'open'>;

/** Events that open a piece of work, by the kind they count as. */
const OPENING: Record<number, Kind> = {
  [T.EVENT_TYPE_TIMER_STARTED]: 'timers',
  [T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]: 'activities',
  [T.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED]: 'workflowTasks',
  [T.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED]: 'others',
  [T.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED]: 'others',
  [T.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED]: 'others',
  [T.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED]: 'others',
  [T.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED]: 'others',
};

/** The id of the opening event that an event closes, or null when it closes nothing. */
function closedEventId(e: HistoryEvent): unknown {
  switch (e.eventType) {
    case T.EVENT_TYPE_TIMER_FIRED:
      return e.timerFiredEventAttributes?.startedEventId;
    case T.EVENT_TYPE_TIMER_CANCELED:
      return e.timerCanceledEventAttributes?.startedEventId;
    case T.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
      return e.activityTaskCompletedEventAttributes?.scheduledEventId;
    case T.EVENT_TYPE_ACTIVITY_TASK_FAILED:
      return e.activityTaskFailedEventAttributes?.scheduledEventId;
    case T.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
      return e.activityTaskTimedOutEventAttributes?.scheduledEventId;
    case T.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
      return e.activityTaskCanceledEventAttributes?.scheduledEventId;
    case T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
      return e.workflowTaskCompletedEventAttributes?.scheduledEventId;
    case T.EVENT_TYPE_WORKFLOW_TASK_FAILED:
      return e.workflowTaskFailedEventAttributes?.scheduledEventId;
    case T.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
      return e.workflowTaskTimedOutEventAttributes?.scheduledEventId;
    case T.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED:
      return e.startChildWorkflowExecutionFailedEventAttributes?.initiatedEventId;
    case T.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
      return e.childWorkflowExecutionCompletedEventAttributes?.initiatedEventId;
    case T.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
      return e.childWorkflowExecutionFailedEventAttributes?.initiatedEventId;
    case T.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED:
      return e.childWorkflowExecutionCanceledEventAttributes?.initiatedEventId;
    case T.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT:
      return e.childWorkflowExecutionTimedOutEventAttributes?.initiatedEventId;
    case T.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED:
      return e.childWorkflowExecutionTerminatedEventAttributes?.initiatedEventId;
    case T.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED:
      return e.externalWorkflowExecutionSignaledEventAttributes?.initiatedEventId;
    case T.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED:
      return e.signalExternalWorkflowExecutionFailedEventAttributes?.initiatedEventId;
    case T.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
      return e.externalWorkflowExecutionCancelRequestedEventAttributes?.initiatedEventId;
    case T.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED:
      return e.requestCancelExternalWorkflowExecutionFailedEventAttributes?.initiatedEventId;
    case T.EVENT_TYPE_NEXUS_OPERATION_COMPLETED:
      return e.nexusOperationCompletedEventAttributes?.scheduledEventId;
    case T.EVENT_TYPE_NEXUS_OPERATION_FAILED:
      return e.nexusOperationFailedEventAttributes?.scheduledEventId;
    case T.EVENT_TYPE_NEXUS_OPERATION_CANCELED:
      return e.nexusOperationCanceledEventAttributes?.scheduledEventId;
    case T.EVENT_TYPE_NEXUS_OPERATION_TIMED_OUT:
      return e.nexusOperationTimedOutEventAttributes?.scheduledEventId;
    case T.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
      return e.workflowExecutionUpdateCompletedEventAttributes?.acceptedEventId;
    default:
      return null;
  }
}

/** Event ids are int64 (Long objects from gRPC, numbers or strings from JSON): compared as decimal strings. */
const idKey = (id: unknown): string => String(id);

/** Workflow task events after which the server retries the task without recording it (a transient task). */
const RETRIED_UNRECORDED = new Set<number>([
  T.EVENT_TYPE_WORKFLOW_TASK_FAILED,
  T.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
]);
const WORKFLOW_TASK_EVENTS = new Set<number>([
  T.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
  T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
  ...RETRIED_UNRECORDED,
]);

/**
 * Pairs every opening event with the event that closed it; what is left unpaired is still pending.
 * A workflow task that failed or timed out is retried by the server as a transient task that history
 * shows only once it completes (a worker killed mid-task, a bug in workflow code): still pending.
 */
export function openWorkOf(history: History): OpenWork {
  const pending = new Map<string, Kind>();
  let open = true;
  let lastWorkflowTaskEvent: number = T.EVENT_TYPE_UNSPECIFIED;
  for (const e of history.events ?? []) {
    const type = e.eventType ?? T.EVENT_TYPE_UNSPECIFIED;
    if (CLOSING.has(type)) open = false;
    if (WORKFLOW_TASK_EVENTS.has(type)) lastWorkflowTaskEvent = type;
    const kind = OPENING[type];
    if (kind) pending.set(idKey(e.eventId), kind);
    const closed = closedEventId(e);
    if (closed !== null && closed !== undefined) pending.delete(idKey(closed));
  }
  const work: OpenWork = { open, timers: 0, activities: 0, workflowTasks: 0, others: 0 };
  for (const kind of pending.values()) work[kind] += 1;
  if (open && RETRIED_UNRECORDED.has(lastWorkflowTaskEvent)) work.workflowTasks += 1;
  return work;
}

/** An open run that holds nothing that will ever wake it: no timer, no pending activity, task, child or update. */
export function waitsWithoutDeadline(work: OpenWork): boolean {
  return work.open && work.timers + work.activities + work.workflowTasks + work.others === 0;
}

/**
 * Ids of the given workflows whose current run is open and holds neither a timer nor pending work
 * (one history read each, `concurrency` at a time). Workflows that do not exist or are closed are
 * left out; a read that fails for another reason throws, naming the workflow.
 */
export async function findWorkflowsWithoutTimer(
  client: Client,
  workflowIds: string[],
  options: { concurrency?: number } = {},
): Promise<string[]> {
  const found = new Set<string>();
  await forEachLimited(workflowIds, options.concurrency ?? 10, async (workflowId) => {
    const history = await historyOf(client, workflowId);
    if (history && waitsWithoutDeadline(openWorkOf(history))) found.add(workflowId);
  });
  return workflowIds.filter((id) => found.has(id));
}

/** The current run's history, or null when the workflow does not exist. */
export async function historyOf(client: Client, workflowId: string, runId?: string): Promise<History | null> {
  try {
    return await client.workflow.getHandle(workflowId, runId).fetchHistory();
  } catch (err) {
    if (isNotFound(err)) return null;
    throw new Error(
      `reading the history of workflow ${workflowId} failed: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

function isNotFound(err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name;
  return name === 'WorkflowNotFoundError' || /not found/i.test((err as Error | null)?.message ?? '');
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(lanes);
}

import type { WorkflowExecutionDescription } from '@temporalio/client';
import type { Notification } from '../db/entities';
import type { NotificationRef } from '../api/notification-lookup';
import { describeOrNull } from '../api/notification-status';
import {
  closedEntry,
  decode,
  eventTime,
  fetchHistory,
  firstInput,
  signalEntry,
  timerEntry,
  workflowView,
  type EntryFn,
  type History,
  type HistoryEvent,
  type TraceLog,
  type TraceSources,
  type TraceSubject,
} from '../api/trace-history';
import type { NotificationStatus } from '../domain/notification-status';
import { eventWorkflowId, notificationWorkflowId } from '../domain/workflow-ids';
import { release0Status } from './notification-api';
import { RELEASE_0_WORKFLOW_TYPE } from './notification-workflows';

/**
 * The trace's side of release 0 (docs/release-0.md): a release-0 notification is read from its own
 * notificationWorkflow (history, status query or result); its owner is the event workflow that
 * started it as a child.
 */
export async function release0Subject(
  ref: NotificationRef,
  stored: Notification | null,
  sources: TraceSources,
  log: TraceLog,
): Promise<TraceSubject> {
  const workflowId = stored?.workflowId ?? ref.workflowId;
  const described =
    ref.description?.workflowId === workflowId
      ? ref.description
      : await describeOrNull(sources.temporal, workflowId);
  const description = described?.type === RELEASE_0_WORKFLOW_TYPE ? described : null;
  const own = description
    ? await readOwnWorkflow(description, stored, sources, log)
    : { request: null, status: null, notification: stored };
  const { request, status, notification } = own;
  const eventId = notification?.eventId ?? (request?.eventId as string | undefined);
  const userId = notification?.recipientId ?? (request?.userId as string | undefined);
  return {
    notification,
    status,
    workflowId: description?.workflowId ?? ref.workflowId,
    ownerId: ownerIdOf(description, eventId),
    eventId,
    userId,
    childWorkflowId:
      description?.workflowId ?? (eventId && userId ? notificationWorkflowId(eventId, userId) : ''),
    event: request ? eventOfRequest(request) : null,
    lean: false,
  };
}

/** The notification workflow's history, status and (when the caller had none) its row. */
async function readOwnWorkflow(
  description: WorkflowExecutionDescription,
  stored: Notification | null,
  sources: TraceSources,
  log: TraceLog,
): Promise<{
  request: Record<string, unknown> | null;
  status: NotificationStatus | null;
  notification: Notification | null;
}> {
  const { workflowId, runId } = description;
  log.workflows.push(workflowView('notification', description, sources));
  const history = await fetchHistory(sources.temporal, workflowId, runId);
  const request = (firstInput(history) as Record<string, unknown> | null) ?? null;
  readNotificationHistory(history, workflowId, log);
  const status = await release0Status(
    sources.temporal,
    sources.notifications,
    workflowId,
    stored,
    description,
  ).catch(() => null);
  const notification =
    stored ?? (status?.notificationId ? await sources.repository.findById(status.notificationId) : null);
  return { request, status, notification };
}

/** The release-0 parent: the workflow that started this one, else the event workflow of its event id. */
function ownerIdOf(
  description: WorkflowExecutionDescription | null,
  eventId: string | undefined,
): string | null {
  const parent = description?.parentExecution?.workflowId;
  if (parent) return parent;
  const attributeEventId = description?.searchAttributes?.NotificationEventId?.[0];
  if (typeof attributeEventId === 'string') return eventWorkflowId(attributeEventId);
  return eventId ? eventWorkflowId(eventId) : null;
}

/** The event as a release-0 notification's input tells it. */
function eventOfRequest(request: Record<string, unknown>): Record<string, unknown> {
  return {
    id: request.eventId,
    type: request.eventType,
    templateCode: request.templateCode,
    userId: request.userId,
    data: request.data,
    options: request.options,
  };
}

/** A release-0 notification workflow's history (one workflow per recipient). */
function readNotificationHistory(history: History, workflowId: string, log: TraceLog): void {
  const activities = new Map<string, string>();
  const entry: EntryFn = (at, kind, summary, detail) =>
    log.timeline.push({ at, source: 'temporal', kind, summary, workflowId, ...(detail ? { detail } : {}) });
  const state = (at: string, value: string) => {
    log.observed.push({ state: value, at });
    entry(at, 'state', `state: ${value}`);
  };
  let workflowTime = '';
  for (const event of history.events ?? []) {
    const at = eventTime(event);
    if (event.workflowTaskStartedEventAttributes) workflowTime = at;
    if (event.timerStartedEventAttributes) timerEntry(event, at, workflowTime, entry);
    else if (!activityEntry(event, at, activities, entry, state)) lifeEntry(event, at, entry, state);
  }
}

/** Activity scheduled, completed or failed; the states they mean. True when `event` was one of them. */
function activityEntry(
  event: HistoryEvent,
  at: string,
  activities: Map<string, string>,
  entry: EntryFn,
  state: (at: string, value: string) => void,
): boolean {
  if (event.activityTaskScheduledEventAttributes) {
    const name = event.activityTaskScheduledEventAttributes.activityType?.name ?? 'activity';
    activities.set(String(event.eventId), name);
    entry(at, 'activity.scheduled', `${name} scheduled`);
    if (name === 'prepareNotification') state(at, 'sending');
  } else if (event.activityTaskCompletedEventAttributes) {
    const a = event.activityTaskCompletedEventAttributes;
    const name = activities.get(String(a.scheduledEventId)) ?? 'activity';
    const result = decode(a.result?.payloads?.[0]);
    entry(at, 'activity.completed', `${name} completed`, result === undefined ? undefined : { result });
    if (name === 'findQuietHoursEnd' && typeof result === 'string') state(at, 'waiting_quiet_hours');
  } else if (event.activityTaskFailedEventAttributes) {
    const a = event.activityTaskFailedEventAttributes;
    entry(
      at,
      'activity.failed',
      `${activities.get(String(a.scheduledEventId)) ?? 'activity'} failed: ${a.failure?.message ?? ''}`,
    );
  } else {
    return false;
  }
  return true;
}

/** Start, timer fired, signals and the close of the workflow, with the states they mean. */
function lifeEntry(
  event: HistoryEvent,
  at: string,
  entry: EntryFn,
  state: (at: string, value: string) => void,
): void {
  if (event.workflowExecutionStartedEventAttributes) {
    entry(at, 'workflow.started', 'notification workflow started');
    state(at, 'scheduled');
  } else if (event.timerFiredEventAttributes) {
    entry(at, 'timer.fired', 'wait over');
  } else if (event.workflowExecutionSignaledEventAttributes) {
    signalEntry(event, at, entry);
  } else if (event.workflowExecutionCompletedEventAttributes) {
    const result = decode(event.workflowExecutionCompletedEventAttributes.result?.payloads?.[0]) as
      NotificationStatus | undefined;
    entry(at, 'workflow.completed', `notification workflow completed: ${result?.state ?? 'unknown'}`);
    if (result?.state) state(at, result.state);
  } else if (closedEntry(event, at, 'notification workflow', entry)) {
    state(at, 'failed');
  } else if (
    event.workflowExecutionCanceledEventAttributes ||
    event.workflowExecutionTimedOutEventAttributes
  ) {
    entry(at, 'workflow.closed', 'notification workflow cancelled or timed out');
    state(at, 'failed');
  }
}

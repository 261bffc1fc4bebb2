import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import type { NotificationClient } from '../client/notification-client';
import type { Notification } from '../db/entities';
import type { NotificationRepository } from '../db/repositories/notification-repository';
import { isWaitingState, publicChannels } from '../domain/notification-lifecycle';
import type { NotificationStatus } from '../domain/notification-status';
import { ApiError, notFound } from './errors';
import { UUID_PATTERN } from './schemas';

/** A notification as the service routes address it. */
export interface NotificationRef {
  /** The workflow that owns it: its event's (or campaign's), or a release-0 notification workflow. */
  workflowId: string;
  /** The stored notification; null only for a release-0 notification workflow that still waits. */
  notification: Notification | null;
  /** The workflow's description when resolving needed it, so callers need not ask again. */
  description?: WorkflowExecutionDescription;
}

const RELEASE_0_TYPE = 'notificationWorkflow';
const QUERY_TIMEOUT_MS = 5000;

/**
 * Resolves `:id`: a notification UUID (notifications.id), a notification key
 * `notification-<eventId>-<userId>` (docs/contracts.md), or the id of a release-0 notification
 * workflow (the same string). Anything else is a 404.
 */
export async function resolveNotificationRef(
  id: string,
  repository: NotificationRepository,
  temporal: Client,
): Promise<NotificationRef> {
  if (UUID_PATTERN.test(id)) {
    const notification = await repository.findById(id.toLowerCase());
    if (!notification) throw notFound();
    return { workflowId: notification.workflowId, notification };
  }
  const stored = await repository.findByKey(id);
  if (stored?.lifecycle === 2) return { workflowId: stored.workflowId, notification: stored };
  const description = await describeOrNull(temporal, id);
  if (!description || description.type !== RELEASE_0_TYPE) throw notFound();
  return { workflowId: id, notification: stored ?? (await repository.findByWorkflowId(id)), description };
}

export async function describeOrNull(
  temporal: Client,
  workflowId: string,
): Promise<WorkflowExecutionDescription | null> {
  try {
    return await temporal.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}

/** A lean-path notification's status, straight from its row: Postgres is where its outcomes live. */
export function statusFromRow(row: Notification): NotificationStatus {
  const channels = publicChannels(row.channelStates ?? {});
  return {
    state: row.state,
    ...(row.sendAt && isWaitingState(row.state) ? { sendAt: new Date(row.sendAt).toISOString() } : {}),
    notificationId: row.id,
    ...(row.error ? { error: row.error } : {}),
    channels,
  };
}

/**
 * The notification's status: from Postgres for the lean path (any state, open or closed); for a
 * release-0 notification workflow, its `status` query while it runs and its result once completed.
 */
export async function notificationStatus(
  temporal: Client,
  notifications: NotificationClient,
  workflowId: string,
  stored: Notification | null = null,
  /** A description just fetched by the caller; omitted, the workflow is described afresh. */
  known?: WorkflowExecutionDescription,
): Promise<NotificationStatus> {
  if (stored?.lifecycle === 2) return statusFromRow(stored);
  const description = known ?? (await describeOrNull(temporal, workflowId));
  if (!description) throw notFound();
  switch (description.status.name) {
    case 'RUNNING':
      try {
        // A query needs a workflow worker; without one, answer 503 instead of hanging.
        return await temporal.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () =>
          notifications.statusOf(workflowId),
        );
      } catch (err) {
        throw new ApiError(
          503,
          `the notification workflow did not answer the status query: ${(err as Error).message.split('\n')[0]}`,
        );
      }
    case 'COMPLETED':
      return (await temporal.workflow.getHandle(workflowId).result()) as NotificationStatus;
    default:
      return {
        state: 'failed',
        ...(stored ? { notificationId: stored.id } : {}),
        error: `notification workflow ${description.status.name.toLowerCase().replaceAll('_', ' ')}`,
        channels: {},
      };
  }
}

/** Polls the status until `done` holds or the deadline passes; returns the last status seen (release-0 signals). */
export async function awaitStatus(
  read: () => Promise<NotificationStatus>,
  done: (status: NotificationStatus) => boolean,
  timeoutMs: number,
): Promise<{ status: NotificationStatus; reached: boolean }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await read();
    if (done(status)) return { status, reached: true };
    if (Date.now() >= deadline) return { status, reached: false };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function isWaiting(status: NotificationStatus): boolean {
  return isWaitingState(status.state);
}

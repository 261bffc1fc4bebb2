import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import type { Notification } from '../db/entities';
import { isWaitingState, publicChannels } from '../domain/notification-lifecycle';
import type { NotificationStatus } from '../domain/notification-status';
import { ApiError } from './errors';

/** A notification as the service routes address it. */
export interface NotificationRef {
  /** The workflow that owns it: its event's (or campaign's), or a release-0 notification workflow. */
  workflowId: string;
  /** The stored notification; null only for a release-0 notification workflow that still waits. */
  notification: Notification | null;
  /** The workflow's description when resolving needed it, so callers need not ask again. */
  description?: WorkflowExecutionDescription;
}

/** A workflow's description, or null when Temporal knows no workflow of that id. */
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

export function isWaiting(status: NotificationStatus): boolean {
  return isWaitingState(status.state);
}

/** 409 unless the notification still waits: only then can it be cancelled or rescheduled. */
export function assertWaiting(status: NotificationStatus, verb: string): void {
  if (!isWaiting(status)) {
    throw new ApiError(409, `notification is ${status.state}: only a scheduled notification can be ${verb}`);
  }
}

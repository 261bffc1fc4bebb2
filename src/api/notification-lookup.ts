import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import type { NotificationClient } from '../client/notification-client';
import type { Notification } from '../db/entities';
import type { NotificationRepository } from '../db/repositories/notification-repository';
import type { NotificationStatus } from '../domain/notification-status';
import { release0Status, resolveRelease0Ref } from '../release-0/notification-api';
import { isLeanRow } from '../release-0/notification-owner';
import { notFound } from './errors';
import { statusFromRow, type NotificationRef } from './notification-status';
import { UUID_PATTERN } from './schemas';

export { describeOrNull, statusFromRow, type NotificationRef } from './notification-status';

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
  if (isLeanRow(stored)) return { workflowId: stored.workflowId, notification: stored };
  return resolveRelease0Ref(id, stored, repository, temporal);
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
  if (isLeanRow(stored)) return statusFromRow(stored);
  return release0Status(temporal, notifications, workflowId, stored, known);
}

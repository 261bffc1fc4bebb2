import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import type { NotificationClient } from '../client/notification-client';
import type { Notification } from '../db/entities';
import type { NotificationRepository } from '../db/repositories/notification-repository';
import type { NotificationStatus } from '../domain/notification-status';
import { ApiError, notFound } from '../api/errors';
import { assertWaiting, describeOrNull, isWaiting, type NotificationRef } from '../api/notification-status';
import { RELEASE_0_WORKFLOW_TYPE } from './notification-workflows';

/**
 * The service routes' side of release 0 (docs/release-0.md): a release-0 notification has a
 * notificationWorkflow of its own, read by its `status` query and steered by signals. Callers reach
 * here only for a row that is not lean (src/release-0/notification-owner.ts) or no row at all.
 */

const QUERY_TIMEOUT_MS = 5000;
/** How long cancel/reschedule wait to see their signal act before answering 202. */
export const SIGNAL_EFFECT_WAIT_MS = 3000;

/** A control's answer: 200 once the signal took effect, 202 if it had not yet. */
export interface Release0ControlResult {
  code: 200 | 202;
  workflowId: string;
  status: NotificationStatus;
}

/** `id` names a release-0 notification workflow (its id is the notification key): its ref, else 404. */
export async function resolveRelease0Ref(
  id: string,
  stored: Notification | null,
  repository: NotificationRepository,
  temporal: Client,
): Promise<NotificationRef> {
  const description = await describeOrNull(temporal, id);
  if (!description || description.type !== RELEASE_0_WORKFLOW_TYPE) throw notFound();
  return { workflowId: id, notification: stored ?? (await repository.findByWorkflowId(id)), description };
}

/** A release-0 notification's status: its `status` query while it runs, its result once completed. */
export async function release0Status(
  temporal: Client,
  notifications: NotificationClient,
  workflowId: string,
  stored: Notification | null,
  /** A description just fetched by the caller; omitted, the workflow is described afresh. */
  known?: WorkflowExecutionDescription,
): Promise<NotificationStatus> {
  const description = known ?? (await describeOrNull(temporal, workflowId));
  if (!description) throw notFound();
  switch (description.status.name) {
    case 'RUNNING':
      return queryStatus(temporal, notifications, workflowId);
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

async function queryStatus(
  temporal: Client,
  notifications: NotificationClient,
  workflowId: string,
): Promise<NotificationStatus> {
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
}

/** Cancels a waiting release-0 notification by signal; 409 unless it still waits. */
export async function cancelRelease0(
  temporal: Client,
  notifications: NotificationClient,
  ref: NotificationRef,
  reason: string | undefined,
): Promise<Release0ControlResult> {
  const read = () => release0Status(temporal, notifications, ref.workflowId, ref.notification);
  assertWaiting(await read(), 'cancelled');
  await notifications.cancel(ref.workflowId, reason);
  const { status, reached } = await awaitStatus(
    read,
    (s) => s.state === 'cancelled' || !isWaiting(s),
    SIGNAL_EFFECT_WAIT_MS,
  );
  return { code: reached && status.state === 'cancelled' ? 200 : 202, workflowId: ref.workflowId, status };
}

/** Moves a waiting release-0 notification by signal; 409 unless it still waits. */
export async function rescheduleRelease0(
  temporal: Client,
  notifications: NotificationClient,
  ref: NotificationRef,
  sendAt: string,
): Promise<Release0ControlResult> {
  const read = () => release0Status(temporal, notifications, ref.workflowId, ref.notification);
  assertWaiting(await read(), 'rescheduled');
  await notifications.reschedule(ref.workflowId, sendAt);
  const { status, reached } = await awaitStatus(
    read,
    (s) => s.sendAt === sendAt || !isWaiting(s),
    SIGNAL_EFFECT_WAIT_MS,
  );
  return { code: reached ? 200 : 202, workflowId: ref.workflowId, status };
}

/** Polls the status until `done` holds or the deadline passes; returns the last status seen. */
async function awaitStatus(
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

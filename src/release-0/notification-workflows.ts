import { QueryNotRegisteredError } from '@temporalio/client';
import { notificationWorkflowId } from '../domain/workflow-ids';

/**
 * What a Temporal client needs to know of release 0 (docs/release-0.md): its notifications have a
 * notificationWorkflow of their own, which answers the status query and takes signals, not updates.
 */

/** Temporal workflow type of a release-0 notification (one per recipient). */
export const RELEASE_0_WORKFLOW_TYPE = 'notificationWorkflow';

/**
 * The workflow to ask for one recipient's status when the event workflow refused the status query
 * with `err`: a release-0 event workflow registers none, its recipients have workflows of their own.
 * Null when the refusal is anything else.
 */
export function release0StatusWorkflow(err: unknown, eventId: string, userId: string): string | null {
  return err instanceof QueryNotRegisteredError ? notificationWorkflowId(eventId, userId) : null;
}

/** A release-0 notification workflow takes cancel and reschedule as signals (it has no update handlers). */
export function isRelease0Workflow(type: string): boolean {
  return type === RELEASE_0_WORKFLOW_TYPE;
}

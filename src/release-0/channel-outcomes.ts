/**
 * Release 0 adapter (docs/release-0.md): what a channel worker does differently for a notification of
 * release 0 (lifecycle 1: its own notificationWorkflow keeps its state and learns outcomes by signal)
 * than for one of the lean event path (lifecycle 2: its event workflow keeps both in the row, Postgres).
 * Every such decision of src/delivery is made here.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ChannelOutcome } from '../domain/notification-status';
import type { OutcomeReporter } from '../delivery/outcome-reporter';
import type { OutcomeRecorder, StoredNotification } from '../state/outcome-recorder';
import { isLeanRow } from './notification-owner';

/** Where channel outcomes go: the row (lean event path) or a signal to the workflow (release 0). */
export interface ChannelOutcomeSinks {
  recorder: OutcomeRecorder;
  outcomes: OutcomeReporter;
}

/** A release-0 notification learns its outcomes by signal; the lean event path records them in its row. */
export function outcomesGoBySignal(notification: StoredNotification): boolean {
  return !isLeanRow(notification);
}

/** Reports a channel's outcome where the notification's workflow looks for it. */
export function reportChannelOutcome(
  sinks: ChannelOutcomeSinks,
  em: EntityManager,
  notification: StoredNotification,
  workflowId: string,
  outcome: ChannelOutcome,
): Promise<void> {
  return outcomesGoBySignal(notification)
    ? sinks.outcomes.report(workflowId, outcome)
    : sinks.recorder.record(em, notification, outcome);
}

/**
 * Whether the row's states (cancelled, expired, given up for a fallback) are the notification's own: on
 * the lean event path only. A release-0 notificationWorkflow keeps them in its history, not in the row.
 */
export function rowTellsChannelState(notification: StoredNotification): boolean {
  return isLeanRow(notification);
}

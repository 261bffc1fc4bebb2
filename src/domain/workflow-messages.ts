/**
 * Names and payloads of the messages our workflows take (docs/contracts.md, "Signals, updates and
 * queries"). Plain strings and types, so channel workers and other languages' clients need no
 * workflow code to send them.
 */
import type { RecipientSummary } from './event-ledger';

export const MESSAGES = {
  /** Signal: cancel waiting notifications (all of the event, or one recipient's). */
  cancel: 'cancel',
  /** Signal: move waiting notifications to a new send time. */
  reschedule: 'reschedule',
  /** Update: like the signal, but validated and answered with the resulting status. */
  cancelUpdate: 'cancelNotification',
  rescheduleUpdate: 'rescheduleNotification',
  /** Signal from the channel workers: every channel of the event handed off so far has an outcome. */
  outcomesReady: 'outcomesReady',
  /** Signal of release-0 notificationWorkflow: one channel's outcome. */
  channelOutcome: 'channelOutcome',
  /** Query: one recipient's status (argument `{ userId }`, optional when the event has one recipient). */
  status: 'status',
  /** Query: the whole event's recipients and states. */
  eventStatus: 'eventStatus',
  campaignProgress: 'campaignProgress',
} as const;

/**
 * Payload of `outcomesReady` (optional): the closing worker's own notification when it ended
 * delivered, so a single-recipient event finishes without reading Postgres again. Ids and states
 * only: no provider texts.
 */
export interface OutcomesReport {
  recipients?: RecipientSummary[];
}

export interface CancelRequest {
  /** One recipient's notification; omitted: every waiting notification of the event. */
  userId?: string;
  reason?: string;
}

export interface RescheduleRequest {
  userId?: string;
  /** ISO 8601 with offset; a time in the past sends now (quiet hours still apply). */
  sendAt: string;
}

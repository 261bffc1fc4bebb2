import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CampaignProgress } from '../src/domain/campaign';
import type {
  NotificationState,
  ChannelOutcome,
  NotificationStatus,
} from '../src/domain/notification-status';
import {
  MESSAGES,
  type CancelRequest,
  type OutcomesReport,
  type RescheduleRequest,
} from '../src/domain/workflow-messages';

/** Messages of our workflows (docs/contracts.md, "Signals, updates and queries"); plain JSON for any Temporal client. */
export const cancelSignal = defineSignal<[CancelRequest]>(MESSAGES.cancel);
export const rescheduleSignal = defineSignal<[RescheduleRequest]>(MESSAGES.reschedule);
/** Validated, answered with the recipient's status (or the first one's when no user id is given). */
export const cancelUpdate = defineUpdate<NotificationStatus, [CancelRequest]>(MESSAGES.cancelUpdate);
export const rescheduleUpdate = defineUpdate<NotificationStatus, [RescheduleRequest]>(
  MESSAGES.rescheduleUpdate,
);
/** Sent by a channel worker when the event's last open channel got its outcome. */
export const outcomesReadySignal = defineSignal<[OutcomesReport?]>(MESSAGES.outcomesReady);
/** Release-0 notificationWorkflow: sent by the channel workers once per channel. */
export const channelOutcomeSignal = defineSignal<[ChannelOutcome]>(MESSAGES.channelOutcome);
export const statusQuery = defineQuery<NotificationStatus, [{ userId?: string }?]>(MESSAGES.status);
export const eventStatusQuery = defineQuery<{
  eventId: string;
  recipients: number;
  states: Partial<Record<NotificationState, number>>;
}>(MESSAGES.eventStatus);
/** campaignWorkflow answers it; it takes `cancel` and `reschedule` (`sendAt`: the new start) like a notification. */
export const campaignProgressQuery = defineQuery<CampaignProgress>(MESSAGES.campaignProgress);

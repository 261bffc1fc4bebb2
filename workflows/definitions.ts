import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { CampaignProgress } from '../src/domain/campaign';
import type { ChannelOutcome, NotificationStatus } from '../src/domain/notification-status';

/** Signals and query of notificationWorkflow (CONTRACTS.md); plain JSON for any Temporal client. */
export const cancelSignal = defineSignal<[{ reason?: string }]>('cancel');
export const rescheduleSignal = defineSignal<[{ sendAt: string }]>('reschedule');
/** Sent by the channel workers once a channel is delivered or has finally failed. */
export const channelOutcomeSignal = defineSignal<[ChannelOutcome]>('channelOutcome');
export const statusQuery = defineQuery<NotificationStatus>('status');
/** campaignWorkflow answers it; it takes `cancel` and `reschedule` (`sendAt`: the new start) like a notification. */
export const campaignProgressQuery = defineQuery<CampaignProgress>('campaignProgress');

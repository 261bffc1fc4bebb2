import type { Channel } from './channels';

export const NOTIFICATION_STATES = [
  'scheduled',
  'waiting_quiet_hours',
  'sending',
  'delivered',
  'partially_delivered',
  'failed',
  'cancelled',
  'suppressed',
  /** Our own infrastructure could not do the work within INFRA_RETRY_HORIZON_MS (docs/contracts.md, "Durability invariants"). */
  'expired',
] as const;
export type NotificationState = (typeof NOTIFICATION_STATES)[number];

export const CHANNEL_STATES = [
  'pending',
  'queued',
  'delivered',
  'failed',
  'suppressed',
  'cancelled',
  'expired',
] as const;
export type ChannelState = (typeof CHANNEL_STATES)[number];

export interface ChannelStatus {
  state: ChannelState;
  attempts: number;
  error?: string;
  /** Why a channel was suppressed (preference, mute, no address) or which channel it fell back to. */
  reason?: string;
  providerMessageId?: string;
}

/** Answer of the `status` query (docs/contracts.md). */
export interface NotificationStatus {
  state: NotificationState;
  sendAt?: string;
  notificationId?: string;
  error?: string;
  channels: Partial<Record<Channel, ChannelStatus>>;
}

/** What a channel worker reports back to notificationWorkflow (signal `channelOutcome`). */
export interface ChannelOutcome {
  channel: Channel;
  /** `expired`: only from the deadline reconcile, never from a worker (docs/contracts.md, "Durability invariants"). */
  state: 'delivered' | 'failed' | 'expired';
  attempts: number;
  error?: string;
  providerMessageId?: string;
  /** A permanent failure the workflow may fall back from (e.g. no push subscription). */
  permanent?: boolean;
}

export function isFinalState(state: NotificationState): boolean {
  return !['scheduled', 'waiting_quiet_hours', 'sending'].includes(state);
}

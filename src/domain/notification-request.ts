import type { Channel } from './channels';
import type { DeliveryOptions } from './business-event';

/** Argument of notificationWorkflow: plain JSON so any Temporal client can start one. */
export interface NotificationRequest {
  eventId: string;
  eventType: string | null;
  templateCode: string;
  category: string;
  userId: string;
  data: Record<string, unknown>;
  options: DeliveryOptions;
  /** Channels to try, before preferences. */
  channels: Channel[];
  /** Channel to try when one fails permanently or cannot reach the recipient, e.g. push -> sms. */
  fallbacks: Partial<Record<Channel, Channel>>;
  /** How long to wait for a channel outcome before handing the job off again. */
  deliveryDeadlineMs: number;
}

/** Result of planning one business event: who gets what. */
export interface EventPlan {
  templateCode: string;
  category: string;
  channels: Channel[];
  fallbacks: Partial<Record<Channel, Channel>>;
  recipients: string[];
  deliveryDeadlineMs: number;
}

export interface ChannelDecision {
  channel: Channel;
  send: boolean;
  /** Why it is not sent (preference, muted, no address, fallback). */
  reason?: string;
}

export interface PreparedNotification {
  notificationId: string;
  decisions: ChannelDecision[];
}

export interface EventResult {
  eventId: string;
  notifications: { userId: string; workflowId: string; state: string; error?: string }[];
}

import type { Channel } from './channels';
import type { BusinessEvent, DeliveryOptions } from './business-event';

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
  /** The envelope, validated and with defaults applied. */
  event: BusinessEvent;
  templateCode: string;
  category: string;
  channels: Channel[];
  fallbacks: Partial<Record<Channel, Channel>>;
  recipients: string[];
  deliveryDeadlineMs: number;
  /** The order the event belongs to (data.orderNumber), put in the memo for supersession look-ups. */
  correlationKey: string | null;
  /** Workflows this event cancels first: follow-ups and superseded notifications of the same order. */
  cancelWorkflowIds: string[];
  /** The follow-up notification to schedule per recipient, when the event has one. */
  followUp: {
    kind: string;
    templateCode: string;
    category: string;
    channels: Channel[];
    delayMs: number;
  } | null;
}

export interface ChannelDecision {
  channel: Channel;
  send: boolean;
  /** Why it is not sent (preference, muted, no address, fallback). */
  reason?: string;
  /** Not sent only for want of an address: its fallback may take over. */
  unreachable?: boolean;
}

export interface PreparedNotification {
  notificationId: string;
  decisions: ChannelDecision[];
  /** The request's fallbacks this recipient can take (preferences, address); absent in older histories. */
  fallbacks?: Partial<Record<Channel, Channel>>;
}

export interface EventResult {
  eventId: string;
  /** workflowId: the workflow that owns the notification (this event's, or a release-0 notificationWorkflow). */
  notifications: {
    userId: string;
    workflowId: string;
    notificationId?: string;
    state: string;
    error?: string;
  }[];
  /** Follow-ups scheduled (not awaited: they may wait a day). */
  followUps: { userId: string; workflowId: string }[];
  /** Workflows this event cancelled. */
  cancelled: string[];
}

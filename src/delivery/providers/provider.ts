import type { ChannelContent } from '../../domain/channel-content';
import type { Channel } from '../../domain/channels';

/** What a recipient can be reached at; only the fields a channel needs are read. */
export interface RecipientAddress {
  id: string;
  email?: string | null;
  phone?: string | null;
  webhookUrl?: string | null;
  /** Secrets that sign deliveries to webhookUrl: the current one, and the previous one while a rotation lasts. */
  webhookSecrets?: string[];
  pushSubscriptions?: PushSubscriptionRecord[];
}

export interface PushSubscriptionRecord {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export type { ChannelContent };

export interface OutgoingMessage<C extends Channel = Channel> {
  notificationId: string;
  channel: C;
  recipient: RecipientAddress;
  content: ChannelContent[C];
  /** Stable per notification and channel; sent as the provider's idempotency key where it has one. */
  idempotencyKey: string;
}

export interface ProviderReceipt {
  providerMessageId?: string;
  /** Push subscriptions the provider reported gone (404/410); the caller deletes them. */
  expiredPushEndpoints?: string[];
}

/** One adapter per vendor; one contract per channel. */
export interface ChannelProvider<C extends Channel = Channel> {
  readonly channel: C;
  readonly name: string;
  /**
   * The provider reports delivery later by receipt (Twilio status callbacks, Postmark webhooks): its
   * acceptance records engagement `sent` only; otherwise acceptance counts as `delivered` too.
   */
  readonly receipts?: boolean;
  send(message: OutgoingMessage<C>): Promise<ProviderReceipt>;
  close?(): Promise<void>;
}

/** The provider refused for good (bad address, 4xx): retrying cannot help. */
export class PermanentDeliveryError extends Error {
  override readonly name = 'PermanentDeliveryError';
  constructor(
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
  }
}

/** The provider asked us to slow down (429); the queue pauses for retryAfterMs without burning an attempt. */
export class ProviderRateLimitedError extends Error {
  override readonly name = 'ProviderRateLimitedError';
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

/** Anything else thrown by a provider (network, 5xx, timeout) is transient and retried with backoff. */

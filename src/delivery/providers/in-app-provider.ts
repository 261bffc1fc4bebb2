import { markInAppDelivered } from '../../state/notification-store';
import type { Cluster, Redis } from 'ioredis';
import type { Orm } from '../../db/orm';
import type { ActionLinkTracker } from '../../tracking/email-tracking';
import { InfrastructureError } from '../infrastructure-errors';
import type { ChannelProvider, OutgoingMessage, ProviderReceipt } from './provider';

/** Redis pub/sub channel carrying a recipient's new in-app notifications to the API's SSE streams. */
export function inAppFeedChannel(prefix: string, userId: string): string {
  return `${prefix}:in_app:${userId}`;
}

/** In-app delivery: the notification becomes visible in the recipient's feed, and live clients hear of it. */
export class InAppProvider implements ChannelProvider<'in_app'> {
  readonly channel = 'in_app' as const;
  readonly name = 'postgres';

  constructor(
    private readonly orm: Orm,
    private readonly publisher: Redis | Cluster,
    private readonly feedPrefix: string,
    /** Puts the action link through the click redirect (docs/tracking-and-receipts.md). */
    private readonly trackLink: ActionLinkTracker = (_id, _channel, url) => url,
  ) {}

  /**
   * Our own Postgres and Redis are this channel's "provider": their errors are wrapped in
   * InfrastructureError, so that an outage never spends one of the channel's delivery attempts
   * (docs/contracts.md, "BullMQ", infrastructure errors).
   */
  async send(message: OutgoingMessage<'in_app'>): Promise<ProviderReceipt> {
    const row = await ownStore('in-app delivery: marking the notification delivered in Postgres', () =>
      markInAppDelivered(this.orm.em.fork(), message.notificationId),
    );
    if (!row) throw new Error(`notification ${message.notificationId} not found`);
    const { title, body, actionUrl, actionText } = message.content;
    await ownStore('in-app delivery: publishing to the live feed in Redis', () =>
      this.publisher.publish(
        inAppFeedChannel(this.feedPrefix, message.recipient.id),
        JSON.stringify({
          id: message.notificationId,
          title,
          body,
          actionUrl: actionUrl && this.trackLink(message.notificationId, 'in_app', actionUrl),
          actionText,
          createdAt: row.created_at,
        }),
      ),
    );
    return { providerMessageId: message.notificationId };
  }
}

/** Runs a call to one of our own stores; any error it throws is ours, never a provider's answer. */
async function ownStore<T>(doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw new InfrastructureError(doing, err);
  }
}

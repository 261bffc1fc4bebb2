import { duplicateRedis, type RedisConnection } from '../redis-connection';
import { inAppFeedChannel } from '../delivery/providers/in-app-provider';

/** What an SSE client receives for one new in-app notification. */
export interface FeedEvent {
  id: string;
  title: string | null;
  body: string | null;
  actionUrl: string | null;
  actionText: string | null;
  createdAt: string;
}

export interface FeedListener {
  onEvent(event: FeedEvent): void;
  /** The hub is closing (app shutdown): end the stream. */
  onClose(): void;
}

interface Subscription {
  listeners: Set<FeedListener>;
  /** Resolves once Redis confirmed the subscription; nothing published after that is missed. */
  ready: Promise<unknown>;
}

/**
 * Fans the in-app feed out to SSE connections: one Redis subscriber connection per process
 * (a duplicate of the app's connection), one channel subscription per user with open streams.
 */
export class FeedHub {
  private subscriber: RedisConnection | null = null;
  private connecting: Promise<RedisConnection> | null = null;
  private readonly byChannel = new Map<string, Subscription>();
  private closed = false;

  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
  ) {}

  connectionsOf(userId: string): number {
    return this.byChannel.get(inAppFeedChannel(this.prefix, userId))?.listeners.size ?? 0;
  }

  /** Subscribes a listener to a user's feed; resolves once live. The returned function unsubscribes. */
  async subscribe(userId: string, listener: FeedListener): Promise<() => void> {
    if (this.closed) throw new Error('feed hub closed');
    const subscriber = await this.connection();
    const channel = inAppFeedChannel(this.prefix, userId);
    let subscription = this.byChannel.get(channel);
    if (!subscription) {
      subscription = { listeners: new Set(), ready: subscriber.subscribe(channel) };
      this.byChannel.set(channel, subscription);
    }
    subscription.listeners.add(listener);
    try {
      await subscription.ready;
    } catch (err) {
      this.remove(channel, listener);
      throw err;
    }
    return () => this.remove(channel, listener);
  }

  /** Ends every stream (listeners' onClose) and the subscriber connection. */
  async close(): Promise<void> {
    this.closed = true;
    for (const subscription of this.byChannel.values())
      for (const listener of subscription.listeners) listener.onClose();
    this.byChannel.clear();
    const subscriber = this.subscriber ?? (await this.connecting?.catch(() => null));
    this.subscriber = null;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }

  private remove(channel: string, listener: FeedListener): void {
    const subscription = this.byChannel.get(channel);
    if (!subscription?.listeners.delete(listener) || subscription.listeners.size > 0) return;
    this.byChannel.delete(channel);
    // Commands on one connection run in order: a later subscribe to this channel still wins.
    this.subscriber?.unsubscribe(channel).catch(() => undefined);
  }

  private connection(): Promise<RedisConnection> {
    if (this.subscriber) return Promise.resolve(this.subscriber);
    this.connecting ??= (async () => {
      const subscriber = duplicateRedis(this.redis, {
        lazyConnect: true,
        connectionName: 'notifications-api-feed',
      });
      subscriber.on('message', (channel: string, message: string) => this.dispatch(channel, message));
      // Reconnects (and resubscribes) on its own; a transient error must not crash the process.
      subscriber.on('error', () => undefined);
      try {
        await subscriber.connect();
      } catch (err) {
        subscriber.disconnect();
        this.connecting = null;
        throw err;
      }
      this.subscriber = subscriber;
      return subscriber;
    })();
    return this.connecting;
  }

  private dispatch(channel: string, message: string): void {
    const subscription = this.byChannel.get(channel);
    if (!subscription) return;
    const event = parseFeedEvent(message);
    if (!event) return;
    for (const listener of subscription.listeners) listener.onEvent(event);
  }
}

function parseFeedEvent(message: string): FeedEvent | null {
  try {
    const raw = JSON.parse(message) as Record<string, unknown>;
    if (typeof raw.id !== 'string') return null;
    const text = (value: unknown) => (typeof value === 'string' ? value : null);
    const createdAt = typeof raw.createdAt === 'string' ? new Date(raw.createdAt) : new Date();
    return {
      id: raw.id,
      title: text(raw.title),
      body: text(raw.body),
      actionUrl: text(raw.actionUrl),
      actionText: text(raw.actionText),
      createdAt: (Number.isNaN(createdAt.getTime()) ? new Date() : createdAt).toISOString(),
    };
  } catch {
    return null;
  }
}

import { HttpError, type ApiClient } from '../shared/api-client';
import type { FeedItem, FeedPage, LiveNotification } from './feed-types';
import { LiveFeed } from './live-feed';

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'expired' | 'stopped';

const PAGE_SIZE = 20;
/** A live notification bumps the badge at once; the server's count settles it shortly after. */
const RECOUNT_DELAY_MS = 400;

/** Events the store fires as CustomEvents with this detail (<notification-bell> fires them too). */
export interface StoreEvents {
  'notification-received': FeedItem;
  'unread-change': { count: number };
  'session-expired': null;
}
export const STORE_EVENTS = [
  'notification-received',
  'unread-change',
  'session-expired',
] as const satisfies readonly (keyof StoreEvents)[];

/**
 * State of one shopper's notification center: the feed, the unread count and the live stream, shared
 * by the bell, the list and the inbox page. Dispatches `change` on every update, and StoreEvents.
 */
export class NotificationStore extends EventTarget {
  items: FeedItem[] = [];
  unreadCount = 0;
  nextCursor: string | null = null;
  /** The first page arrived (an empty feed is then "no notifications", not "loading"). */
  loaded = false;
  loading = false;
  error: string | null = null;
  stream: StreamState = 'stopped';
  /** Latest sentence for the polite live region (new notifications). */
  announcement = '';

  private feed: LiveFeed | null = null;
  private recountTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Bumped when a read starts and when it ends: a server count asked for across a bump may predate the
   * read and would undo it (the count stays wrong until the next event), so it is dropped and asked again.
   */
  private readEpoch = 0;

  /** @param linkBase the shop's URL that relative action links belong to; null: this page's. */
  constructor(
    readonly client: ApiClient,
    readonly linkBase: string | null = null,
  ) {
    super();
  }

  start(): void {
    if (this.feed) return;
    this.stream = 'connecting';
    this.feed = new LiveFeed(this.client.streamUrl('/api/notifications/stream'), {
      opened: (again) => {
        this.stream = 'live';
        this.changed();
        if (again) void this.syncNewest();
      },
      notification: (live) => this.received(live),
      interrupted: () => {
        if (this.stream === 'live') this.stream = 'reconnecting';
        this.changed();
      },
      expired: () => this.expire(),
      mayReconnect: () => this.syncNewest().then(() => this.stream !== 'expired'),
    });
    void this.syncNewest();
    this.changed();
  }

  stop(): void {
    this.feed?.stop();
    this.feed = null;
    clearTimeout(this.recountTimer);
    if (this.stream !== 'expired') this.stream = 'stopped';
  }

  get hasMore(): boolean {
    return this.nextCursor !== null;
  }

  async loadMore(): Promise<void> {
    if (!this.nextCursor || this.loading) return;
    await this.guard(async () => {
      const page = await this.client.get<FeedPage>(
        `/api/notifications?limit=${PAGE_SIZE}&cursor=${encodeURIComponent(this.nextCursor!)}`,
      );
      this.merge(page.items);
      this.nextCursor = page.nextCursor;
    });
  }

  async markRead(id: string): Promise<void> {
    const item = this.items.find((candidate) => candidate.id === id);
    if (!item || item.read) return;
    item.read = true;
    this.readEpoch += 1;
    this.setUnread(this.unreadCount - 1);
    const done = await this.guard(() =>
      this.client.post(`/api/notifications/${encodeURIComponent(id)}/read`),
    );
    this.readEpoch += 1;
    if (!done) {
      item.read = false;
      this.setUnread(this.unreadCount + 1);
    }
  }

  async markAllRead(): Promise<void> {
    this.readEpoch += 1;
    const done = await this.guard(() => this.client.post('/api/notifications/read-all'));
    this.readEpoch += 1;
    if (!done) return;
    for (const item of this.items) item.read = true;
    this.setUnread(0);
  }

  /**
   * The newest page and the server's count: at start, and after an interruption (what the stream
   * missed). Live items that came first stay; the cursor is the first page's.
   */
  private async syncNewest(): Promise<void> {
    await this.guard(async () => {
      const epoch = this.readEpoch;
      const [page, unread] = await Promise.all([
        this.client.get<FeedPage>(`/api/notifications?limit=${PAGE_SIZE}`),
        this.client.get<{ count: number }>('/api/notifications/unread-count'),
      ]);
      this.merge(page.items);
      if (!this.loaded) this.nextCursor = page.nextCursor;
      this.loaded = true;
      this.countFetched(unread.count, epoch);
    });
  }

  private received(live: LiveNotification): void {
    if (this.items.some((item) => item.id === live.id)) return;
    const item: FeedItem = { ...live, category: null, read: false };
    this.items = [item, ...this.items];
    this.announcement = `New notification: ${live.title ?? live.body ?? 'untitled'}`;
    this.emit('notification-received', item);
    this.setUnread(this.unreadCount + 1);
    // The optimistic bump can double-count one that the first count already held: ask the server.
    this.scheduleRecount();
  }

  private scheduleRecount(): void {
    clearTimeout(this.recountTimer);
    this.recountTimer = setTimeout(() => void this.recount(), RECOUNT_DELAY_MS);
  }

  private async recount(): Promise<void> {
    await this.guard(async () => {
      const epoch = this.readEpoch;
      const { count } = await this.client.get<{ count: number }>('/api/notifications/unread-count');
      this.countFetched(count, epoch);
    });
  }

  /** The server's count, unless a read started or ended while it was asked for (then ask again). */
  private countFetched(count: number, epoch: number): void {
    if (epoch === this.readEpoch) this.setUnread(count);
    else if (this.feed) this.scheduleRecount();
  }

  /** Adds items not yet listed and updates listed ones, newest first. */
  private merge(items: FeedItem[]): void {
    const known = new Map(this.items.map((item) => [item.id, item]));
    const fresh: FeedItem[] = [];
    for (const item of items) {
      const listed = known.get(item.id);
      if (listed) Object.assign(listed, item);
      else fresh.push({ ...item });
    }
    this.items = [...this.items, ...fresh].sort(
      (a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id),
    );
  }

  private setUnread(count: number): void {
    const next = Math.max(0, count);
    if (next === this.unreadCount) return this.changed();
    this.unreadCount = next;
    this.emit('unread-change', { count: next });
    this.changed();
  }

  private expire(): void {
    this.feed?.stop();
    this.feed = null;
    this.stream = 'expired';
    this.error = null;
    this.emit('session-expired', null);
    this.changed();
  }

  /** Runs a call with the loading flag and error text; a 401 means the credential is gone. Answers success. */
  private async guard(call: () => Promise<unknown>): Promise<boolean> {
    this.loading = true;
    this.changed();
    try {
      await call();
      this.error = null;
      return true;
    } catch (err) {
      if (err instanceof HttpError && err.status === 401) this.expire();
      else this.error = err instanceof Error ? err.message : String(err);
      return false;
    } finally {
      this.loading = false;
      this.changed();
    }
  }

  private emit<K extends keyof StoreEvents>(type: K, detail: StoreEvents[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  private changed(): void {
    this.dispatchEvent(new Event('change'));
  }
}

import type { LiveNotification } from './feed-types';

export interface LiveFeedHandlers {
  /** The stream is (again) open; `again` after an interruption, when something may have been missed. */
  opened(again: boolean): void;
  notification(item: LiveNotification): void;
  /** The connection dropped; the browser or the backoff below reconnects. */
  interrupted(): void;
  /** The server ended the stream because the credential expired: no reconnect. */
  expired(): void;
  /**
   * Asked before reconnecting after the browser gave up (an HTTP error such as 401 or 503, which
   * EventSource does not retry): false stops for good.
   */
  mayReconnect(): Promise<boolean>;
}

const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;

/**
 * The SSE stream of new notifications (GET /api/notifications/stream). EventSource retries dropped
 * connections itself (sending Last-Event-ID, so the server replays what was missed); when it gives
 * up, this retries with exponential backoff and jitter.
 */
export class LiveFeed {
  private source: EventSource | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;
  private everOpened = false;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly on: LiveFeedHandlers,
  ) {
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.source?.close();
    this.source = null;
  }

  private connect(): void {
    if (this.stopped) return;
    const source = new EventSource(this.url);
    this.source = source;
    source.addEventListener('open', () => {
      this.failures = 0;
      this.on.opened(this.everOpened);
      this.everOpened = true;
    });
    source.addEventListener('notification', (event) => {
      const item = parseNotification((event as MessageEvent<string>).data);
      if (item) this.on.notification(item);
    });
    source.addEventListener('token_expired', () => {
      this.stop();
      this.on.expired();
    });
    source.addEventListener('error', () => {
      if (this.stopped) return;
      this.on.interrupted();
      if (source.readyState === EventSource.CLOSED) this.retryLater();
    });
  }

  private retryLater(): void {
    this.source?.close();
    this.source = null;
    const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** this.failures++);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.retryTimer = setTimeout(async () => {
      if (this.stopped) return;
      if (await this.on.mayReconnect()) this.connect();
    }, delay);
  }
}

function parseNotification(data: string): LiveNotification | null {
  try {
    const raw = JSON.parse(data) as Partial<LiveNotification>;
    if (typeof raw.id !== 'string') return null;
    const text = (value: unknown) => (typeof value === 'string' ? value : null);
    return {
      id: raw.id,
      title: text(raw.title),
      body: text(raw.body),
      actionUrl: text(raw.actionUrl),
      actionText: text(raw.actionText),
      createdAt: text(raw.createdAt) ?? new Date().toISOString(),
    };
  } catch {
    return null;
  }
}

import { request, type IncomingMessage } from 'node:http';

export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
  receivedAt: number;
}

/** A minimal EventSource over node:http: collects events, exposes the status and headers. */
export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  status = 0;
  headers: IncomingMessage['headers'] = {};
  body = '';
  private response: IncomingMessage | null = null;
  private readonly listeners = new Set<() => void>();
  ended = false;

  private constructor() {}

  /** Resolves once the response headers and the first comment (the stream is live) arrived, or the request was refused. */
  static open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const client = new SseClient();
    return new Promise((resolve, reject) => {
      const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        client.response = res;
        client.status = res.statusCode ?? 0;
        client.headers = res.headers;
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          if (client.status !== 200) {
            client.body += chunk;
            return;
          }
          buffer += chunk;
          let boundary: number;
          while ((boundary = buffer.indexOf('\n\n')) >= 0) {
            client.parse(buffer.slice(0, boundary));
            buffer = buffer.slice(boundary + 2);
          }
        });
        res.on('end', () => {
          client.ended = true;
          client.notify();
          if (client.status !== 200) resolve(client);
        });
        res.on('close', () => {
          client.ended = true;
          client.notify();
        });
        if (client.status === 200)
          client.waitUntil(() => client.comments.length > 0, 5000).then(() => resolve(client), reject);
      });
      req.on('error', reject);
      req.end();
    });
  }

  private parse(block: string): void {
    const event: SseEvent = { data: '', receivedAt: Date.now() };
    const data: string[] = [];
    let isComment = true;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        this.comments.push(line.slice(1).trim());
        continue;
      }
      isComment = false;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'data') data.push(value);
      else if (field === 'id') event.id = value;
      else if (field === 'event') event.event = value;
    }
    if (!isComment && data.length) {
      event.data = data.join('\n');
      this.events.push(event);
    }
    this.notify();
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  /** Resolves when predicate holds; rejects after timeoutMs. */
  waitUntil(predicate: () => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `SSE condition not met within ${timeoutMs} ms (events: ${this.events.length}, ended: ${this.ended})`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  close(): void {
    this.response?.destroy();
  }
}

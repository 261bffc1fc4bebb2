import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NotificationRepository, type FeedItem } from '../../db/repositories/notification-repository';
import { userIdOf } from '../auth/authenticate';
import type { ApiContext } from '../context';
import { ApiError } from '../errors';
import type { LiveNotification, Same } from '../contract-types';
import type { FeedEvent } from '../feed-hub';
import { errors, UUID_PATTERN } from '../schemas';
import { feedItemView } from './notification-center';

/** Open streams per user per process; more is a client leaking EventSources. */
const MAX_STREAMS_PER_USER = 10;
/** Notifications replayed after a reconnect (Last-Event-ID). */
const MAX_REPLAY = 100;
/** setTimeout's ceiling (about 24.8 days); a stream of a longer-lived token reconnects then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const DESCRIPTION = `Server-sent events: \`event: notification\` with the notification as JSON \`data\` and its id as
the event \`id\`, each time one of the caller's in-app notifications is delivered. A comment line is sent
at once and then every 15 s as a heartbeat. On reconnect the browser's \`Last-Event-ID\` header
replays what was delivered after that notification. EventSource cannot send headers: pass the JWT as
\`?access_token=\` instead (keep such URLs out of logs; this API redacts it from its own). The stream ends
when the token expires, after an \`event: token_expired\` (data \`{"reason":"expired"}\`): reconnect with a fresh
token. A stream opened on a browser session ends the same way (\`"signed_out"\`) within a heartbeat of its sign-out.`;

const streamSchema = {
  tags: ['notification center'],
  summary: 'Live feed of my new notifications (SSE)',
  description: DESCRIPTION,
  security: [{ bearer: [] }],
  querystring: z.object({ access_token: z.string().max(8192).optional() }).strict(),
  headers: z.object({ 'last-event-id': z.string().max(100).optional() }),
  response: { 200: z.string().describe('text/event-stream'), ...errors(400, 401, 403, 429, 503) },
};

export function notificationStreamRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/notifications/stream',
      { onRequest: ctx.auth.guard('user'), config: { tokenInQuery: true }, schema: streamSchema },
      async (request, reply) => {
        const userId = userIdOf(request);
        if (ctx.hub.connectionsOf(userId) >= MAX_STREAMS_PER_USER) {
          throw new ApiError(429, `too many open streams: at most ${MAX_STREAMS_PER_USER} per user`);
        }
        await new FeedStream(ctx, request, reply, userId).run(request.headers['last-event-id']);
      },
    );
  };
}

/**
 * One open SSE stream of a user's feed: subscribed to the hub, then the missed notifications replayed,
 * then live ones; it ends when the client goes away, the hub closes, or the authentication runs out.
 */
class FeedStream {
  private open = true;
  /** While true, live events wait in `buffered` so they follow the replay. */
  private replaying = true;
  private unsubscribe: (() => void) | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private expiry: NodeJS.Timeout | undefined;
  private readonly sent = new Set<string>();
  private readonly buffered: FeedEvent[] = [];
  private readonly res: ServerResponse;

  constructor(
    private readonly ctx: ApiContext,
    private readonly request: FastifyRequest,
    private readonly reply: FastifyReply,
    private readonly userId: string,
  ) {
    this.res = reply.raw;
  }

  async run(lastEventId: string | undefined): Promise<void> {
    // The response's 'close' is the client going away (the request's fires once its body is read).
    this.res.on('close', this.end);
    // Subscribe before replaying, so nothing delivered in between is lost (duplicates are dropped).
    const unsubscribe = await this.subscribe();
    this.reply.hijack();
    if (!this.open) {
      unsubscribe();
      return;
    }
    this.writeHead();
    this.endWithAuthentication();
    await this.replay(lastEventId);
  }

  private async subscribe(): Promise<() => void> {
    try {
      this.unsubscribe = await this.ctx.hub.subscribe(this.userId, {
        onEvent: (event) => (this.replaying ? this.buffered.push(event) : this.send(event)),
        onClose: this.end,
      });
      return this.unsubscribe;
    } catch (err) {
      this.request.log.error({ err }, 'SSE subscription failed');
      throw new ApiError(503, 'live feed unavailable, try again later');
    }
  }

  private writeHead(): void {
    // Headers set by hooks (the widget's CORS) would be lost with the hijack.
    for (const [name, value] of Object.entries(this.reply.getHeaders()))
      if (value !== undefined) this.res.setHeader(name, value);
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    this.write(`retry: 3000\n: connected\n\n`);
  }

  /** Authentication holds only as long as the token: a revoked shopper's feed must not stay open for days. */
  private endWithAuthentication(): void {
    const { principal, sessionId } = this.request;
    const expiresAt = principal?.kind === 'user' ? principal.expiresAt.getTime() : Date.now();
    this.expiry = setTimeout(
      () => this.expire('expired'),
      Math.min(Math.max(expiresAt - Date.now(), 0), MAX_TIMER_MS),
    );
    this.heartbeat = setInterval(() => {
      this.write(': ping\n\n');
      // A stream opened on a session ends within a heartbeat of its sign-out, on any API process.
      if (sessionId)
        void stillSignedIn(this.ctx, sessionId).then((signedIn) => signedIn || this.expire('signed_out'));
    }, this.ctx.sseHeartbeatMs);
  }

  /** What was delivered after the client's Last-Event-ID, then what arrived meanwhile. */
  private async replay(lastEventId: string | undefined): Promise<void> {
    try {
      if (lastEventId && UUID_PATTERN.test(lastEventId)) {
        const missed = await new NotificationRepository(this.request.em).feedSince(
          this.userId,
          lastEventId.toLowerCase(),
          MAX_REPLAY,
        );
        for (const item of missed) this.send(liveEventOf(item));
      }
    } catch (err) {
      this.request.log.warn({ err }, 'SSE replay failed');
    } finally {
      this.replaying = false;
      for (const event of this.buffered.splice(0)) this.send(event);
    }
  }

  private write(chunk: string): void {
    if (this.open) this.res.write(chunk);
  }

  private send(event: FeedEvent): void {
    if (this.sent.has(event.id)) return;
    if (this.sent.size >= 1000) this.sent.clear(); // dedupe recent ids only (replay overlap, a re-published delivery)
    this.sent.add(event.id);
    this.write(`id: ${event.id}\nevent: notification\ndata: ${JSON.stringify(event)}\n\n`);
  }

  private expire(reason: 'expired' | 'signed_out'): void {
    this.write(`event: token_expired\ndata: ${JSON.stringify({ reason })}\n\n`);
    this.end();
  }

  /** Idempotent: the client leaving, the hub closing and expiry may each call it. */
  private readonly end = (): void => {
    if (!this.open) return;
    this.open = false;
    clearInterval(this.heartbeat);
    clearTimeout(this.expiry);
    this.unsubscribe?.();
    if (!this.res.writableEnded) this.res.end();
  };
}

/** Compiles only while the hub's events are what web/ reads as a LiveNotification (src/api/contract-types.ts). */
const _liveNotificationContract: Same<FeedEvent, LiveNotification> = true;

/** A stored feed item as the stream sends it live: the list's view, without what only the list shows. */
function liveEventOf(item: FeedItem): FeedEvent {
  const { id, title, body, actionUrl, actionText, createdAt } = feedItemView(item);
  return { id, title, body, actionUrl, actionText, createdAt };
}

/** Whether a session still exists; a Redis hiccup keeps the stream (the feed's pub/sub would show an outage). */
async function stillSignedIn(ctx: ApiContext, sessionId: string): Promise<boolean> {
  return (await ctx.auth.sessions.find(sessionId).catch(() => true)) !== null;
}

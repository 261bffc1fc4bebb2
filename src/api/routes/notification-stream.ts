import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NotificationRepository } from '../../db/repositories/notification-repository';
import { userIdOf } from '../auth/authenticate';
import type { ApiContext } from '../context';
import { ApiError } from '../errors';
import type { FeedEvent } from '../feed-hub';
import { errors, UUID_PATTERN } from '../schemas';

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

export function notificationStreamRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/notifications/stream',
      {
        onRequest: ctx.auth.guard('user'),
        config: { tokenInQuery: true },
        schema: {
          tags: ['notification center'],
          summary: 'Live feed of my new notifications (SSE)',
          description: DESCRIPTION,
          security: [{ bearer: [] }],
          querystring: z.object({ access_token: z.string().max(8192).optional() }).strict(),
          headers: z.object({ 'last-event-id': z.string().max(100).optional() }),
          response: { 200: z.string().describe('text/event-stream'), ...errors(400, 401, 403, 429, 503) },
        },
      },
      async (request, reply) => {
        const userId = userIdOf(request);
        if (ctx.hub.connectionsOf(userId) >= MAX_STREAMS_PER_USER) {
          throw new ApiError(429, `too many open streams: at most ${MAX_STREAMS_PER_USER} per user`);
        }
        const lastEventId = request.headers['last-event-id'];
        const res = reply.raw;
        let open = true;
        let replaying = true;
        let unsubscribe: (() => void) | undefined;
        let heartbeat: NodeJS.Timeout | undefined;
        let expiry: NodeJS.Timeout | undefined;
        const sent = new Set<string>();
        const buffered: FeedEvent[] = [];
        const write = (chunk: string) => {
          if (open) res.write(chunk);
        };
        const send = (event: FeedEvent) => {
          if (sent.has(event.id)) return;
          if (sent.size >= 1000) sent.clear(); // dedupe recent ids only (replay overlap, a re-published delivery)
          sent.add(event.id);
          write(`id: ${event.id}\nevent: notification\ndata: ${JSON.stringify(event)}\n\n`);
        };
        const end = () => {
          if (!open) return;
          open = false;
          clearInterval(heartbeat);
          clearTimeout(expiry);
          unsubscribe?.();
          if (!res.writableEnded) res.end();
        };
        // The response's 'close' is the client going away (the request's fires once its body is read).
        res.on('close', end);

        // Subscribe before replaying, so nothing delivered in between is lost (duplicates are dropped).
        try {
          unsubscribe = await ctx.hub.subscribe(userId, {
            onEvent: (event) => (replaying ? buffered.push(event) : send(event)),
            onClose: end,
          });
        } catch (err) {
          request.log.error({ err }, 'SSE subscription failed');
          throw new ApiError(503, 'live feed unavailable, try again later');
        }
        reply.hijack();
        if (!open) {
          unsubscribe();
          return;
        }
        // Headers set by hooks (the widget's CORS) would be lost with the hijack.
        for (const [name, value] of Object.entries(reply.getHeaders()))
          if (value !== undefined) res.setHeader(name, value);
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        });
        write(`retry: 3000\n: connected\n\n`);
        // Authentication holds only as long as the token: a revoked shopper's feed must not stay open for days.
        const expiresAt =
          request.principal?.kind === 'user' ? request.principal.expiresAt.getTime() : Date.now();
        const expire = (reason: 'expired' | 'signed_out') => {
          write(`event: token_expired\ndata: ${JSON.stringify({ reason })}\n\n`);
          end();
        };
        expiry = setTimeout(
          () => expire('expired'),
          Math.min(Math.max(expiresAt - Date.now(), 0), MAX_TIMER_MS),
        );
        const sessionId = request.sessionId;
        heartbeat = setInterval(() => {
          write(': ping\n\n');
          // A stream opened on a session ends within a heartbeat of its sign-out, on any API process.
          if (sessionId)
            void stillSignedIn(ctx, sessionId).then((signedIn) => signedIn || expire('signed_out'));
        }, ctx.sseHeartbeatMs);

        try {
          if (lastEventId && UUID_PATTERN.test(lastEventId)) {
            const missed = await new NotificationRepository(request.em).feedSince(
              userId,
              lastEventId.toLowerCase(),
              MAX_REPLAY,
            );
            for (const item of missed) {
              send({
                id: item.id,
                title: item.title,
                body: item.body,
                actionUrl: item.actionUrl,
                actionText: item.actionText,
                createdAt: item.createdAt.toISOString(),
              });
            }
          }
        } catch (err) {
          request.log.warn({ err }, 'SSE replay failed');
        } finally {
          replaying = false;
          for (const event of buffered.splice(0)) send(event);
        }
      },
    );
  };
}

/** Whether a session still exists; a Redis hiccup keeps the stream (the feed's pub/sub would show an outage). */
async function stillSignedIn(ctx: ApiContext, sessionId: string): Promise<boolean> {
  return (await ctx.auth.sessions.find(sessionId).catch(() => true)) !== null;
}

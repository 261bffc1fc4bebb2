import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ApiContext } from './context';
import { ApiError } from './errors';

/**
 * The shopper routes a shop's own pages may call cross-origin (docs/contracts.md, "Widget on another
 * origin"), by route pattern with their methods. `/api/notifications` is only its GET: its POST publishes
 * (a service route) and stays same-origin.
 */
const WIDGET_ROUTES: ReadonlyMap<string, readonly string[]> = new Map([
  ['/api/notifications', ['GET']],
  ['/api/notifications/unread-count', ['GET']],
  ['/api/notifications/:id/read', ['POST']],
  ['/api/notifications/read-all', ['POST']],
  ['/api/notifications/stream', ['GET']],
  ['/api/preferences', ['GET', 'PUT']],
]);

/** The widget sends its token as a header (the stream: in the query) and JSON bodies; no cookie, no API key. */
const ALLOWED_HEADERS = 'authorization, content-type, last-event-id, x-requested-with';

function allowedOrigin(origins: ReadonlySet<string>, request: FastifyRequest): string | null {
  const origin = request.headers.origin;
  return typeof origin === 'string' && origins.has(origin) ? origin : null;
}

/**
 * A global onRequest hook, before authentication so a 401/403 reaches the widget as an answer rather
 * than a CORS error: a widget route called from an origin of WIDGET_ORIGINS gets that origin allowed.
 * Never `allow-credentials`: a shop's page must not ride on a session cookie of ours.
 */
export function widgetCorsHeaders(origins: readonly string[]): onRequestAsyncHookHandler {
  const allowed = new Set(origins);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!WIDGET_ROUTES.get(request.routeOptions.url ?? '')?.includes(request.method)) return;
    reply.header('vary', 'Origin');
    const origin = allowedOrigin(allowed, request);
    if (origin) reply.header('access-control-allow-origin', origin);
  };
}

/** Preflights (OPTIONS, never authenticated by browsers) of the widget routes, for their own methods only. */
export function widgetCorsRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    const allowed = new Set(ctx.deps.config.api.widgetOrigins);
    for (const [url, methods] of WIDGET_ROUTES) {
      app.options(url, { schema: { hide: true } }, async (request, reply) => {
        reply.header('vary', 'Origin');
        const origin = allowedOrigin(allowed, request);
        if (!origin)
          throw new ApiError(
            403,
            'origin not allowed to call the shopper routes cross-origin (WIDGET_ORIGINS)',
          );
        const method = request.headers['access-control-request-method'];
        if (typeof method !== 'string' || !methods.includes(method)) {
          throw new ApiError(
            403,
            `cross-origin ${String(method ?? '(no Access-Control-Request-Method)').slice(0, 20)} ${url} is not a shopper route (allowed: ${methods.join(', ')})`,
          );
        }
        return reply
          .code(204)
          .header('access-control-allow-origin', origin)
          .header('access-control-allow-methods', methods.join(', '))
          .header('access-control-allow-headers', ALLOWED_HEADERS)
          .header('access-control-max-age', '600')
          .send();
      });
    }
  };
}

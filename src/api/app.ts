import type { EntityManager } from '@mikro-orm/postgresql';
import rateLimit from '@fastify/rate-limit';
import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { duplicateRedis, type RedisConnection } from '../redis-connection';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { ApiKeyVerifier } from './auth/api-keys';
import { API_KEY_HEADER, AuthFailureLimiter, Authenticator } from './auth/authenticate';
import { JwtVerifier } from './auth/jwt';
import { SessionStore } from './auth/sessions';
import type { ApiContext, ApiDeps } from './context';
import { ApiError, installErrorHandlers } from './errors';
import { FeedHub } from './feed-hub';
import { guardRequestJson } from './request-guard';
import { widgetCorsHeaders, widgetCorsRoutes } from './widget-cors';
import { adminFailedJobRoutes } from './routes/admin-failed-jobs';
import { adminOverviewRoutes } from './routes/admin-overview';
import { adminQueueRoutes } from './routes/admin-queues';
import { adminRedriveRoutes } from './routes/admin-redrive';
import { orderJourneyRoutes } from './routes/order-journey';
import { adminRecipientRoutes } from './routes/admin-recipients';
import { adminSearchRoutes } from './routes/admin-search';
import { campaignRoutes } from './routes/campaigns';
import { codecRoutes } from './routes/codec';
import { devSessionRoutes } from './routes/dev-session';
import { eventRoutes } from './routes/events';
import { healthRoutes } from './routes/health';
import { notificationCenterRoutes } from './routes/notification-center';
import { notificationControlRoutes } from './routes/notification-control';
import { notificationStreamRoutes } from './routes/notification-stream';
import { preferenceRoutes } from './routes/preferences';
import { digestPreferenceRoutes } from './routes/digest-preferences';
import { publishRoutes } from './routes/publish';
import { recipientRoutes } from './routes/recipients';
import { sessionRoutes } from './routes/session';
import { templateRoutes } from './routes/templates';
import { traceRoutes } from './routes/trace';
import { webAssetRoutes } from './routes/web-assets';
import { unsubscribeRoutes } from './routes/unsubscribe';
import { adminConsentRoutes } from './routes/admin-consents';
import { experimentRoutes } from './routes/experiments';
import { analyticsRoutes } from './routes/analytics';
import { conversionRoutes } from './routes/conversions';
import { twilioInboundRoutes } from './routes/twilio-inbound';
import { trackingRoutes } from './routes/tracking';
import { deliveryReceiptRoutes } from './routes/delivery-receipts';
import { adminSuppressionRoutes } from './routes/admin-suppressions';

export type { ApiDeps } from './context';

export const API_DESCRIPTION = `Notification service HTTP API.

Authentication:
- Service routes: \`X-API-Key: <key>\` (keys from API_KEYS, each with its scopes: events, sends, recipients, control, read; an admin key works too). A key without the route's scope: 403.
- Shopper routes: \`Authorization: Bearer <jwt>\`; the token's \`sub\` is the recipient id. The SSE stream also takes \`?access_token=<jwt>\`.
- Operator routes: an admin key (ADMIN_API_KEYS) as \`X-API-Key\` or as the password of HTTP Basic auth, or a JWT carrying the admin claim (JWT_ADMIN_CLAIM, checked issuer and audience).
- Browser pages: \`POST /api/session\` with an admin key or a token sets the session cookie \`ns_session\`, which then counts as that credential; POST/PUT/PATCH/DELETE riding on it need \`X-CSRF-Token\`.

Notification ids: service and operator routes take the notification's UUID or its workflow id
(\`notification-<eventId>-<userId>\`); a notification that still waits has only the workflow id.`;

/** Every route plugin, in registration order. */
const ROUTES = [
  healthRoutes,
  sessionRoutes,
  devSessionRoutes,
  eventRoutes,
  publishRoutes,
  notificationControlRoutes,
  recipientRoutes,
  notificationCenterRoutes,
  notificationStreamRoutes,
  preferenceRoutes,
  digestPreferenceRoutes,
  templateRoutes,
  campaignRoutes,
  traceRoutes,
  adminQueueRoutes,
  adminOverviewRoutes,
  adminSearchRoutes,
  adminFailedJobRoutes,
  adminRecipientRoutes,
  adminRedriveRoutes,
  orderJourneyRoutes,
  codecRoutes,
  unsubscribeRoutes,
  adminConsentRoutes,
  experimentRoutes,
  analyticsRoutes,
  conversionRoutes,
  twilioInboundRoutes,
  trackingRoutes,
  deliveryReceiptRoutes,
  adminSuppressionRoutes,
  widgetCorsRoutes,
  webAssetRoutes,
];

/**
 * Builds the HTTP API on the given connections (nothing is listening yet). Closing the app ends
 * SSE streams and the API's own Redis connections; the deps stay open for their owner to close.
 * Fastify runs hooks in the order they are added: the steps below keep that order.
 */
export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const app = createFastify(deps);
  const limiterRedis = await connectLimiterRedis(app, deps.redis);
  const ctx = apiContext(deps, limiterRedis);
  addRequestHooks(app, deps, ctx.auth);
  try {
    await registerRateLimit(app, deps.config, limiterRedis);
    await registerDocs(app);
    for (const routes of ROUTES) await app.register(routes(ctx));
  } catch (err) {
    limiterRedis.disconnect();
    throw err;
  }
  // Streams end before the server waits for its connections to drain.
  app.addHook('preClose', () => ctx.hub.close());
  return app;
}

/** The Fastify instance: limits, zod schemas, JSON only, our error answers. */
function createFastify(deps: ApiDeps) {
  const { api } = deps.config;
  const app = Fastify({
    // Tokens in ?access_token= must not reach the logs.
    logger: deps.logLevel ? { level: deps.logLevel, serializers: { req: redactedRequest } } : false,
    bodyLimit: api.bodyLimitBytes,
    // Path parameters up to 1000 chars (default 100 answers 414): unsubscribe tokens, long workflow ids; schemas bound each.
    routerOptions: { maxParamLength: 1000 },
    // Slow clients (slowloris) must not hold connections: headers, and the whole request, within bounds.
    requestTimeout: api.requestTimeoutMs,
    http: {
      headersTimeout: api.headersTimeoutMs,
      requestTimeout: api.requestTimeoutMs,
      connectionsCheckingInterval: 1000,
    },
    // Off by default: X-Forwarded-For from anyone would let a client pick its own address for the limits.
    // (A hop count works too; Fastify's types leave it out.)
    trustProxy: api.trustProxy as boolean | string[],
  }).withTypeProvider<ZodTypeProvider>();
  // JSON only: a text/plain body is refused with 415 instead of reaching a schema as a string.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandlers(app);
  return app;
}

/**
 * A separate connection that fails fast: a Redis outage must not hang requests on the rate limiters.
 * Closed with the app.
 */
async function connectLimiterRedis(app: FastifyInstance, redis: RedisConnection): Promise<RedisConnection> {
  const limiterRedis = duplicateRedis(redis, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    lazyConnect: true,
    connectionName: 'notifications-api-rate-limit',
  });
  limiterRedis.on('error', () => undefined);
  await limiterRedis.connect();
  app.addHook('onClose', async () => {
    await limiterRedis.quit().catch(() => limiterRedis.disconnect());
  });
  return limiterRedis;
}

/** What every route gets: the deps, authentication, the feed hub, the clock. */
function apiContext(deps: ApiDeps, limiterRedis: RedisConnection): ApiContext {
  const { config } = deps;
  const hub = new FeedHub(deps.redis, config.queuePrefix);
  const { rateLimit: limits } = config.api;
  const keys = new ApiKeyVerifier(config.api.serviceKeys, config.api.adminKeys);
  const auth = new Authenticator(
    keys,
    config.api.jwt ? new JwtVerifier(config.api.jwt) : null,
    new AuthFailureLimiter(limiterRedis, config.queuePrefix, limits.authFailuresPerAddress, limits.windowMs),
    // On the fail-fast connection too: with Redis down, sessions are refused at once (503), never opened.
    new SessionStore(limiterRedis, config.queuePrefix, config.api.sessionTtlMs, keys),
  );
  return {
    deps,
    auth,
    hub,
    now: deps.clock ?? (() => new Date()),
    sseHeartbeatMs: deps.sseHeartbeatMs ?? 15_000,
  };
}

/** The hooks every request passes before its route's own: CORS, blocked addresses, an EntityManager, JSON guards. */
function addRequestHooks(app: FastifyInstance, deps: ApiDeps, auth: Authenticator): void {
  // Before any refusal, so the widget on a shop's page can read it (docs/contracts.md, "Widget on another origin").
  app.addHook('onRequest', widgetCorsHeaders(deps.config.api.widgetOrigins));
  // Then: an address that keeps failing authentication costs one Redis read, nothing more.
  app.addHook('onRequest', auth.refuseBlockedAddresses);
  // One EntityManager per request: a fork, never the global one.
  app.decorateRequest('em', null as unknown as EntityManager);
  app.decorateRequest('principal', null);
  app.decorateRequest('sessionId', null);
  app.addHook('onRequest', async (request) => {
    request.em = deps.orm.em.fork();
  });
  // NUL, lone surrogates and deep nesting are refused before any schema, handler or database sees them.
  app.addHook('preValidation', guardRequestJson);
}

/**
 * Per API key (by name), per user (JWT subject), per IP for anonymous calls; counters in Redis so every
 * API process shares them. Fails open when Redis does not answer.
 */
async function registerRateLimit(
  app: FastifyInstance,
  config: ApiDeps['config'],
  redis: RedisConnection,
): Promise<void> {
  const { perKey, perUser, windowMs } = config.api.rateLimit;
  const limitOf = (request: FastifyRequest) => (request.principal?.kind === 'key' ? perKey : perUser);
  await app.register(rateLimit, {
    global: true,
    // After authentication (route onRequest hooks), before body validation.
    hook: 'preValidation',
    timeWindow: windowMs,
    max: (request) => limitOf(request),
    allowList: (request) => limitOf(request) === 0,
    keyGenerator: (request) => {
      const p = request.principal;
      return p ? (p.kind === 'key' ? `key:${p.name}` : `user:${p.userId}`) : `ip:${request.ip}`;
    },
    redis,
    nameSpace: `${config.queuePrefix}:api-rate-limit:`,
    skipOnError: true,
    errorResponseBuilder: (_request, context) =>
      new ApiError(
        429,
        `rate limit exceeded: ${context.max} requests per ${Math.round(windowMs / 1000)} s, retry in ${context.after}`,
      ),
  });
}

/** The OpenAPI document's own part; the paths come from the routes' zod schemas. */
const OPENAPI_DOCUMENT: FastifyDynamicSwaggerOptions['openapi'] = {
  openapi: '3.0.3',
  info: { title: 'Notification service', version: '1.0.0', description: API_DESCRIPTION },
  components: {
    securitySchemes: {
      apiKey: {
        type: 'apiKey',
        in: 'header',
        name: API_KEY_HEADER,
        description: 'service key (API_KEYS) or admin key (ADMIN_API_KEYS)',
      },
      bearer: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description:
          'shopper token; sub = recipient id; exp required; the JWT_ADMIN_CLAIM claim for operators',
      },
      adminBasic: {
        type: 'http',
        scheme: 'basic',
        description: 'any user name, an admin key as password',
      },
      session: {
        type: 'apiKey',
        in: 'cookie',
        name: 'ns_session',
        description: 'browser session (POST /api/session); unsafe methods also need X-CSRF-Token',
      },
    },
  },
  tags: [
    { name: 'events', description: 'service-facing: business events and direct sends' },
    { name: 'notifications', description: 'service-facing: status, cancel, reschedule' },
    { name: 'recipients', description: 'service-facing' },
    { name: 'notification center', description: 'shopper-facing (bearer JWT)' },
    { name: 'preferences', description: 'shopper-facing (bearer JWT)' },
    { name: 'operators', description: 'admin role' },
    { name: 'campaigns', description: 'marketing campaigns (admin role)' },
    { name: 'experiments', description: 'experiments on templates (admin role)' },
    { name: 'analytics', description: 'engagement rollups (admin role)' },
    { name: 'sessions', description: 'browser sign-in: the ns_session cookie' },
    { name: 'webhooks', description: 'inbound provider webhooks (signed by the provider)' },
    { name: 'tracking', description: 'public ends of tracked links and the open pixel (signed tokens)' },
    { name: 'health' },
  ],
};

/** The OpenAPI document (from the routes' zod schemas) at /docs/json, Swagger UI at /docs. */
async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, { openapi: OPENAPI_DOCUMENT, transform: jsonSchemaTransform });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}

/** Request serializer for the logger: method and path, with `access_token` redacted. */
export function redactedRequest(request: FastifyRequest): { method: string; url: string } {
  return { method: request.method, url: request.url.replace(/([?&]access_token=)[^&]*/g, '$1[redacted]') };
}

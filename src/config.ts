import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CHANNELS, type Channel } from './domain/channels';
import type { RedisKeyLayout } from './delivery/queue-keys';
import { KEY_ID_PATTERN, parseEncryptionKeys, type PayloadEncryptionConfig } from './temporal/payload-codec';
import {
  temporalConnectionSecurityFrom,
  type TemporalConnectionSecurity,
} from './temporal/connection-security';
import { placeholderSecrets } from './placeholder-secrets';
import type { UnsubscribeSettings } from './consent/unsubscribe-token';
import type { TrackingSettings } from './tracking/tracking-token';
import { DEFAULT_PUSH_HOSTS, isCidr, type OutboundPolicy } from './domain/outbound-url';
import { DEFAULT_FREQUENCY_CAPS, parseFrequencyCaps, type FrequencyCap } from './domain/frequency-caps';
import type { OrderJourneyConfig } from './domain/order-journey';
import type { ShopSettings } from './templates/email-layout';

/** Reads the environment once, at start-up, into a typed config; nothing below the entry points reads process.env. */
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const url = (protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    `must be a URL with scheme ${protocols.map((p) => p.replace(':', '')).join(' or ')}`,
  );

const flag = z
  .string()
  .transform((value) => value.trim().toLowerCase())
  .pipe(z.enum(['true', 'false', '1', '0']))
  .transform((value) => value === 'true' || value === '1');
const cidrList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean),
  )
  .refine((list) => list.every(isCidr), 'must be a comma list of CIDRs such as 127.0.0.0/8');
const hostList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((part) => part.trim().toLowerCase())
      .filter(Boolean),
  )
  .refine(
    (list) => list.length > 0 && list.every((h) => /^(\*|(\*\.)?[a-z0-9.-]+)$/.test(h)),
    'must be a comma list of host names, *.suffix or *',
  );

/** `host:port` seeds of a Redis Cluster (REDIS_CLUSTER_NODES, docs/contracts.md). */
const clusterNodeList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean),
  )
  .refine(
    (list) => list.length > 0 && list.every((node) => /^[A-Za-z0-9.-]+:\d{1,5}$/.test(node)),
    'must be a comma list of host:port seeds such as redis-1:6379,redis-2:6379',
  )
  .transform((list) =>
    list.map((node) => {
      const at = node.lastIndexOf(':');
      return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
    }),
  )
  .refine((nodes) => nodes.every((n) => n.port >= 1 && n.port <= 65535), 'every port must be within 1-65535');

const channelList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(CHANNELS)).min(1));

/** What a service key may do (docs/contracts.md#api-keys); admin keys may do everything. */
export const API_SCOPES = ['events', 'sends', 'recipients', 'control', 'read'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

/**
 * `name:key` (plain, at least 16 chars, hashed here) or `name:<64 hex>` (the key's SHA-256); keys never
 * stay in memory in clear. Service keys may name their scopes, `name[events+read]:key`; `[` cannot be
 * part of a name, so a key that contains `:` or `]` stays unambiguous.
 */
const apiKeyList = (scoped: boolean) =>
  z.string().transform((value, ctx) => {
    const keys: ApiKeyConfig[] = [];
    for (const [i, entry] of value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean)
      .entries()) {
      const key = parseApiKey(entry, i + 1, scoped, keys);
      if (typeof key === 'string') {
        ctx.addIssue({ code: 'custom', message: key });
        return z.NEVER;
      }
      keys.push(key);
    }
    return keys;
  });

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/** One entry (the `position`th) of an API key list, or the message saying what is wrong with it. */
function parseApiKey(
  entry: string,
  position: number,
  scoped: boolean,
  earlier: ApiKeyConfig[],
): ApiKeyConfig | string {
  const m = /^([A-Za-z0-9_.-]{1,64})(?:\[([^\]]*)\])?:(.+)$/.exec(entry);
  if (!m || (!SHA256_HEX.test(m[3]) && m[3].length < 16))
    return `entry ${position} must be name:key (key at least 16 chars) or name:<sha256 hex>`;
  if (earlier.some((k) => k.name === m[1])) return `key name "${m[1]}" appears twice`;
  const scopes = m[2] === undefined ? undefined : parseScopes(m[2], position, scoped);
  if (typeof scopes === 'string') return scopes;
  const sha256 = SHA256_HEX.test(m[3]) ? m[3].toLowerCase() : createHash('sha256').update(m[3]).digest('hex');
  return { name: m[1], sha256, ...(scopes ? { scopes } : {}) };
}

/** The `events+read` of `name[events+read]:key`, or the message saying why they are refused. */
function parseScopes(list: string, position: number, scoped: boolean): ApiScope[] | string {
  const names = list.split('+').map((part) => part.trim());
  const unknown = names.find((name) => !(API_SCOPES as readonly string[]).includes(name));
  if (!scoped) return `entry ${position}: admin keys take no scopes (they may do everything)`;
  if (unknown !== undefined)
    return `entry ${position}: unknown scope "${unknown}" (known: ${API_SCOPES.join(', ')})`;
  return [...new Set(names as ApiScope[])];
}

/** `TRUST_PROXY`: off (default), `true` (any hop: only behind a proxy that always overwrites X-Forwarded-For), a hop count, or proxy addresses/CIDRs. */
const trustProxy = z.string().transform((value, ctx): boolean | number | string[] => {
  const v = value.trim().toLowerCase();
  if (v === 'false' || v === 'off' || v === '0') return false;
  if (v === 'true') return true;
  if (/^\d{1,2}$/.test(v)) return Number(v);
  const list = v
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  if (
    list.length &&
    list.every(
      (part) =>
        /^[0-9a-f.:]+(\/\d{1,3})?$/.test(part) || ['loopback', 'linklocal', 'uniquelocal'].includes(part),
    )
  )
    return list;
  ctx.addIssue({
    code: 'custom',
    message: 'must be false, true, a hop count, or a comma list of proxy addresses / CIDRs',
  });
  return z.NEVER;
});

/** FREQUENCY_CAPS that parseFrequencyCaps refuses, as an issue naming the rule. */
const frequencyCapsIssue = (value: string, ctx: z.RefinementCtx) => {
  try {
    parseFrequencyCaps(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
};

const envSchema = z.object({
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port')
    .default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('notifications'),
  /** Campaign workflows and their bulk activities; default `<TEMPORAL_TASK_QUEUE>-campaigns`. */
  TEMPORAL_CAMPAIGN_TASK_QUEUE: z.string().min(1).optional(),
  /** Campaign fan-out pauses while a channel's queue holds more jobs than this. */
  CAMPAIGN_MAX_BACKLOG: intFrom(100, 10_000_000).default(5000),
  /** A campaign scheduled ahead stages its notifications this long before its time (0: off; docs/performance.md, "Flash sale"). */
  CAMPAIGN_STAGE_LEAD_MS: intFrom(0, 24 * 3600_000).default(0),
  DATABASE_URL: url(['postgres:', 'postgresql:']).default('postgres://postgres@127.0.0.1:5432/notifications'),
  /** Connections of this process's Postgres pool; unset = derived from what the process runs (src/db/pool-size.ts). */
  DATABASE_POOL_MAX: intFrom(1, 1000).optional(),
  REDIS_URL: url(['redis:', 'rediss:']).default(DEFAULT_REDIS_URL),
  /** Seeds of a Redis Cluster; set, the processes open an ioredis Cluster instead of REDIS_URL's instance. */
  REDIS_CLUSTER_NODES: clusterNodeList.optional(),
  SMTP_URL: url(['smtp:', 'smtps:']).default('smtp://127.0.0.1:1025'),
  PORT: intFrom(0, 65535).default(3000),
  QUEUE_PREFIX: z.string().min(1).default('{notifications}'),
  /** Hash tags of the send queues (src/delivery/queue-keys.ts): one per queue, or all under QUEUE_PREFIX. */
  REDIS_KEY_LAYOUT: z.enum(['spread', 'single']).default('spread'),
  EMAIL_FROM: z.string().min(3).default('Shop Notifications <notifications@shop.local>'),
  /** Channels whose queues this process consumes (comma list); default all. */
  DELIVERY_CHANNELS: channelList.default([...CHANNELS]),
  /** How long the workflow waits for a channel outcome before it hands the job off again. */
  DELIVERY_DEADLINE_MS: intFrom(1000, 7 * 24 * 3600 * 1000).default(10 * 60 * 1000),
  PAYMENT_REMINDER_DELAY_MS: intFrom(0, 30 * 24 * 3600 * 1000).default(24 * 3600 * 1000),
  /** Digests and caps (docs/digests-and-caps.md): INVENTORY_LOW_STOCK window per admin (0 = no digest), caps per category. */
  LOW_STOCK_DIGEST_WINDOW_MS: intFrom(0, 7 * 24 * 3600 * 1000).default(15 * 60 * 1000),
  FREQUENCY_CAPS: z.string().default(DEFAULT_FREQUENCY_CAPS).superRefine(frequencyCapsIssue),
  /** Order journeys (docs/order-journeys.md): one workflow per order, signalled by its events. */
  ORDER_JOURNEYS: flag.default(true),
  ORDER_SHIP_PROMISE_HOURS: intFrom(0, 365 * 24).default(0),
  ORDER_FOLD_WINDOW_MS: intFrom(0, 24 * 3600 * 1000).default(0),
  ORDER_JOURNEY_IDLE_DAYS: intFrom(1, 365).default(30),
  /** How long work blocked by our own infrastructure is retried before it ends `expired` (docs/contracts.md, "Durability invariants"). */
  INFRA_RETRY_HORIZON_MS: intFrom(1000, 30 * 24 * 3600 * 1000).default(24 * 3600 * 1000),
  /** A send claimed longer ago than this belongs to a dead worker and may be taken over; must exceed the provider timeouts. */
  SEND_RECORD_STALE_MS: intFrom(1000, 24 * 3600 * 1000).default(60_000),
  /** SMTP connection and socket timeout. */
  SMTP_TIMEOUT_MS: intFrom(100, 10 * 60 * 1000).default(30_000),
  /** Deadline of one HTTP provider call (Twilio, a push service; webhooks: at most 5 s), response included. */
  HTTP_PROVIDER_TIMEOUT_MS: intFrom(100, 10 * 60 * 1000).default(10_000),
  /** Recipient-supplied URLs (webhooks, push endpoints): plain http allowed (development only). */
  OUTBOUND_ALLOW_HTTP: flag.default(false),
  /** Address ranges recipient-supplied URLs may reach although loopback/private/link-local (development, tests: 127.0.0.0/8). */
  OUTBOUND_ALLOWED_CIDRS: cidrList.default([]),
  /** Hosts push endpoints may point to (`host`, `*.suffix`, or `*` for any public host). */
  PUSH_ALLOWED_HOSTS: hostList.default(DEFAULT_PUSH_HOSTS),
  /** A send job's lock; a job whose worker died runs again after about twice this. */
  SEND_LOCK_DURATION_MS: intFrom(500, 10 * 60 * 1000).default(30_000),
  /** Longest wait between a send job's tries after errors of our own Postgres or Redis (1 s doubling up to this). */
  INFRA_RETRY_MAX_BACKOFF_MS: intFrom(1000, 3600 * 1000).default(60_000),
  /** Finished send jobs kept per queue (Redis memory is bounded by count, not only by age). */
  SEND_KEEP_COMPLETED_JOBS: intFrom(0, 1_000_000).default(10_000),
  SEND_KEEP_FAILED_JOBS: intFrom(0, 1_000_000).default(10_000),
  /** Publishing answers 429 while Redis used_memory / maxmemory is at or above this (0 = off; no maxmemory = no check). */
  REDIS_BACKPRESSURE_RATIO: z.coerce.number().min(0).max(1).default(0.8),
  /** Port of the Prometheus endpoint (GET /metrics) of a worker process; unset = none, 0 = any free port. */
  METRICS_PORT: intFrom(0, 65535).optional(),
  TWILIO_BASE_URL: url(['http:', 'https:']).default('https://api.twilio.com'),
  TWILIO_ACCOUNT_SID: z.string().min(1).optional(),
  TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
  TWILIO_FROM: z.string().min(1).optional(),
  VAPID_SUBJECT: z
    .string()
    .regex(/^(mailto:|https:)/, 'must start with mailto: or https:')
    .default('mailto:notifications@shop.local'),
  VAPID_PUBLIC_KEY: z.string().min(1).optional(),
  VAPID_PRIVATE_KEY: z.string().min(1).optional(),
  WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  WEBHOOK_DEFAULT_URL: url(['http:', 'https:']).optional(),
  /** A workflow bundle prebuilt by `npm run build:workflow-bundle`; default: bundle at worker start. */
  WORKFLOW_BUNDLE_PATH: z.string().min(1).optional(),
  /** HTTP API: service keys and admin keys, comma lists of `name:key` (hashed at load) or `name:<sha256 hex of the key>`. */
  API_KEYS: apiKeyList(true).default([]),
  ADMIN_API_KEYS: apiKeyList(false).default([]),
  /** Shopper JWTs: HS256 with JWT_SECRET, or keys from JWT_JWKS_URL (one of the two). */
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  JWT_JWKS_URL: url(['http:', 'https:']).optional(),
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).optional(),
  /** `claim=value`: a token is an operator when that claim equals value or is an array holding it; unset = no admin tokens. */
  JWT_ADMIN_CLAIM: z
    .string()
    .regex(/^[^=\s]{1,200}=[^=\s]{1,200}$/, 'must be claim=value, e.g. roles=admin')
    .optional(),
  API_HOST: z.string().min(1).default('0.0.0.0'),
  API_BODY_LIMIT_BYTES: intFrom(1024, 64 * 1024 * 1024).default(1024 * 1024),
  /** Requests per API key / per user per window; 0 turns the limit off. */
  API_RATE_LIMIT_PER_KEY: intFrom(0, 1_000_000).default(1200),
  API_RATE_LIMIT_PER_USER: intFrom(0, 1_000_000).default(300),
  API_RATE_LIMIT_WINDOW_MS: intFrom(1000, 3_600_000).default(60_000),
  /** Failed authentications per client address per window before that address gets 429; 0 turns it off. */
  API_AUTH_FAILURES_PER_ADDRESS: intFrom(0, 1_000_000).default(20),
  /** Slow clients: the whole request (headers and body) within this, the headers within API_HEADERS_TIMEOUT_MS. */
  API_REQUEST_TIMEOUT_MS: intFrom(1000, 3_600_000).default(30_000),
  API_HEADERS_TIMEOUT_MS: intFrom(1000, 3_600_000).default(10_000),
  TRUST_PROXY: trustProxy.default(false),
  /** The shop's URL: relative action links in /inbox/ point there (the widget on a shop page needs none). */
  SHOP_URL: url(['http:', 'https:']).optional(),
  /** Emails (docs/emails-and-locales.md): the shop's name in the header, its postal address in the footer. */
  SHOP_NAME: z.string().trim().min(1).max(100).default('Shop'),
  SHOP_ADDRESS: z.string().trim().max(300).default(''),
  /** The footer's preference-center link; default `<SHOP_URL>/account/notifications`. */
  PREFERENCES_URL: url(['http:', 'https:']).optional(),
  /** Temporal Web UI base URL, for the links in notification traces. */
  TEMPORAL_UI_URL: url(['http:', 'https:']).default('http://127.0.0.1:8233'),
  /** Temporal payload encryption (AES-256-GCM): `id:base64key,...`; unset = payloads in clear. */
  PAYLOAD_ENCRYPTION_KEYS: z.string().optional(),
  /** The key new payloads are encrypted with; may be omitted when there is one key. */
  PAYLOAD_ENCRYPTION_KEY_ID: z
    .string()
    .regex(KEY_ID_PATTERN, 'must be a key id of 1-64 chars [A-Za-z0-9._-]')
    .optional(),
  /** Origins allowed to call the codec endpoint from a browser (the Web UI); default the origin of TEMPORAL_UI_URL. */
  CODEC_CORS_ORIGINS: z.string().optional(),
  /** Longest life of a browser session (docs/contracts.md, "Browser surfaces"); a token's session ends at its exp. */
  SESSION_TTL_MS: intFrom(60_000, 7 * 24 * 3600 * 1000).default(8 * 3600 * 1000),
  /** Shop origins whose pages may call the shopper routes cross-origin (the `<notification-bell>` widget). */
  WIDGET_ORIGINS: z.string().optional(),
  /** `/api/dev/*`: sign in as a demo user without a token; only `npm run dev` (allowDevCredentials) may turn it on. */
  DEV_LOGIN: flag.default(false),
  /** The API's public origin: links in messages (unsubscribe) and Twilio's webhook signatures; default http://127.0.0.1:<PORT>. */
  PUBLIC_URL: url(['http:', 'https:']).optional(),
  /** HMAC-SHA256 key of the unsubscribe links in marketing emails (docs/consent.md); unset = no List-Unsubscribe header. */
  UNSUBSCRIBE_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  UNSUBSCRIBE_TOKEN_TTL_DAYS: intFrom(1, 3650).default(400),
  /** Click and open tracking (docs/tracking-and-receipts.md): `off` rewrites no link and adds no pixel. */
  TRACKING: z
    .string()
    .transform((value) => value.trim().toLowerCase())
    .pipe(z.enum(['on', 'off']))
    .default('on'),
  /** The open pixel in HTML emails (inflated by mail-privacy proxies). */
  TRACK_OPENS: flag.default(true),
  /** HMAC-SHA256 key of tracked links and pixels; unset = no tracking. */
  TRACKING_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Which email provider sends: SMTP, or Postmark's HTTP API (with delivery, bounce and complaint receipts). */
  EMAIL_PROVIDER: z.enum(['smtp', 'postmark']).default('smtp'),
  POSTMARK_API_URL: url(['http:', 'https:']).default('https://api.postmarkapp.com'),
  POSTMARK_SERVER_TOKEN: z.string().min(1).optional(),
  POSTMARK_MESSAGE_STREAM: z.string().min(1).max(100).default('outbound'),
  /** The password of HTTP Basic auth Postmark's webhooks carry (set in the webhook URL at Postmark). */
  POSTMARK_WEBHOOK_PASSWORD: z.string().min(16, 'must be at least 16 characters').optional(),
});

export interface RedisClusterNode {
  host: string;
  port: number;
}

export interface ChannelWorkerConfig {
  concurrency: number;
  /** At most `max` jobs per `durationMs`; null = no limiter. */
  rateLimit: { max: number; durationMs: number } | null;
  attempts: number;
  backoffMs: number;
}

export interface ApiKeyConfig {
  name: string;
  /** Lower-case hex SHA-256 of the key. */
  sha256: string;
  /** What a service key may do; absent (a key configured without `[...]`): every scope, as before scopes existed. */
  scopes?: ApiScope[];
}

export interface ApiConfig {
  host: string;
  serviceKeys: ApiKeyConfig[];
  adminKeys: ApiKeyConfig[];
  /** How shopper JWTs are verified; null = no shopper access. */
  jwt: {
    secret?: string;
    jwksUrl?: string;
    issuer?: string;
    audience?: string;
    adminClaim?: { name: string; value: string };
  } | null;
  bodyLimitBytes: number;
  rateLimit: { perKey: number; perUser: number; windowMs: number; authFailuresPerAddress: number };
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  /** Fastify's trustProxy: whose X-Forwarded-For decides request.ip. */
  trustProxy: boolean | number | string[];
  temporalUiUrl: string;
  /** Where relative action links in /inbox/ point; null: the API's own origin. */
  shopUrl: string | null;
  /** Browser origins (the Temporal Web UI) allowed to call /codec/encode and /codec/decode. */
  codecCorsOrigins: string[];
  /** Longest life of a browser session (cookie `ns_session`). */
  sessionTtlMs: number;
  /** Shop origins allowed to call the shopper routes cross-origin, without credentials. */
  widgetOrigins: string[];
  /** `/api/dev/users` and `/api/dev/session` exist (npm run dev only). */
  devLogin: boolean;
}

export interface Config {
  temporal: {
    address: string;
    namespace: string;
    taskQueue: string;
    campaignTaskQueue: string;
    /** Payload codec keys (src/temporal/payload-codec.ts); null = payloads in clear. */
    payloadEncryption: PayloadEncryptionConfig | null;
    /** TLS, mTLS and API key of the connections (TEMPORAL_TLS*, TEMPORAL_API_KEY); absent = plain TCP. */
    security?: TemporalConnectionSecurity;
  };
  campaignMaxBacklog: number;
  campaignStageLeadMs: number;
  api: ApiConfig;
  databaseUrl: string;
  /** DATABASE_POOL_MAX; null: derived from the process's parts (src/db/pool-size.ts). */
  databasePoolMax: number | null;
  redisUrl: string;
  /** REDIS_CLUSTER_NODES: seeds of a Redis Cluster, or null for the single instance at redisUrl. */
  redisClusterNodes: RedisClusterNode[] | null;
  smtpUrl: string;
  emailFrom: string;
  port: number;
  queuePrefix: string;
  /** REDIS_KEY_LAYOUT: how keys spread over a Redis Cluster's slots (src/delivery/queue-keys.ts). */
  redisKeyLayout: RedisKeyLayout;
  deliveryChannels: Channel[];
  deliveryDeadlineMs: number;
  paymentReminderDelayMs: number;
  /** LOW_STOCK_DIGEST_WINDOW_MS and FREQUENCY_CAPS (docs/digests-and-caps.md). */
  digests: { lowStockWindowMs: number; frequencyCaps: FrequencyCap[] };
  /** Order journeys: on/off, their task queue and the shop's settings (activities/order-journey-step.ts). */
  orderJourney: OrderJourneyConfig;
  infraRetryHorizonMs: number;
  sendRecordStaleMs: number;
  sendLockDurationMs: number;
  smtpTimeoutMs: number;
  httpProviderTimeoutMs: number;
  /** Which recipient-supplied URLs workers call and the API accepts (src/domain/outbound-url.ts). */
  outbound: { webhook: OutboundPolicy; push: OutboundPolicy };
  /** null: no metrics endpoint. */
  metricsPort: number | null;
  /** Send jobs: backoff after infrastructure errors, finished jobs kept per queue (docs/contracts.md, "BullMQ"). */
  sendJobs: { infraRetryMaxBackoffMs: number; keepCompleted: number; keepFailed: number };
  /** API backpressure: publishing answers 429 at this used_memory / maxmemory of Redis; 0 = off. */
  redisBackpressureRatio: number;
  workflowBundlePath?: string;
  /** The shop emails come from (SHOP_NAME, SHOP_ADDRESS, SHOP_URL, PREFERENCES_URL). */
  shop: ShopSettings;
  channels: Record<Channel, ChannelWorkerConfig>;
  /** The API's public origin (PUBLIC_URL), without a trailing slash. */
  publicUrl: string;
  /** Signed List-Unsubscribe links of marketing emails (src/consent/unsubscribe-token.ts); null: UNSUBSCRIBE_SECRET unset. */
  unsubscribe: UnsubscribeSettings | null;
  /** Click and open tracking (src/tracking/); null: TRACKING=off or TRACKING_SECRET unset. */
  tracking: TrackingSettings | null;
  /** TRACKING_SECRET: the redirect and the pixel verify with it even while TRACKING=off (links already sent keep working). */
  trackingSecret: string | null;
  /** The email provider (EMAIL_PROVIDER); postmark's settings are in providers.postmark. */
  emailProvider: 'smtp' | 'postmark';
  /** Provider settings; a channel whose provider is not configured has no worker. */
  providers: {
    twilio: { baseUrl: string; accountSid: string; authToken: string; from: string } | null;
    webPush: { subject: string; publicKey: string; privateKey: string } | null;
    webhook: { secret: string; defaultUrl?: string } | null;
    postmark: PostmarkConfig | null;
  };
}

export interface PostmarkConfig {
  apiUrl: string;
  serverToken: string;
  messageStream: string;
  webhookPassword: string;
}

const CHANNEL_DEFAULTS: Record<Channel, ChannelWorkerConfig> = {
  in_app: { concurrency: 20, rateLimit: null, attempts: 5, backoffMs: 500 },
  email: { concurrency: 5, rateLimit: { max: 50, durationMs: 1000 }, attempts: 6, backoffMs: 2000 },
  sms: { concurrency: 5, rateLimit: { max: 10, durationMs: 1000 }, attempts: 6, backoffMs: 2000 },
  push: { concurrency: 10, rateLimit: { max: 100, durationMs: 1000 }, attempts: 6, backoffMs: 1000 },
  webhook: { concurrency: 10, rateLimit: { max: 20, durationMs: 1000 }, attempts: 8, backoffMs: 2000 },
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Per-channel overrides: SEND_<CHANNEL>_CONCURRENCY, _RATE_MAX, _RATE_DURATION_MS (0 disables the limiter), _ATTEMPTS, _BACKOFF_MS. */
function channelConfig(env: NodeJS.ProcessEnv, channel: Channel): ChannelWorkerConfig {
  const prefix = `SEND_${channel.toUpperCase()}_`;
  const defaults = CHANNEL_DEFAULTS[channel];
  const schema = z.object({
    CONCURRENCY: intFrom(1, 1000).default(defaults.concurrency),
    RATE_MAX: intFrom(0, 1_000_000).default(defaults.rateLimit?.max ?? 0),
    RATE_DURATION_MS: intFrom(0, 3_600_000).default(defaults.rateLimit?.durationMs ?? 0),
    ATTEMPTS: intFrom(1, 100).default(defaults.attempts),
    BACKOFF_MS: intFrom(0, 3_600_000).default(defaults.backoffMs),
  });
  const raw: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) raw[key] = emptyToUndefined(env[prefix + key]);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw configError(parsed.error, prefix);
  const c = parsed.data;
  return {
    concurrency: c.CONCURRENCY,
    rateLimit:
      c.RATE_MAX > 0 && c.RATE_DURATION_MS > 0 ? { max: c.RATE_MAX, durationMs: c.RATE_DURATION_MS } : null,
    attempts: c.ATTEMPTS,
    backoffMs: c.BACKOFF_MS,
  };
}

function emptyToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function configError(error: z.ZodError, prefix = ''): ConfigError {
  const issue = error.issues[0];
  const name = prefix + issue.path.map(String).join('.');
  return new ConfigError(`invalid configuration: ${name}: ${issue.message}`);
}

type Env = z.infer<typeof envSchema>;

/** Validates env into Config; throws ConfigError with one line naming the bad variable. */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  options: { allowDevCredentials?: boolean } = {},
): Config {
  const e = parseEnv(env);
  const channels = Object.fromEntries(CHANNELS.map((c) => [c, channelConfig(env, c)])) as Record<
    Channel,
    ChannelWorkerConfig
  >;
  checkJwtSettings(e);
  checkTimeouts(e);
  checkRedisTarget(e);
  checkDevCredentials(env, e, options.allowDevCredentials ?? false);
  return {
    temporal: temporalConfig(e, env),
    campaignMaxBacklog: e.CAMPAIGN_MAX_BACKLOG,
    campaignStageLeadMs: e.CAMPAIGN_STAGE_LEAD_MS,
    api: apiConfig(e),
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX ?? null,
    redisUrl: e.REDIS_URL,
    redisClusterNodes: e.REDIS_CLUSTER_NODES ?? null,
    smtpUrl: e.SMTP_URL,
    emailFrom: e.EMAIL_FROM,
    port: e.PORT,
    queuePrefix: e.QUEUE_PREFIX,
    redisKeyLayout: e.REDIS_KEY_LAYOUT,
    deliveryChannels: e.DELIVERY_CHANNELS,
    deliveryDeadlineMs: e.DELIVERY_DEADLINE_MS,
    paymentReminderDelayMs: e.PAYMENT_REMINDER_DELAY_MS,
    digests: {
      lowStockWindowMs: e.LOW_STOCK_DIGEST_WINDOW_MS,
      frequencyCaps: parseFrequencyCaps(e.FREQUENCY_CAPS),
    },
    orderJourney: orderJourneyOf(e),
    infraRetryHorizonMs: e.INFRA_RETRY_HORIZON_MS,
    sendRecordStaleMs: e.SEND_RECORD_STALE_MS,
    sendLockDurationMs: e.SEND_LOCK_DURATION_MS,
    smtpTimeoutMs: e.SMTP_TIMEOUT_MS,
    httpProviderTimeoutMs: e.HTTP_PROVIDER_TIMEOUT_MS,
    outbound: outboundConfig(e),
    metricsPort: e.METRICS_PORT ?? null,
    sendJobs: {
      infraRetryMaxBackoffMs: e.INFRA_RETRY_MAX_BACKOFF_MS,
      keepCompleted: e.SEND_KEEP_COMPLETED_JOBS,
      keepFailed: e.SEND_KEEP_FAILED_JOBS,
    },
    redisBackpressureRatio: e.REDIS_BACKPRESSURE_RATIO,
    workflowBundlePath: e.WORKFLOW_BUNDLE_PATH,
    shop: {
      name: e.SHOP_NAME,
      address: e.SHOP_ADDRESS,
      url: e.SHOP_URL ?? null,
      preferencesUrl: e.PREFERENCES_URL,
    },
    channels,
    publicUrl: publicUrlOf(e),
    unsubscribe: e.UNSUBSCRIBE_SECRET
      ? {
          secret: e.UNSUBSCRIBE_SECRET,
          publicUrl: publicUrlOf(e),
          ttlMs: e.UNSUBSCRIBE_TOKEN_TTL_DAYS * 86_400_000,
        }
      : null,
    tracking:
      e.TRACKING === 'on' && e.TRACKING_SECRET
        ? { secret: e.TRACKING_SECRET, publicUrl: publicUrlOf(e), opens: e.TRACK_OPENS }
        : null,
    trackingSecret: e.TRACKING_SECRET ?? null,
    emailProvider: e.EMAIL_PROVIDER,
    providers: providersConfig(e),
  };
}

const publicUrlOf = (e: Env) => (e.PUBLIC_URL ?? `http://127.0.0.1:${e.PORT}`).replace(/\/+$/, '');

/** The variables of envSchema, an empty value counting as unset. */
function parseEnv(env: NodeJS.ProcessEnv): Env {
  const raw: Record<string, string | undefined> = {};
  for (const key of Object.keys(envSchema.shape)) raw[key] = emptyToUndefined(env[key]);
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) throw configError(parsed.error);
  return parsed.data;
}

function checkJwtSettings(e: Env): void {
  if (e.JWT_SECRET && e.JWT_JWKS_URL)
    throw new ConfigError('invalid configuration: JWT_SECRET, JWT_JWKS_URL: set one of the two, not both');
  // Keys from a JWKS are often an identity provider's for every app it serves: only iss + aud make a token ours.
  if (e.JWT_JWKS_URL && !(e.JWT_ISSUER && e.JWT_AUDIENCE))
    throw new ConfigError('invalid configuration: JWT_ISSUER, JWT_AUDIENCE: required with JWT_JWKS_URL');
  if (e.JWT_ADMIN_CLAIM && !(e.JWT_ISSUER && e.JWT_AUDIENCE))
    throw new ConfigError(
      'invalid configuration: JWT_ISSUER, JWT_AUDIENCE: required with JWT_ADMIN_CLAIM (admin rights only from a known issuer for this audience)',
    );
}

/**
 * One Redis target: a cluster's seeds leave no room for a REDIS_URL that names another instance. On a
 * cluster QUEUE_PREFIX must open with a hash tag: the keys under it (sessions read with MGET, erasure's
 * DEL) must share one slot.
 */
function checkRedisTarget(e: Env): void {
  if (!e.REDIS_CLUSTER_NODES) return;
  if (e.REDIS_URL !== DEFAULT_REDIS_URL)
    throw new ConfigError(
      'invalid configuration: REDIS_CLUSTER_NODES, REDIS_URL: set one of the two, not both (REDIS_CLUSTER_NODES opens a Redis Cluster)',
    );
  if (!/^\{[^{}]+\}/.test(e.QUEUE_PREFIX))
    throw new ConfigError(
      'invalid configuration: QUEUE_PREFIX: must start with a hash tag such as {notifications} when REDIS_CLUSTER_NODES is set',
    );
}

function checkTimeouts(e: Env): void {
  if (e.API_HEADERS_TIMEOUT_MS > e.API_REQUEST_TIMEOUT_MS)
    throw new ConfigError(
      'invalid configuration: API_HEADERS_TIMEOUT_MS: must not exceed API_REQUEST_TIMEOUT_MS',
    );
  const providerTimeoutMs = Math.max(e.SMTP_TIMEOUT_MS, e.HTTP_PROVIDER_TIMEOUT_MS);
  if (e.SEND_RECORD_STALE_MS <= providerTimeoutMs) {
    // A claim must outlive the slowest provider call, or a worker still waiting for an answer is taken over and the message sent twice.
    throw new ConfigError(
      `invalid configuration: SEND_RECORD_STALE_MS: must exceed the longest provider timeout (${providerTimeoutMs} ms: SMTP_TIMEOUT_MS, HTTP_PROVIDER_TIMEOUT_MS)`,
    );
  }
}

/** Placeholder secrets and the demo sign-in: only `npm run dev` (allowDevCredentials) may use them. */
function checkDevCredentials(env: NodeJS.ProcessEnv, e: Env, allowDevCredentials: boolean): void {
  const placeholders = placeholderSecrets(env, [...e.API_KEYS, ...e.ADMIN_API_KEYS], allowDevCredentials);
  if (placeholders.length)
    throw new ConfigError(
      `invalid configuration: ${placeholders.join(', ')}: a known placeholder secret; set your own (e.g. openssl rand -hex 32)`,
    );
  // Anyone who reaches the API could sign in as a demo user: development only.
  if (e.DEV_LOGIN && !allowDevCredentials)
    throw new ConfigError(
      'invalid configuration: DEV_LOGIN: signs anyone in as a demo user; only `npm run dev` may turn it on',
    );
}

function temporalConfig(e: Env, env: NodeJS.ProcessEnv): Config['temporal'] {
  let security: TemporalConnectionSecurity;
  try {
    security = temporalConnectionSecurityFrom(env);
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`, { cause: err });
  }
  return {
    security,
    address: e.TEMPORAL_ADDRESS,
    namespace: e.TEMPORAL_NAMESPACE,
    taskQueue: e.TEMPORAL_TASK_QUEUE,
    campaignTaskQueue: e.TEMPORAL_CAMPAIGN_TASK_QUEUE ?? `${e.TEMPORAL_TASK_QUEUE}-campaigns`,
    payloadEncryption: payloadEncryption(e.PAYLOAD_ENCRYPTION_KEYS, e.PAYLOAD_ENCRYPTION_KEY_ID),
  };
}

function apiConfig(e: Env): ApiConfig {
  return {
    host: e.API_HOST,
    serviceKeys: e.API_KEYS,
    adminKeys: e.ADMIN_API_KEYS,
    jwt: jwtConfig(e),
    bodyLimitBytes: e.API_BODY_LIMIT_BYTES,
    rateLimit: {
      perKey: e.API_RATE_LIMIT_PER_KEY,
      perUser: e.API_RATE_LIMIT_PER_USER,
      windowMs: e.API_RATE_LIMIT_WINDOW_MS,
      authFailuresPerAddress: e.API_AUTH_FAILURES_PER_ADDRESS,
    },
    requestTimeoutMs: e.API_REQUEST_TIMEOUT_MS,
    headersTimeoutMs: e.API_HEADERS_TIMEOUT_MS,
    trustProxy: e.TRUST_PROXY,
    temporalUiUrl: e.TEMPORAL_UI_URL.replace(/\/+$/, ''),
    shopUrl: e.SHOP_URL ?? null,
    codecCorsOrigins: codecCorsOrigins(e.CODEC_CORS_ORIGINS, e.TEMPORAL_UI_URL),
    sessionTtlMs: e.SESSION_TTL_MS,
    widgetOrigins: e.WIDGET_ORIGINS === undefined ? [] : originList('WIDGET_ORIGINS', e.WIDGET_ORIGINS),
    devLogin: e.DEV_LOGIN,
  };
}

/** Shopper JWTs: a secret or a JWKS; null when neither is set. */
function jwtConfig(e: Env): ApiConfig['jwt'] {
  if (!(e.JWT_SECRET || e.JWT_JWKS_URL)) return null;
  return {
    secret: e.JWT_SECRET,
    jwksUrl: e.JWT_JWKS_URL,
    issuer: e.JWT_ISSUER,
    audience: e.JWT_AUDIENCE,
    adminClaim: adminClaim(e.JWT_ADMIN_CLAIM),
  };
}

function outboundConfig(e: Env): Config['outbound'] {
  return {
    webhook: {
      allowHttp: e.OUTBOUND_ALLOW_HTTP,
      allowedCidrs: e.OUTBOUND_ALLOWED_CIDRS,
      allowedHosts: null,
    },
    push: {
      allowHttp: e.OUTBOUND_ALLOW_HTTP,
      allowedCidrs: e.OUTBOUND_ALLOWED_CIDRS,
      allowedHosts: e.PUSH_ALLOWED_HOSTS.includes('*') ? null : e.PUSH_ALLOWED_HOSTS,
    },
  };
}

function providersConfig(e: Env): Config['providers'] {
  return {
    twilio: allOrNone({
      TWILIO_ACCOUNT_SID: e.TWILIO_ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: e.TWILIO_AUTH_TOKEN,
      TWILIO_FROM: e.TWILIO_FROM,
    })
      ? {
          baseUrl: e.TWILIO_BASE_URL,
          accountSid: e.TWILIO_ACCOUNT_SID!,
          authToken: e.TWILIO_AUTH_TOKEN!,
          from: e.TWILIO_FROM!,
        }
      : null,
    webPush: allOrNone({ VAPID_PUBLIC_KEY: e.VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY: e.VAPID_PRIVATE_KEY })
      ? { subject: e.VAPID_SUBJECT, publicKey: e.VAPID_PUBLIC_KEY!, privateKey: e.VAPID_PRIVATE_KEY! }
      : null,
    webhook: e.WEBHOOK_SECRET ? { secret: e.WEBHOOK_SECRET, defaultUrl: e.WEBHOOK_DEFAULT_URL } : null,
    postmark: postmarkConfig(e),
  };
}

/** Postmark's settings when EMAIL_PROVIDER=postmark; its token and the webhooks' password are then required. */
function postmarkConfig(e: Env): PostmarkConfig | null {
  if (e.EMAIL_PROVIDER !== 'postmark') return null;
  for (const name of ['POSTMARK_SERVER_TOKEN', 'POSTMARK_WEBHOOK_PASSWORD'] as const)
    if (!e[name])
      throw new ConfigError(`invalid configuration: ${name}: required with EMAIL_PROVIDER=postmark`);
  return {
    apiUrl: e.POSTMARK_API_URL.replace(/\/+$/, ''),
    serverToken: e.POSTMARK_SERVER_TOKEN!,
    messageStream: e.POSTMARK_MESSAGE_STREAM,
    webhookPassword: e.POSTMARK_WEBHOOK_PASSWORD!,
  };
}

function adminClaim(value: string | undefined): { name: string; value: string } | undefined {
  if (!value) return undefined;
  const [name, claimValue] = value.split('=');
  return { name, value: claimValue };
}

/** PAYLOAD_ENCRYPTION_KEYS + PAYLOAD_ENCRYPTION_KEY_ID -> the codec's keys; errors name the variable, never key material. */
function payloadEncryption(
  keys: string | undefined,
  currentKeyId: string | undefined,
): PayloadEncryptionConfig | null {
  if (keys === undefined) {
    if (currentKeyId !== undefined)
      throw new ConfigError(
        'invalid configuration: PAYLOAD_ENCRYPTION_KEY_ID: set without PAYLOAD_ENCRYPTION_KEYS',
      );
    return null;
  }
  const parsed = parseEncryptionKeys(keys);
  if ('error' in parsed)
    throw new ConfigError(`invalid configuration: PAYLOAD_ENCRYPTION_KEYS: ${parsed.error}`);
  const ids = Object.keys(parsed.keys);
  if (currentKeyId === undefined) {
    if (ids.length > 1)
      throw new ConfigError(
        'invalid configuration: PAYLOAD_ENCRYPTION_KEY_ID: required with more than one key (which one encrypts?)',
      );
    return { currentKeyId: ids[0], keys: parsed.keys };
  }
  if (!ids.includes(currentKeyId))
    throw new ConfigError(
      `invalid configuration: PAYLOAD_ENCRYPTION_KEY_ID: "${currentKeyId}" is not a key id of PAYLOAD_ENCRYPTION_KEYS`,
    );
  return { currentKeyId, keys: parsed.keys };
}

/** CODEC_CORS_ORIGINS (comma list of origins) or the origin of the Web UI. */
function codecCorsOrigins(list: string | undefined, temporalUiUrl: string): string[] {
  return list === undefined ? [new URL(temporalUiUrl).origin] : originList('CODEC_CORS_ORIGINS', list);
}

/** A comma list of browser origins (http(s)://host[:port], nothing more), as the Origin header spells them. */
function originList(name: string, list: string): string[] {
  const origins: string[] = [];
  for (const entry of list
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    let origin: string;
    try {
      origin = new URL(entry).origin;
    } catch {
      origin = 'null';
    }
    if (origin === 'null' || !/^https?:/.test(origin) || origin !== entry.replace(/\/+$/, '')) {
      throw new ConfigError(
        `invalid configuration: ${name}: "${entry.slice(0, 100)}" is not an origin (scheme://host[:port])`,
      );
    }
    origins.push(origin);
  }
  return origins;
}

/** True when every named setting is present, false when none is; half a provider config is an error. */
function allOrNone(settings: Record<string, string | undefined>): boolean {
  const names = Object.keys(settings);
  const present = names.filter((name) => settings[name] !== undefined).length;
  if (present === 0) return false;
  if (present < names.length)
    throw new ConfigError(`invalid configuration: ${names.join(', ')} must be set together`);
  return true;
}

/** ORDER_JOURNEYS, ORDER_SHIP_PROMISE_HOURS, ORDER_FOLD_WINDOW_MS, ORDER_JOURNEY_IDLE_DAYS (docs/order-journeys.md). */
function orderJourneyOf(e: Env): OrderJourneyConfig {
  return {
    enabled: e.ORDER_JOURNEYS,
    taskQueue: e.TEMPORAL_TASK_QUEUE,
    shipPromiseHours: e.ORDER_SHIP_PROMISE_HOURS,
    foldWindowMs: e.ORDER_FOLD_WINDOW_MS,
    idleDays: e.ORDER_JOURNEY_IDLE_DAYS,
  };
}

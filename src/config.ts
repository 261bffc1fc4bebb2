import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CHANNELS, type Channel } from './domain/channels';

/** Reads the environment once, at start-up, into a typed config; nothing below the entry points reads process.env. */
const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const url = (protocols: string[]) =>
  z.string().refine((value) => {
    try {
      return protocols.includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, `must be a URL with scheme ${protocols.map((p) => p.replace(':', '')).join(' or ')}`);

const channelList = z
  .string()
  .transform((value) => value.split(',').map((part) => part.trim()).filter(Boolean))
  .pipe(z.array(z.enum(CHANNELS)).min(1));

/** `name:key` (plain, at least 16 chars, hashed here) or `name:<64 hex>` (the key's SHA-256); keys never stay in memory in clear. */
const apiKeyList = z.string().transform((value, ctx) => {
  const keys: ApiKeyConfig[] = [];
  for (const [i, entry] of value.split(',').map((part) => part.trim()).filter(Boolean).entries()) {
    const m = /^([A-Za-z0-9_.-]{1,64}):(.+)$/.exec(entry);
    if (!m || (!/^[0-9a-fA-F]{64}$/.test(m[2]) && m[2].length < 16)) {
      ctx.addIssue({ code: 'custom', message: `entry ${i + 1} must be name:key (key at least 16 chars) or name:<sha256 hex>` });
      return z.NEVER;
    }
    if (keys.some((k) => k.name === m[1])) {
      ctx.addIssue({ code: 'custom', message: `key name "${m[1]}" appears twice` });
      return z.NEVER;
    }
    const sha256 = /^[0-9a-fA-F]{64}$/.test(m[2]) ? m[2].toLowerCase() : createHash('sha256').update(m[2]).digest('hex');
    keys.push({ name: m[1], sha256 });
  }
  return keys;
});

const envSchema = z.object({
  TEMPORAL_ADDRESS: z.string().regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port').default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('notifications'),
  /** Campaign workflows and their bulk activities; default `<TEMPORAL_TASK_QUEUE>-campaigns`. */
  TEMPORAL_CAMPAIGN_TASK_QUEUE: z.string().min(1).optional(),
  /** Campaign fan-out pauses while a channel's queue holds more jobs than this. */
  CAMPAIGN_MAX_BACKLOG: intFrom(100, 10_000_000).default(5000),
  DATABASE_URL: url(['postgres:', 'postgresql:']).default('postgres://postgres@127.0.0.1:5432/notifications'),
  REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  SMTP_URL: url(['smtp:', 'smtps:']).default('smtp://127.0.0.1:1025'),
  PORT: intFrom(0, 65535).default(3000),
  QUEUE_PREFIX: z.string().min(1).default('{notifications}'),
  EMAIL_FROM: z.string().min(3).default('Shop Notifications <notifications@shop.local>'),
  /** Channels whose queues this process consumes (comma list); default all. */
  DELIVERY_CHANNELS: channelList.default([...CHANNELS]),
  /** How long the workflow waits for a channel outcome before it hands the job off again. */
  DELIVERY_DEADLINE_MS: intFrom(1000, 7 * 24 * 3600 * 1000).default(10 * 60 * 1000),
  PAYMENT_REMINDER_DELAY_MS: intFrom(0, 30 * 24 * 3600 * 1000).default(24 * 3600 * 1000),
  /** A send claimed longer ago than this belongs to a dead worker and may be taken over. */
  SEND_RECORD_STALE_MS: intFrom(1000, 24 * 3600 * 1000).default(60_000),
  /** A send job's lock; a job whose worker died runs again after about twice this. */
  SEND_LOCK_DURATION_MS: intFrom(500, 10 * 60 * 1000).default(30_000),
  /** Port of the Prometheus endpoint (GET /metrics) of a worker process; unset = none, 0 = any free port. */
  METRICS_PORT: intFrom(0, 65535).optional(),
  TWILIO_BASE_URL: url(['http:', 'https:']).default('https://api.twilio.com'),
  TWILIO_ACCOUNT_SID: z.string().min(1).optional(),
  TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
  TWILIO_FROM: z.string().min(1).optional(),
  VAPID_SUBJECT: z.string().regex(/^(mailto:|https:)/, 'must start with mailto: or https:').default('mailto:notifications@shop.local'),
  VAPID_PUBLIC_KEY: z.string().min(1).optional(),
  VAPID_PRIVATE_KEY: z.string().min(1).optional(),
  WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  WEBHOOK_DEFAULT_URL: url(['http:', 'https:']).optional(),
  /** A workflow bundle prebuilt by `npm run build:workflow-bundle`; default: bundle at worker start. */
  WORKFLOW_BUNDLE_PATH: z.string().min(1).optional(),
  /** HTTP API: service keys and admin keys, comma lists of `name:key` (hashed at load) or `name:<sha256 hex of the key>`. */
  API_KEYS: apiKeyList.default([]),
  ADMIN_API_KEYS: apiKeyList.default([]),
  /** Shopper JWTs: HS256 with JWT_SECRET, or keys from JWT_JWKS_URL (one of the two). */
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  JWT_JWKS_URL: url(['http:', 'https:']).optional(),
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).optional(),
  API_HOST: z.string().min(1).default('0.0.0.0'),
  API_BODY_LIMIT_BYTES: intFrom(1024, 64 * 1024 * 1024).default(1024 * 1024),
  /** Requests per API key / per user per window; 0 turns the limit off. */
  API_RATE_LIMIT_PER_KEY: intFrom(0, 1_000_000).default(1200),
  API_RATE_LIMIT_PER_USER: intFrom(0, 1_000_000).default(300),
  API_RATE_LIMIT_WINDOW_MS: intFrom(1000, 3_600_000).default(60_000),
  /** Temporal Web UI base URL, for the links in notification traces. */
  TEMPORAL_UI_URL: url(['http:', 'https:']).default('http://127.0.0.1:8233'),
});

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
}

export interface ApiConfig {
  host: string;
  serviceKeys: ApiKeyConfig[];
  adminKeys: ApiKeyConfig[];
  /** How shopper JWTs are verified; null = no shopper access. */
  jwt: { secret?: string; jwksUrl?: string; issuer?: string; audience?: string } | null;
  bodyLimitBytes: number;
  rateLimit: { perKey: number; perUser: number; windowMs: number };
  temporalUiUrl: string;
}

export interface Config {
  temporal: { address: string; namespace: string; taskQueue: string; campaignTaskQueue: string };
  campaignMaxBacklog: number;
  api: ApiConfig;
  databaseUrl: string;
  redisUrl: string;
  smtpUrl: string;
  emailFrom: string;
  port: number;
  queuePrefix: string;
  deliveryChannels: Channel[];
  deliveryDeadlineMs: number;
  paymentReminderDelayMs: number;
  sendRecordStaleMs: number;
  sendLockDurationMs: number;
  /** null: no metrics endpoint. */
  metricsPort: number | null;
  workflowBundlePath?: string;
  channels: Record<Channel, ChannelWorkerConfig>;
  /** Provider settings; a channel whose provider is not configured has no worker. */
  providers: {
    twilio: { baseUrl: string; accountSid: string; authToken: string; from: string } | null;
    webPush: { subject: string; publicKey: string; privateKey: string } | null;
    webhook: { secret: string; defaultUrl?: string } | null;
  };
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
    rateLimit: c.RATE_MAX > 0 && c.RATE_DURATION_MS > 0 ? { max: c.RATE_MAX, durationMs: c.RATE_DURATION_MS } : null,
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

/** Validates env into Config; throws ConfigError with one line naming the bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, string | undefined> = {};
  for (const key of Object.keys(envSchema.shape)) raw[key] = emptyToUndefined(env[key]);
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) throw configError(parsed.error);
  const e = parsed.data;
  const channels = Object.fromEntries(CHANNELS.map((c) => [c, channelConfig(env, c)])) as Record<Channel, ChannelWorkerConfig>;
  if (e.JWT_SECRET && e.JWT_JWKS_URL) throw new ConfigError('invalid configuration: JWT_SECRET, JWT_JWKS_URL: set one of the two, not both');
  return {
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      campaignTaskQueue: e.TEMPORAL_CAMPAIGN_TASK_QUEUE ?? `${e.TEMPORAL_TASK_QUEUE}-campaigns`,
    },
    campaignMaxBacklog: e.CAMPAIGN_MAX_BACKLOG,
    api: {
      host: e.API_HOST,
      serviceKeys: e.API_KEYS,
      adminKeys: e.ADMIN_API_KEYS,
      jwt:
        e.JWT_SECRET || e.JWT_JWKS_URL
          ? { secret: e.JWT_SECRET, jwksUrl: e.JWT_JWKS_URL, issuer: e.JWT_ISSUER, audience: e.JWT_AUDIENCE }
          : null,
      bodyLimitBytes: e.API_BODY_LIMIT_BYTES,
      rateLimit: { perKey: e.API_RATE_LIMIT_PER_KEY, perUser: e.API_RATE_LIMIT_PER_USER, windowMs: e.API_RATE_LIMIT_WINDOW_MS },
      temporalUiUrl: e.TEMPORAL_UI_URL.replace(/\/+$/, ''),
    },
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    smtpUrl: e.SMTP_URL,
    emailFrom: e.EMAIL_FROM,
    port: e.PORT,
    queuePrefix: e.QUEUE_PREFIX,
    deliveryChannels: e.DELIVERY_CHANNELS,
    deliveryDeadlineMs: e.DELIVERY_DEADLINE_MS,
    paymentReminderDelayMs: e.PAYMENT_REMINDER_DELAY_MS,
    sendRecordStaleMs: e.SEND_RECORD_STALE_MS,
    sendLockDurationMs: e.SEND_LOCK_DURATION_MS,
    metricsPort: e.METRICS_PORT ?? null,
    workflowBundlePath: e.WORKFLOW_BUNDLE_PATH,
    channels,
    providers: {
      twilio: allOrNone({ TWILIO_ACCOUNT_SID: e.TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN: e.TWILIO_AUTH_TOKEN, TWILIO_FROM: e.TWILIO_FROM })
        ? { baseUrl: e.TWILIO_BASE_URL, accountSid: e.TWILIO_ACCOUNT_SID!, authToken: e.TWILIO_AUTH_TOKEN!, from: e.TWILIO_FROM! }
        : null,
      webPush: allOrNone({ VAPID_PUBLIC_KEY: e.VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY: e.VAPID_PRIVATE_KEY })
        ? { subject: e.VAPID_SUBJECT, publicKey: e.VAPID_PUBLIC_KEY!, privateKey: e.VAPID_PRIVATE_KEY! }
        : null,
      webhook: e.WEBHOOK_SECRET ? { secret: e.WEBHOOK_SECRET, defaultUrl: e.WEBHOOK_DEFAULT_URL } : null,
    },
  };
}

/** True when every named setting is present, false when none is; half a provider config is an error. */
function allOrNone(settings: Record<string, string | undefined>): boolean {
  const names = Object.keys(settings);
  const present = names.filter((name) => settings[name] !== undefined).length;
  if (present === 0) return false;
  if (present < names.length) throw new ConfigError(`invalid configuration: ${names.join(', ')} must be set together`);
  return true;
}

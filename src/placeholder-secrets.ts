import { createHash } from 'node:crypto';
import { DEV_PAYLOAD_KEY } from './temporal/payload-codec';

/**
 * Credentials `npm run dev` uses when none are configured (src/api/dev-credentials.ts). Public, so
 * only `npm run dev` may start with them (loadConfig's allowDevCredentials).
 */
export const DEV_CREDENTIALS = {
  serviceKey: 'dev-service-key-not-secret',
  adminKey: 'dev-admin-key-not-secret',
  jwtSecret: 'dev-jwt-secret-not-for-production-use',
  unsubscribeSecret: 'dev-unsubscribe-secret-not-for-production-use',
  trackingSecret: 'dev-tracking-secret-not-for-production-use',
} as const;

/** Values published in this repository or in every tutorial: a deployment that keeps one is open to anyone. */
const KNOWN_PLACEHOLDERS = [
  'change-me-service-key-0001',
  'change-me-admin-key-0001',
  'change-me-jwt-secret-at-least-32-chars',
  'postgres',
  'temporal',
  'password',
  'secret',
  'changeme',
];
const PLACEHOLDER_PATTERN = /change[-_]?me|not[-_]?(a[-_])?secret|placeholder|replace[-_]?me/i;

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/**
 * The settings that hold a known placeholder as a secret (loadConfig refuses to start with any). API keys
 * arrive hashed, so they are compared by hash with the known values; the pattern catches plain ones.
 * `npm run dev` may use the dev credentials and any local data-store password.
 */
export function placeholderSecrets(
  env: NodeJS.ProcessEnv,
  apiKeys: { sha256: string }[],
  allowDevCredentials: boolean,
): string[] {
  const dev: string[] = allowDevCredentials ? Object.values(DEV_CREDENTIALS) : [];
  const known = [...KNOWN_PLACEHOLDERS, ...Object.values(DEV_CREDENTIALS)].filter(
    (value) => !dev.includes(value),
  );
  const isPlaceholder = (value: string) =>
    !dev.includes(value) && (known.includes(value.toLowerCase()) || PLACEHOLDER_PATTERN.test(value));
  const bad: string[] = [];
  for (const name of [
    'JWT_SECRET',
    'WEBHOOK_SECRET',
    'TWILIO_AUTH_TOKEN',
    'VAPID_PRIVATE_KEY',
    'UNSUBSCRIBE_SECRET',
    'TRACKING_SECRET',
    'POSTMARK_SERVER_TOKEN',
    'POSTMARK_WEBHOOK_PASSWORD',
  ]) {
    const value = env[name]?.trim();
    if (value && isPlaceholder(value)) bad.push(name);
  }
  for (const name of allowDevCredentials ? [] : ['DATABASE_URL', 'REDIS_URL', 'SMTP_URL']) {
    const password = urlPassword(env[name]);
    if (password && isPlaceholder(password)) bad.push(`${name} (password)`);
  }
  for (const name of ['API_KEYS', 'ADMIN_API_KEYS']) {
    const plain = (env[name] ?? '').split(',').map((entry) => entry.slice(entry.indexOf(':') + 1).trim());
    if (plain.some((key) => key && !dev.includes(key) && PLACEHOLDER_PATTERN.test(key))) bad.push(name);
  }
  // The dev payload key is published in this repository: payloads encrypted with it are readable by anyone.
  const payloadKeys = (env.PAYLOAD_ENCRYPTION_KEYS ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (
    !allowDevCredentials &&
    payloadKeys.some(
      (entry) =>
        entry.slice(entry.indexOf(':') + 1) === DEV_PAYLOAD_KEY ||
        PLACEHOLDER_PATTERN.test(entry.slice(0, entry.indexOf(':'))),
    )
  ) {
    bad.push('PAYLOAD_ENCRYPTION_KEYS');
  }
  const knownHashes = new Set(known.map(sha256));
  if (!bad.some((name) => name.endsWith('API_KEYS')) && apiKeys.some((key) => knownHashes.has(key.sha256)))
    bad.push('API_KEYS or ADMIN_API_KEYS');
  return bad;
}

function urlPassword(value: string | undefined): string {
  try {
    return value ? decodeURIComponent(new URL(value).password) : '';
  } catch {
    return '';
  }
}

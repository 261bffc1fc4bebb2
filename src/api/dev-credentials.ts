import { SignJWT } from 'jose';
import { DEV_CREDENTIALS } from '../placeholder-secrets';

/**
 * Credentials `npm run dev` uses when none are configured, printed at start so the curl walk-through
 * works out of the box. Every other process refuses to start with them (src/placeholder-secrets.ts).
 */
export { DEV_CREDENTIALS };

/** Issuer, audience and admin claim of the dev tokens: admin tokens need all three (docs/contracts.md). */
const DEV_JWT = {
  JWT_ISSUER: 'notifications-dev',
  JWT_AUDIENCE: 'notifications',
  JWT_ADMIN_CLAIM: 'roles=admin',
} as const;

/**
 * The environment with dev API credentials filled in where unset, and the dev sign-in (DEV_LOGIN) on
 * unless set; the API then listens on loopback only.
 */
export function withDevApiCredentials(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const configured = (name: string) => (env[name] ?? '').trim() !== '';
  return {
    ...env,
    ...(configured('API_HOST') ? {} : { API_HOST: '127.0.0.1' }),
    ...(configured('DEV_LOGIN') ? {} : { DEV_LOGIN: 'true' }),
    ...(configured('API_KEYS') ? {} : { API_KEYS: `dev:${DEV_CREDENTIALS.serviceKey}` }),
    ...(configured('ADMIN_API_KEYS') ? {} : { ADMIN_API_KEYS: `dev-admin:${DEV_CREDENTIALS.adminKey}` }),
    ...(configured('UNSUBSCRIBE_SECRET') ? {} : { UNSUBSCRIBE_SECRET: DEV_CREDENTIALS.unsubscribeSecret }),
    ...(configured('TRACKING_SECRET') ? {} : { TRACKING_SECRET: DEV_CREDENTIALS.trackingSecret }),
    ...(configured('JWT_SECRET') || configured('JWT_JWKS_URL')
      ? {}
      : { JWT_SECRET: DEV_CREDENTIALS.jwtSecret, ...DEV_JWT }),
  };
}

/** An HS256 token for a recipient, as a shop's auth service would issue it. */
export function signUserToken(
  secret: string,
  userId: string,
  options: {
    admin?: boolean;
    ttl?: string;
    issuer?: string;
    audience?: string;
    adminClaim?: { name: string; value: string };
  } = {},
): Promise<string> {
  const admin = options.adminClaim ?? { name: 'roles', value: 'admin' };
  let jwt = new SignJWT(options.admin ? { [admin.name]: [admin.value] } : {})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(options.ttl ?? '12h');
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}

/** What `npm run dev` prints about credentials: the dev ones ready to export, or a pointer when configured. */
export async function devCredentialLines(
  env: NodeJS.ProcessEnv,
  jwt: { secret?: string; issuer?: string; audience?: string } | null,
): Promise<string[]> {
  const lines: string[] = [];
  const unset = (name: string) => (env[name] ?? '').trim() === '';
  if (unset('API_KEYS') && unset('ADMIN_API_KEYS')) {
    lines.push(`  export API_KEY=${DEV_CREDENTIALS.serviceKey} ADMIN_KEY=${DEV_CREDENTIALS.adminKey}`);
  } else {
    lines.push('  API keys          from API_KEYS / ADMIN_API_KEYS');
  }
  if (jwt?.secret) {
    const token = await signUserToken(jwt.secret, 'u_42', { issuer: jwt.issuer, audience: jwt.audience });
    lines.push(
      `  export USER_TOKEN=${token}   # u_42, 12 h; more: node dist/src/bin/api.js token <userId>${unset('JWT_SECRET') ? ' (with JWT_SECRET=' + DEV_CREDENTIALS.jwtSecret + ')' : ''}`,
    );
  }
  return lines;
}

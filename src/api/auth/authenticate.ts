import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { RedisConnection } from '../../redis-connection';
import type { ApiScope } from '../../config';
import { ApiError, errorBody } from '../errors';
import type { ApiKeyVerifier } from './api-keys';
import { InvalidTokenError, type JwtVerifier, TokenKeysUnavailableError } from './jwt';
import type { Principal } from './principal';
import { checkCsrf, sessionCookieOf, type CsrfCheck, type SessionStore } from './sessions';

/**
 * What a route requires. `service`: an API key with the route's scope (admin keys have every scope).
 * `user`: a JWT (its subject is the recipient). `admin`: an admin key or a JWT with the admin claim.
 */
export type Access = 'service' | 'user' | 'admin';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    /** The session cookie this request was authenticated with; null for header or query credentials. */
    sessionId: string | null;
  }
  interface FastifyContextConfig {
    /** Also accept the JWT as `?access_token=` (EventSource cannot send headers). */
    tokenInQuery?: boolean;
  }
}

export const API_KEY_HEADER = 'x-api-key';

const CHALLENGES: Record<Access, string> = {
  service: 'ApiKey header="X-API-Key"',
  user: 'Bearer',
  // Basic alone: browsers (the queue dashboard) only prompt for a challenge they can parse; Bearer works too.
  admin: 'Basic realm="notifications admin", charset="UTF-8"',
};

const NEEDS: Record<Access, string> = {
  service: 'an API key (X-API-Key header)',
  user: 'a user token (Authorization: Bearer <jwt>)',
  admin: 'an admin API key or a token with the admin role',
};

/** What POST /api/session takes: an admin key or a token (docs/contracts.md, "Browser surfaces"). */
export type SessionCredential = { adminKey: string } | { token: string };

/**
 * Credentials, in order: `X-API-Key: <key>`; `Authorization: Bearer <jwt>`; `Authorization: Basic`
 * with an API key as password (so a browser can open /admin/queues); `?access_token=<jwt>` on routes
 * that allow it; the browser session cookie (unsafe methods with its CSRF token). Invalid credentials
 * are 401; valid ones of the wrong kind are 403.
 */
export class Authenticator {
  constructor(
    private readonly keys: ApiKeyVerifier,
    private readonly jwt: JwtVerifier | null,
    private readonly failures: AuthFailureLimiter,
    readonly sessions: SessionStore,
  ) {}

  /**
   * An onRequest hook that sets request.principal or answers 401/403 itself (not by throwing: plugins
   * with their own error handler, like the queue dashboard, must still answer with our body and challenge).
   * Invalid credentials count against the caller's address (AuthFailureLimiter).
   */
  guard(access: 'service', scope: ApiScope): onRequestAsyncHookHandler;
  guard(access: Exclude<Access, 'service'>, options?: { csrf: CsrfCheck }): onRequestAsyncHookHandler;
  guard(access: Access, scopeOrOptions?: ApiScope | { csrf: CsrfCheck }): onRequestAsyncHookHandler {
    const scope = typeof scopeOrOptions === 'string' ? scopeOrOptions : undefined;
    const csrf = typeof scopeOrOptions === 'object' ? scopeOrOptions.csrf : 'token';
    return async (request: FastifyRequest, reply: FastifyReply) => {
      try {
        const principal = await this.counted(request, () => this.principalOf(request, access, csrf));
        if (!principal)
          throw new ApiError(
            401,
            `missing credentials: this route needs ${NEEDS[access]}`,
            undefined,
            undefined,
            { 'www-authenticate': CHALLENGES[access] },
          );
        request.principal = principal;
        if (!allows(access, principal))
          throw new ApiError(403, `forbidden: this route needs ${NEEDS[access]}`);
        if (access === 'service' && principal.kind === 'key' && !principal.scopes.includes(scope!)) {
          throw new ApiError(
            403,
            `forbidden: API key "${principal.name}" lacks the scope "${scope}" this route needs`,
          );
        }
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        // The pages' own calls (docs/contracts.md): no challenge, so the browser shows no login prompt.
        const headers =
          request.headers['x-requested-with'] === 'fetch' ? withoutChallenge(err.headers) : err.headers;
        return reply.code(err.statusCode).headers(headers).send(errorBody(err.statusCode, err.message));
      }
    };
  }

  /**
   * The principal of a credential sent in a body (POST /api/session), checked like one in a header: a
   * blocked address gets 429, and an invalid credential is a 401 that counts against the address.
   */
  async verifyCredential(request: FastifyRequest, credential: SessionCredential): Promise<Principal> {
    const blocked = await this.blockedAnswer(request.ip);
    if (blocked) throw blocked;
    const unauthorized = (message: string) => new ApiError(401, message);
    return this.counted(request, async () =>
      'adminKey' in credential
        ? this.keyPrincipal(credential.adminKey, unauthorized)
        : this.userPrincipal(credential.token, unauthorized),
    );
  }

  /** Runs an authentication step; a 401 it throws counts against the caller's address. */
  private async counted<T>(request: FastifyRequest, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (err) {
      if (err instanceof ApiError && err.statusCode === 401) await this.failures.record(request.ip);
      throw err;
    }
  }

  /**
   * A global onRequest hook, before any other work (no key hashing, no JWKS fetch, no database): an
   * address over its failed-authentication budget gets 429 with Retry-After.
   */
  readonly refuseBlockedAddresses: onRequestAsyncHookHandler = async (request, reply) => {
    if (!hasCredentials(request)) return;
    const blocked = await this.blockedAnswer(request.ip);
    if (blocked) return reply.code(429).headers(blocked.headers).send(errorBody(429, blocked.message));
  };

  private async blockedAnswer(ip: string): Promise<ApiError | null> {
    const waitMs = await this.failures.blockedFor(ip);
    if (waitMs <= 0) return null;
    const seconds = Math.ceil(waitMs / 1000);
    return new ApiError(
      429,
      `too many failed authentications from this address, retry in ${seconds} s`,
      undefined,
      undefined,
      { 'retry-after': String(seconds) },
    );
  }

  private async principalOf(
    request: FastifyRequest,
    access: Access,
    csrf: CsrfCheck,
  ): Promise<Principal | null> {
    const unauthorized = (message: string) =>
      new ApiError(401, message, undefined, undefined, { 'www-authenticate': CHALLENGES[access] });
    const apiKey = request.headers[API_KEY_HEADER];
    if (typeof apiKey === 'string') return this.keyPrincipal(apiKey, unauthorized);

    const authorization = request.headers.authorization;
    if (authorization) {
      const [scheme, value = ''] = authorization.split(/\s+/, 2);
      if (/^bearer$/i.test(scheme)) return this.userPrincipal(value, unauthorized);
      if (/^basic$/i.test(scheme)) {
        const decoded = Buffer.from(value, 'base64').toString('utf8');
        return this.keyPrincipal(decoded.slice(decoded.indexOf(':') + 1), unauthorized);
      }
      throw unauthorized(`unsupported authorization scheme "${scheme.slice(0, 20)}"`);
    }

    const query = request.query as Record<string, unknown> | undefined;
    if (request.routeOptions.config.tokenInQuery && typeof query?.access_token === 'string') {
      return this.userPrincipal(query.access_token, unauthorized);
    }

    const cookie = sessionCookieOf(request);
    if (cookie !== undefined) {
      const session = await this.sessions.find(cookie);
      if (!session) throw unauthorized('no session (signed out or expired)');
      checkCsrf(request, session, csrf);
      request.sessionId = cookie;
      return session.principal;
    }
    return null;
  }

  private keyPrincipal(presented: string, unauthorized: (m: string) => ApiError): Principal {
    const key = presented ? this.keys.verify(presented) : null;
    if (!key) throw unauthorized('invalid API key');
    return { kind: 'key', name: key.name, admin: key.admin, scopes: key.scopes };
  }

  private async userPrincipal(token: string, unauthorized: (m: string) => ApiError): Promise<Principal> {
    if (!this.jwt)
      throw unauthorized('bearer tokens are not accepted: no JWT_SECRET or JWT_JWKS_URL configured');
    try {
      const verified = await this.jwt.verify(token);
      return { kind: 'user', userId: verified.subject, admin: verified.admin, expiresAt: verified.expiresAt };
    } catch (err) {
      if (err instanceof InvalidTokenError) throw unauthorized(`invalid token: ${err.message}`);
      if (err instanceof TokenKeysUnavailableError)
        throw new ApiError(503, 'token keys unavailable, try again later');
      throw err;
    }
  }
}

function withoutChallenge(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'www-authenticate'));
}

function hasCredentials(request: FastifyRequest): boolean {
  return (
    API_KEY_HEADER in request.headers ||
    'authorization' in request.headers ||
    /[?&]access_token=/.test(request.url) ||
    sessionCookieOf(request) !== undefined
  );
}

/**
 * Failed authentications per client address (request.ip: see TRUST_PROXY), a fixed window per address,
 * counted in Redis so every API process shares them. Fails open when Redis does not answer, like the
 * request rate limit.
 */
export class AuthFailureLimiter {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  /** Milliseconds until the address may try again; 0 when it may now. */
  async blockedFor(ip: string): Promise<number> {
    if (this.max === 0) return 0;
    try {
      const [[, count], [, ttl]] = (await this.redis.multi().get(this.key(ip)).pttl(this.key(ip)).exec()) as [
        [null, string | null],
        [null, number],
      ];
      return Number(count ?? 0) >= this.max ? Math.max(ttl, 1000) : 0;
    } catch {
      return 0;
    }
  }

  async record(ip: string): Promise<void> {
    if (this.max === 0) return;
    // The window starts with the first failure; set + incr in one transaction, so no key lives forever.
    await this.redis
      .multi()
      .set(this.key(ip), 0, 'PX', this.windowMs, 'NX')
      .incr(this.key(ip))
      .exec()
      .catch(() => undefined);
  }

  private key(ip: string): string {
    return `${this.prefix}:api-auth-failures:${ip}`;
  }
}

function allows(access: Access, principal: Principal): boolean {
  switch (access) {
    case 'service':
      return principal.kind === 'key';
    case 'user':
      return principal.kind === 'user';
    case 'admin':
      return principal.admin;
  }
}

/** The recipient id of a user request (guarded by `user`). */
export function userIdOf(request: FastifyRequest): string {
  const principal = request.principal;
  if (principal?.kind !== 'user') throw new ApiError(403, `forbidden: this route needs ${NEEDS.user}`);
  return principal.userId;
}

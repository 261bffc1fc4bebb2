import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RedisConnection } from '../../redis-connection';
import { ApiError } from '../errors';
import type { ApiKeyVerifier } from './api-keys';
import type { Principal } from './principal';

/** Browser sessions (docs/contracts.md, "Browser surfaces"): an opaque cookie naming a record in Redis. */
export const SESSION_COOKIE = 'ns_session';
export const CSRF_HEADER = 'x-csrf-token';

/** What a session holds: the principal it was opened with, its CSRF token and its end. */
export interface Session {
  principal: Principal;
  csrfToken: string;
  expiresAt: Date;
}

/** The stored form (JSON): a key by name only, its rights come from the configuration when used. */
interface StoredSession {
  principal: { kind: 'key'; name: string } | { kind: 'user'; userId: string; admin: boolean };
  csrfToken: string;
  expiresAt: string;
}

const UNAVAILABLE = 'browser sessions unavailable: Redis does not answer, try again later';

/**
 * Sessions in Redis under `<prefix>:api-session:<sha256 hex of the cookie>` (a leaked key list names no
 * usable cookie), expiring with the session. Redis errors fail closed: 503, never a session.
 */
export class SessionStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
    private readonly ttlMs: number,
    private readonly keys: ApiKeyVerifier,
  ) {}

  /** A new session for the principal; it ends after the TTL or at the token's exp, whichever is first. */
  async open(principal: Principal, now: Date): Promise<{ id: string; session: Session }> {
    const end = Math.min(
      now.getTime() + this.ttlMs,
      principal.kind === 'user' ? principal.expiresAt.getTime() : Infinity,
    );
    const ttlMs = Math.max(1, end - now.getTime());
    const expiresAt = new Date(now.getTime() + ttlMs);
    // A user session's principal ends with the session: the SSE stream closes at principal.expiresAt.
    const session: Session = {
      principal: principal.kind === 'user' ? { ...principal, expiresAt } : principal,
      csrfToken: randomBytes(32).toString('base64url'),
      expiresAt,
    };
    const id = randomBytes(32).toString('base64url');
    const stored: StoredSession = {
      principal:
        principal.kind === 'key'
          ? { kind: 'key', name: principal.name }
          : { kind: 'user', userId: principal.userId, admin: principal.admin },
      csrfToken: session.csrfToken,
      expiresAt: expiresAt.toISOString(),
    };
    await this.call(() => this.redis.set(this.key(id), JSON.stringify(stored), 'PX', ttlMs));
    return { id, session };
  }

  /**
   * The live session named by a cookie value, or null. A key session takes the key's current rights
   * from the configuration: removing the admin key ends its sessions.
   */
  async find(id: string): Promise<Session | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return null;
    const raw = await this.call(() => this.redis.get(this.key(id)));
    if (raw === null) return null;
    const stored = JSON.parse(raw) as StoredSession;
    const expiresAt = new Date(stored.expiresAt);
    let principal: Principal;
    if (stored.principal.kind === 'key') {
      const key = this.keys.adminNamed(stored.principal.name);
      if (!key) return null;
      principal = { kind: 'key', ...key };
    } else {
      principal = { ...stored.principal, expiresAt };
    }
    return { principal, csrfToken: stored.csrfToken, expiresAt };
  }

  async close(id: string): Promise<void> {
    await this.call(() => this.redis.del(this.key(id)));
  }

  private async call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch {
      throw new ApiError(503, UNAVAILABLE);
    }
  }

  private key(id: string): string {
    return `${this.prefix}:api-session:${createHash('sha256').update(id).digest('hex')}`;
  }
}

/**
 * The session cookie's value on this request, if any. Read by hand: one cookie whose values are
 * base64url (nothing to decode), and @fastify/cookie loads its parser by a dynamic import.
 */
export function sessionCookieOf(request: FastifyRequest): string | undefined {
  for (const pair of (request.headers.cookie ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq >= 0 && pair.slice(0, eq).trim() === SESSION_COOKIE) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

/** Sets the cookie (docs/contracts.md: HttpOnly, SameSite=Strict, Path=/, Secure over https). */
export function setSessionCookie(
  request: FastifyRequest,
  reply: FastifyReply,
  id: string,
  session: Session,
  now: Date,
): void {
  const maxAge = Math.max(1, Math.floor((session.expiresAt.getTime() - now.getTime()) / 1000));
  reply.header('set-cookie', cookieLine(request, id, maxAge));
}

export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.header('set-cookie', cookieLine(request, '', 0));
}

function cookieLine(request: FastifyRequest, value: string, maxAge: number): string {
  return `${SESSION_COOKIE}=${value}; Max-Age=${maxAge}; Path=/; HttpOnly; SameSite=Strict${request.protocol === 'https' ? '; Secure' : ''}`;
}

/**
 * How a route checks that an unsafe request riding on the cookie comes from our own page: `token` (our
 * pages echo the session's CSRF token) or `same-origin` (pages we do not write, the queue dashboard:
 * the browser's own `Sec-Fetch-Site: same-origin`, which a page cannot set; the token works there too).
 */
export type CsrfCheck = 'token' | 'same-origin';

/** Unsafe methods riding on the cookie must echo the session's CSRF token (compared in constant time). */
export function checkCsrf(request: FastifyRequest, session: Session, check: CsrfCheck = 'token'): void {
  if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(request.method)) return;
  if (check === 'same-origin' && request.headers['sec-fetch-site'] === 'same-origin') return;
  const presented = request.headers[CSRF_HEADER];
  const expected = Buffer.from(session.csrfToken);
  const given = Buffer.from(typeof presented === 'string' ? presented : '');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new ApiError(403, 'missing or wrong CSRF token (X-CSRF-Token)');
  }
}

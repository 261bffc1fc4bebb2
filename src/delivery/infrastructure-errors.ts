/**
 * Errors of our own infrastructure (Postgres, Redis, Temporal) as opposed to a provider's answer.
 * docs/contracts.md, "BullMQ" (Infrastructure errors) and "Durability invariants" (I4): such an error
 * never spends a delivery attempt; the job waits and tries again.
 */

/** An error our own store threw (Postgres or Redis), wrapped where a provider could be mistaken for the culprit. */
export class InfrastructureError extends Error {
  override readonly name = 'InfrastructureError';
  constructor(
    /** What we were doing, e.g. "in-app delivery: marking the notification delivered". */
    doing: string,
    override readonly cause: unknown,
  ) {
    super(`${doing}: ${messageOf(cause)}`);
  }
}

/** The message of an error from any realm (Node's socket errors are not always `instanceof Error` of ours). */
function messageOf(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(err);
}

/** Socket-level failures reaching a store: refused, reset, timed out, broken pipe, no route or name. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

/**
 * Postgres SQLSTATEs of an unavailable server rather than a bad statement: class 08 (connection
 * exception), 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting up or
 * shutting down), 57014 statement timeout / cancel, 53300 too many connections, 53xxx out of
 * resources, 58xxx system errors, 40001/40P01 (serialization failure, deadlock: retry as well).
 */
function isUnavailableSqlState(code: string): boolean {
  return (
    /^08[0-9A-Z]{3}$/.test(code) ||
    /^5[38][0-9A-Z]{3}$/.test(code) ||
    ['57P01', '57P02', '57P03', '57014', '40001', '40P01'].includes(code)
  );
}

/** gRPC status codes of a Temporal server that cannot answer now: 4 DEADLINE_EXCEEDED, 14 UNAVAILABLE. */
const GRPC_UNAVAILABLE_CODES = new Set([4, 14]);

/** Messages without a code: node-postgres ("Connection terminated unexpectedly"), pg-pool, knex's pool. */
const POSTGRES_MESSAGES: RegExp[] = [
  /Connection terminated/i,
  /Client has encountered a connection error and is not queryable/i,
  /timeout exceeded when trying to connect/i,
  /Knex: Timeout acquiring a connection/i,
];
/** ioredis without a reply: the connection is gone, or commands may not wait for it. */
const REDIS_MESSAGES: RegExp[] = [
  /Connection is closed\./,
  /Stream isn't writeable and enableOfflineQueue options is false/,
  /Reached the max retries per request limit/,
];

/** Redis error replies of a server that cannot take the command now (full, replica, loading, failing over, unable to persist). */
const REDIS_REPLY_PREFIXES = [
  'OOM ',
  'READONLY ',
  'LOADING ',
  'MASTERDOWN ',
  'TRYAGAIN ',
  'CLUSTERDOWN ',
  'NOREPLICAS ',
  'MISCONF ',
  'BUSY ',
];

/** Which of our own services failed; `network`: a socket error that does not say which; `unspecified`: an InfrastructureError around anything else. */
export type InfrastructureKind = 'postgres' | 'redis' | 'temporal' | 'network' | 'unspecified';

/**
 * True for an error of one of our own stores (Postgres, Redis) or of Temporal being unreachable,
 * overloaded, failing over or refusing writes. Never apply it to an error a provider call threw: an
 * SMTP server's ECONNREFUSED is the provider's (providers that use our stores wrap those errors in
 * InfrastructureError).
 */
export function isInfrastructureError(err: unknown): boolean {
  return infrastructureKind(err) !== null;
}

/** The service an infrastructure error came from (the error or its causes), or null for any other error. */
export function infrastructureKind(err: unknown): InfrastructureKind | null {
  let wrapped = false;
  for (
    let e: unknown = err, depth = 0;
    e && typeof e === 'object' && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const kind = kindOfShape(e as Record<string, unknown>);
    if (kind) return kind;
    if (e instanceof InfrastructureError) wrapped = true;
  }
  return wrapped ? 'unspecified' : null;
}

function kindOfShape(e: Record<string, unknown>): InfrastructureKind | null {
  const name = typeof e.name === 'string' ? e.name : '';
  const message = typeof e.message === 'string' ? e.message : '';
  const code = typeof e.code === 'string' ? e.code : '';
  if (name === 'MaxRetriesPerRequestError') return 'redis';
  if (name === 'KnexTimeoutError') return 'postgres';
  // A gRPC status of Temporal's client (the `cause` of its ServiceError): UNAVAILABLE or DEADLINE_EXCEEDED.
  if (typeof e.code === 'number' && typeof e.details === 'string' && GRPC_UNAVAILABLE_CODES.has(e.code))
    return 'temporal';
  if (NETWORK_CODES.has(code)) return 'network';
  // node-postgres DatabaseError (and MikroORM's DriverException copying it) carry the SQLSTATE in `code`.
  if (/^[0-9A-Z]{5}$/.test(code) && isUnavailableSqlState(code)) return 'postgres';
  if (name === 'ReplyError' && REDIS_REPLY_PREFIXES.some((prefix) => message.startsWith(prefix)))
    return 'redis';
  if (POSTGRES_MESSAGES.some((pattern) => pattern.test(message))) return 'postgres';
  if (REDIS_MESSAGES.some((pattern) => pattern.test(message))) return 'redis';
  return null;
}

/**
 * How long a job waits before its next try after an infrastructure error: 1 s doubling per
 * consecutive infrastructure error, capped at maxMs (INFRA_RETRY_MAX_BACKOFF_MS), with up to 20 %
 * jitter so that a whole queue does not come back in one burst.
 */
export function infrastructureBackoffMs(
  consecutiveErrors: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(1000 * 2 ** Math.max(0, Math.min(consecutiveErrors - 1, 30)), maxMs);
  return Math.round(base * (1 - 0.2 * random()));
}

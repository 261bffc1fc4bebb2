import type { FastifyRequest } from 'fastify';
import { redisMasters, type RedisConnection } from '../redis-connection';
import type { ApiContext } from './context';
import { ApiError } from './errors';

/**
 * Backpressure at the door (docs/contracts.md, "BullMQ", I6): publishing answers 429 with
 * Retry-After while Redis is close to its maxmemory, before a `noeviction` Redis refuses the writes
 * of work already accepted. Accepted work is never failed for it (I1), so the caller's retry is the
 * buffer, not our queues.
 */

/** For the publishing routes' OpenAPI descriptions. */
export const BACKPRESSURE_NOTE = `429 with \`Retry-After\` also while the delivery queues' Redis is nearly full
(REDIS_BACKPRESSURE_RATIO of its maxmemory): nothing was accepted, send the same request again later.`;

/** What the caller is told to wait: about the time workers need to drain a burst and finished jobs to age out. */
export const BACKPRESSURE_RETRY_AFTER_SECONDS = 5;
/** INFO memory is read at most this often per process; requests in between use the last answer. */
const PROBE_CACHE_MS = 1000;
/** A probe Redis does not answer within this counts as "unknown": the door stays open (the workflow's hand-off retries). */
const PROBE_TIMEOUT_MS = 500;

export interface RedisMemory {
  usedMemory: number;
  /** 0: no maxmemory set. */
  maxMemory: number;
}

/** Reads used_memory and maxmemory from the text of `INFO memory`. */
export function parseInfoMemory(info: string): RedisMemory {
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:(\\d+)\\s*$`, 'm').exec(info);
    if (!match) throw new Error(`INFO memory has no ${name} field`);
    return Number(match[1]);
  };
  return { usedMemory: field('used_memory'), maxMemory: field('maxmemory') };
}

/** True when publishing should wait: a maxmemory is set and used memory reached ratio of it (ratio 0: never). */
export function isNearlyFull(memory: RedisMemory, ratio: number): boolean {
  return ratio > 0 && memory.maxMemory > 0 && memory.usedMemory >= ratio * memory.maxMemory;
}

/**
 * The memory of the fullest master: on a Redis Cluster each master has its own maxmemory and the one
 * holding a busy queue's slot fills first. Null when no master answered.
 */
async function fullestMaster(redis: RedisConnection): Promise<RedisMemory | null> {
  const answers = await Promise.all(
    redisMasters(redis).map((master) =>
      master
        .info('memory')
        .then(parseInfoMemory)
        .catch(() => null),
    ),
  );
  return fullest(answers.filter((memory): memory is RedisMemory => memory !== null));
}

/** The memory closest to its maxmemory (one without maxmemory counts as empty); null for none. */
export function fullest(memories: RedisMemory[]): RedisMemory | null {
  const fill = (m: RedisMemory) => (m.maxMemory > 0 ? m.usedMemory / m.maxMemory : 0);
  return memories.reduce<RedisMemory | null>(
    (worst, m) => (!worst || fill(m) > fill(worst) ? m : worst),
    null,
  );
}

export class RedisBackpressure {
  private last: { at: number; memory: RedisMemory | null } | null = null;
  private inFlight: Promise<RedisMemory | null> | null = null;

  constructor(
    private readonly redis: RedisConnection,
    private readonly ratio: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Redis memory as of at most PROBE_CACHE_MS ago; null when Redis did not answer (the door stays open). */
  async memory(): Promise<RedisMemory | null> {
    if (this.last && this.now() - this.last.at < PROBE_CACHE_MS) return this.last.memory;
    // One probe at a time: on a connection that queues commands while Redis is away, they must not pile up.
    this.inFlight ??= fullestMaster(this.redis).finally(() => (this.inFlight = null));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>(
      (resolve) => (timer = setTimeout(() => resolve(null), PROBE_TIMEOUT_MS)),
    );
    const memory = await Promise.race([this.inFlight, timeout]).finally(() => clearTimeout(timer));
    this.last = { at: this.now(), memory };
    return memory;
  }

  /** Throws the 429 when Redis is nearly full. */
  async check(): Promise<void> {
    if (this.ratio <= 0) return;
    const memory = await this.memory();
    if (!memory || !isNearlyFull(memory, this.ratio)) return;
    const percent = Math.round((100 * memory.usedMemory) / memory.maxMemory);
    throw new ApiError(
      429,
      `the delivery queues are nearly full (Redis at ${percent}% of maxmemory, limit ${Math.round(this.ratio * 100)}%): nothing was accepted, retry in ${BACKPRESSURE_RETRY_AFTER_SECONDS} s`,
      undefined,
      undefined,
      { 'retry-after': String(BACKPRESSURE_RETRY_AFTER_SECONDS) },
    );
  }
}

/** One probe cache per API instance, shared by every route that publishes. */
const perApi = new WeakMap<ApiContext, RedisBackpressure>();

/** A route hook refusing to publish while Redis is nearly full (REDIS_BACKPRESSURE_RATIO). */
export function redisBackpressureGuard(ctx: ApiContext): (request: FastifyRequest) => Promise<void> {
  let backpressure = perApi.get(ctx);
  if (!backpressure) {
    backpressure = new RedisBackpressure(ctx.deps.redis, ctx.deps.config.redisBackpressureRatio);
    perApi.set(ctx, backpressure);
  }
  const shared = backpressure;
  return async () => shared.check();
}

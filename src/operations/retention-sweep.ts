import type { Redis } from 'ioredis';
import { Counter, type Registry } from 'prom-client';
import type { Orm } from '../db/orm';
import type { FrequencyCap } from '../domain/frequency-caps';
import { deleteOldCapLedger, deleteOldDeliveryAttempts, deleteOldNotifications } from '../state/retention';
import { retentionCutoffs, retentionSettingsFrom, type RetentionSettings } from './retention-settings';

/**
 * The retention sweep (docs/data-lifecycle.md): one worker process per RETENTION_SWEEP_MS (a Redis
 * lock, like the stuck-work scans) deletes what is past retention, batch by batch, until a batch comes
 * back short. Rows deleted per family are logged per sweep and counted in
 * `notifications_retention_deleted_total{family}`.
 */

export type RetentionFamily =
  'notifications' | 'send_records' | 'delivery_attempts' | 'notification_events' | 'cap_ledger';
export type SweepCounts = Record<RetentionFamily, number>;

const lockKey = (queuePrefix: string) => `${queuePrefix}:retention:lock`;
const REDIS_TIMEOUT_MS = 3000;

export interface RetentionDeps {
  orm: Orm;
  settings: RetentionSettings;
  frequencyCaps: FrequencyCap[];
}

/** Deletes in batches until one comes back short; adds what each batch deleted to `into`. */
async function inBatches(limit: number, batch: () => Promise<number>): Promise<void> {
  while ((await batch()) >= limit) {
    // a full batch: there may be more
  }
}

/** One sweep now (no lock): attempts first (their own, shorter retention), then whole notifications, then the ledger. */
export async function sweepRetention(deps: RetentionDeps, now = new Date()): Promise<SweepCounts> {
  const longest = Math.max(0, ...deps.frequencyCaps.map((c) => c.windowMs));
  const cut = retentionCutoffs(now, deps.settings, longest);
  const limit = deps.settings.batch;
  const em = deps.orm.em.fork();
  const counts: SweepCounts = {
    notifications: 0,
    send_records: 0,
    delivery_attempts: 0,
    notification_events: 0,
    cap_ledger: 0,
  };
  const attemptsBefore = cut.deliveryAttempts;
  if (attemptsBefore) {
    await inBatches(limit, async () => {
      const n = await deleteOldDeliveryAttempts(em, attemptsBefore, limit);
      counts.delivery_attempts += n;
      return n;
    });
  }
  const notificationsBefore = cut.notifications;
  if (notificationsBefore) {
    await inBatches(limit, async () => {
      const b = await deleteOldNotifications(
        em,
        { before: notificationsBefore, unreadBefore: cut.unreadNotifications },
        limit,
      );
      counts.notifications += b.notifications;
      counts.send_records += b.sendRecords;
      counts.delivery_attempts += b.deliveryAttempts;
      counts.notification_events += b.events;
      return b.notifications;
    });
  }
  await inBatches(limit, async () => {
    const n = await deleteOldCapLedger(em, cut.capLedger, limit);
    counts.cap_ledger += n;
    return n;
  });
  return counts;
}

export interface RetentionSweeper {
  /** One round now: sweeps when this process gets the lock; null when another process has it. */
  runOnce(): Promise<SweepCounts | null>;
  stop(): Promise<void>;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('Redis did not answer')), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function describe(counts: SweepCounts): string {
  return Object.entries(counts)
    .map(([family, n]) => `${family}=${n}`)
    .join(' ');
}

/**
 * Starts periodic sweeps (the first after one interval). With several worker processes one sweeps
 * per interval; when Redis does not answer the lock, nobody sweeps that round (deleting can wait).
 */
export function startRetentionSweeper(
  deps: RetentionDeps & { redis: Redis; queuePrefix: string },
  options: { log?: (line: string) => void; registry?: Registry; firstDelayMs?: number },
): RetentionSweeper {
  const intervalMs = deps.settings.sweepMs;
  const deleted = options.registry
    ? new Counter({
        name: 'notifications_retention_deleted_total',
        help: 'Rows deleted by the retention sweep, per table family',
        labelNames: ['family'],
        registers: [options.registry],
      })
    : null;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<SweepCounts | null> | null = null;
  let stopped = false;

  async function round(): Promise<SweepCounts | null> {
    const lock = deps.redis.set(
      lockKey(deps.queuePrefix),
      String(process.pid),
      'PX',
      Math.max(500, intervalMs - 500),
      'NX',
    );
    if ((await withTimeout(lock, REDIS_TIMEOUT_MS)) !== 'OK') return null;
    const started = Date.now();
    const counts = await sweepRetention(deps);
    for (const [family, n] of Object.entries(counts)) deleted?.inc({ family }, n);
    options.log?.(`retention sweep: deleted ${describe(counts)} in ${Date.now() - started} ms`);
    return counts;
  }

  function runOnce(): Promise<SweepCounts | null> {
    running ??= round()
      .catch((err: unknown) => {
        options.log?.(`retention sweep failed: ${err instanceof Error ? err.message : String(err)}`);
        return null;
      })
      .finally(() => {
        running = null;
      });
    return running;
  }

  function schedule(delayMs: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      void runOnce().finally(() => schedule(intervalMs));
    }, delayMs);
    timer.unref();
  }
  schedule(options.firstDelayMs ?? intervalMs);

  return {
    runOnce,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

/**
 * What a worker process starts (src/runtime/service.ts): validates the retention settings (a bad one
 * throws, naming the variable) and sweeps every RETENTION_SWEEP_MS; null when that is 0.
 */
export function startRetentionSweeps(input: {
  env: Record<string, string | undefined>;
  config: { queuePrefix: string; digests: { frequencyCaps: FrequencyCap[] } };
  orm: Orm;
  redis: Redis;
  registry: Registry;
  log?: (line: string) => void;
}): RetentionSweeper | null {
  const settings = retentionSettingsFrom(input.env);
  if (settings.sweepMs === 0) return null;
  return startRetentionSweeper(
    {
      orm: input.orm,
      settings,
      frequencyCaps: input.config.digests.frequencyCaps,
      redis: input.redis,
      queuePrefix: input.config.queuePrefix,
    },
    { log: input.log, registry: input.registry },
  );
}

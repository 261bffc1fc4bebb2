import type { RedisConnection } from '../redis-connection';
import { Counter, type Registry } from 'prom-client';
import type { Orm } from '../db/orm';
import type { FrequencyCap } from '../domain/frequency-caps';
import { startPeriodic, takeRoundLock, type Periodic } from './periodic';
import { deleteOldCapLedger, deleteOldDeliveryAttempts, deleteOldNotifications } from '../state/retention';
import { CONTENT_SWEEP_GRACE_MS, deleteOrphanContents } from '../state/notification-contents';
import { retentionCutoffs, type RetentionSettings } from './retention-settings';

/**
 * The retention sweep (docs/data-lifecycle.md): one worker process per RETENTION_SWEEP_MS (a Redis
 * lock, like the stuck-work scans) deletes what is past retention, batch by batch, until a batch comes
 * back short. Rows deleted per family are logged per sweep and counted in
 * `notifications_retention_deleted_total{family}`.
 */

export type RetentionFamily =
  | 'notifications'
  | 'send_records'
  | 'delivery_attempts'
  | 'notification_events'
  | 'notification_contents'
  | 'cap_ledger';
export type SweepCounts = Record<RetentionFamily, number>;

const lockKey = (queuePrefix: string) => `${queuePrefix}:retention:lock`;

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

/** One sweep now (no lock): attempts first (their own, shorter retention), then whole notifications, orphan contents, then the ledger. */
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
    notification_contents: 0,
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
  // After the notifications: contents whose last reference went (also by erasure), past a grace period.
  const contentsUnusedSince = new Date(now.getTime() - CONTENT_SWEEP_GRACE_MS);
  await inBatches(limit, async () => {
    const n = await deleteOrphanContents(em, contentsUnusedSince, limit);
    counts.notification_contents += n;
    return n;
  });
  await inBatches(limit, async () => {
    const n = await deleteOldCapLedger(em, cut.capLedger, limit);
    counts.cap_ledger += n;
    return n;
  });
  return counts;
}

/** runOnce: one round now; null when another process holds the lock (or the round failed). */
export type RetentionSweeper = Periodic<SweepCounts | null>;

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
  deps: RetentionDeps & { redis: RedisConnection; queuePrefix: string },
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
  async function round(): Promise<SweepCounts | null> {
    if (!(await takeRoundLock(deps.redis, lockKey(deps.queuePrefix), intervalMs))) return null;
    const started = Date.now();
    const counts = await sweepRetention(deps);
    for (const [family, n] of Object.entries(counts)) deleted?.inc({ family }, n);
    options.log?.(`retention sweep: deleted ${describe(counts)} in ${Date.now() - started} ms`);
    return counts;
  }

  return startPeriodic(round, {
    intervalMs,
    firstDelayMs: options.firstDelayMs ?? intervalMs,
    onError: (err) =>
      options.log?.(`retention sweep failed: ${err instanceof Error ? err.message : String(err)}`),
  });
}

/**
 * What a worker process starts (src/runtime/service.ts, which reads the settings with
 * retentionSettingsFrom before connecting): sweeps every RETENTION_SWEEP_MS; null when that is 0.
 */
export function startRetentionSweeps(input: {
  settings: RetentionSettings;
  config: { queuePrefix: string; digests: { frequencyCaps: FrequencyCap[] } };
  orm: Orm;
  redis: RedisConnection;
  registry: Registry;
  log?: (line: string) => void;
}): RetentionSweeper | null {
  const { settings } = input;
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

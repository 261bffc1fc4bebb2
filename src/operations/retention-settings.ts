/**
 * Retention settings and cutoffs (docs/data-lifecycle.md). Read from the environment when a worker
 * process starts: a bad value stops the start with an error naming the variable.
 */

const DAY_MS = 86_400_000;

export const DEFAULT_RETENTION_SWEEP_MS = 3_600_000;
export const DEFAULT_RETENTION_BATCH = 5000;

export interface RetentionSettings {
  /** NOTIFICATION_RETENTION_DAYS: final notifications (with their send records and attempts); 0 = forever. */
  notificationDays: number;
  /** DELIVERY_ATTEMPT_RETENTION_DAYS: attempts of final notifications; 0 = as long as their notification. */
  deliveryAttemptDays: number;
  /** UNREAD_NOTIFICATION_RETENTION_DAYS: how long an unread inbox notification is kept; 0 = until read. */
  unreadNotificationDays: number;
  /** RETENTION_SWEEP_MS: how often one worker process sweeps; 0 = never. */
  sweepMs: number;
  /** RETENTION_BATCH: rows per delete statement. */
  batch: number;
}

type Env = Record<string, string | undefined>;

function wholeNumber(env: Env, name: string, fallback: number, rule: (n: number) => string | null): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  const problem = Number.isSafeInteger(value) ? rule(value) : 'a whole number';
  if (problem) throw new Error(`${name} must be ${problem}, got "${raw}"`);
  return value;
}

const days = (n: number) =>
  n >= 0 && n <= 36_500 ? null : '0 (keep forever) or a number of days up to 36500';

/** The settings of RETENTION_* and *_RETENTION_DAYS, validated together. */
export function retentionSettingsFrom(env: Env): RetentionSettings {
  const notificationDays = wholeNumber(env, 'NOTIFICATION_RETENTION_DAYS', 365, days);
  const deliveryAttemptDays = wholeNumber(
    env,
    'DELIVERY_ATTEMPT_RETENTION_DAYS',
    90,
    (n) =>
      days(n) ??
      (notificationDays > 0 && n > notificationDays
        ? `at most NOTIFICATION_RETENTION_DAYS (${notificationDays}): attempts go with their notification`
        : null),
  );
  const unreadNotificationDays = wholeNumber(
    env,
    'UNREAD_NOTIFICATION_RETENTION_DAYS',
    730,
    (n) =>
      days(n) ??
      (n > 0 && notificationDays > 0 && n < notificationDays
        ? `0 (until read) or at least NOTIFICATION_RETENTION_DAYS (${notificationDays})`
        : null),
  );
  const sweepMs = wholeNumber(env, 'RETENTION_SWEEP_MS', DEFAULT_RETENTION_SWEEP_MS, (n) =>
    n === 0 || n >= 1000 ? null : '0 (off) or a whole number of milliseconds of at least 1000',
  );
  const batch = wholeNumber(env, 'RETENTION_BATCH', DEFAULT_RETENTION_BATCH, (n) =>
    n >= 1 && n <= 100_000 ? null : 'a number of rows from 1 to 100000',
  );
  return { notificationDays, deliveryAttemptDays, unreadNotificationDays, sweepMs, batch };
}

/** What one sweep deletes: rows older than these instants (null: that family is kept). */
export interface RetentionCutoffs {
  /** Final notifications created before this (read ones, and ones never in an inbox). */
  notifications: Date | null;
  /** Unread inbox notifications created before this (null: kept until read). */
  unreadNotifications: Date | null;
  /** Delivery attempts finished before this, of final notifications. */
  deliveryAttempts: Date | null;
  /** Frequency-cap ledger entries older than the longest cap window (at least a day). */
  capLedger: Date;
}

export function retentionCutoffs(
  now: Date,
  settings: RetentionSettings,
  longestCapWindowMs: number,
): RetentionCutoffs {
  const before = (d: number) => new Date(now.getTime() - d * DAY_MS);
  const keepForever = settings.notificationDays === 0;
  return {
    notifications: keepForever ? null : before(settings.notificationDays),
    unreadNotifications:
      keepForever || settings.unreadNotificationDays === 0 ? null : before(settings.unreadNotificationDays),
    deliveryAttempts: settings.deliveryAttemptDays === 0 ? null : before(settings.deliveryAttemptDays),
    capLedger: new Date(now.getTime() - Math.max(longestCapWindowMs, DAY_MS)),
  };
}

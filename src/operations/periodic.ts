import type { RedisConnection } from '../redis-connection';
import { withTimeout } from './stuck-work';

/**
 * A round run every `intervalMs` (the stuck-work scans, the retention sweep): one round at a time, the
 * next scheduled when the last ended; a failed round is reported to `onError` and the rounds go on.
 */
export interface Periodic<T> {
  /** One round now, or the round already running. */
  runOnce(): Promise<T | null>;
  /** No more rounds; waits for the running one. */
  stop(): Promise<void>;
}

export function startPeriodic<T>(
  round: () => Promise<T>,
  options: { intervalMs: number; firstDelayMs: number; onError: (err: unknown) => void },
): Periodic<T> {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<T | null> | null = null;
  let stopped = false;

  function runOnce(): Promise<T | null> {
    running ??= round()
      .catch((err: unknown) => {
        options.onError(err);
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
      void runOnce().finally(() => schedule(options.intervalMs));
    }, delayMs);
    timer.unref();
  }
  schedule(options.firstDelayMs);

  return {
    runOnce,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

/** How long taking a round's lock may wait for Redis. */
const ROUND_LOCK_TIMEOUT_MS = 3000;

/**
 * Takes `key` for one interval, so one process per interval does the round (the lock expires just
 * before the next). Resolves true when this process got it; rejects when Redis did not answer.
 */
export async function takeRoundLock(
  redis: RedisConnection,
  key: string,
  intervalMs: number,
): Promise<boolean> {
  const lock = redis.set(key, String(process.pid), 'PX', Math.max(500, intervalMs - 500), 'NX');
  return (await withTimeout(lock, ROUND_LOCK_TIMEOUT_MS, 'Redis did not answer')) === 'OK';
}

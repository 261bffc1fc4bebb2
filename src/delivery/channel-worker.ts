import { Worker, type Job } from 'bullmq';
import { queueNameFor } from '../domain/channels';
import type { ChannelWorkerConfig } from '../config';
import type { ChannelWorkerOptions } from './channel-worker-options';
import { SendJobProcessor } from './send-job-processor';
import type { SendJobData } from './send-queues';

export type { ChannelWorkerOptions, DeliveryObserver } from './channel-worker-options';

/**
 * Used when the channel has no rate limit of its own: BullMQ only honours a provider-requested pause
 * (`worker.rateLimit`) across processes when a limiter is configured, so "off" is a limit never reached.
 */
const UNREACHABLE_LIMIT = { max: 1_000_000_000, duration: 1000 };

/** The BullMQ limiter a channel's worker runs with. */
export function effectiveRateLimit(config: ChannelWorkerConfig): { max: number; duration: number } {
  return config.rateLimit
    ? { max: config.rateLimit.max, duration: config.rateLimit.durationMs }
    : UNREACHABLE_LIMIT;
}

/**
 * How many times a job may be found stalled (its lock expired while active) before BullMQ fails it for
 * good. BullMQ never resets the count, and a stall is what a Redis outage longer than the lock looks
 * like (the lock cannot be renewed, the job cannot be moved), as well as a killed worker. The send
 * record already keeps a rerun from sending twice, so the only reason left to give up is the horizon
 * after which the event workflow expires the notification (docs/contracts.md, "Durability invariants",
 * I4): at most one stall is counted per stall check, so horizon / check interval stalls cover it.
 */
export function maxStalledCountFor(infraRetryHorizonMs: number, stalledIntervalMs: number): number {
  return Math.max(1, Math.ceil(infraRetryHorizonMs / Math.max(stalledIntervalMs, 1)));
}

/** One worker for one channel queue: claim, send, record the attempt, report the outcome (SendJobProcessor). */
export function startChannelWorker(options: ChannelWorkerOptions): Worker<SendJobData> {
  const { channel, config } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const lockDuration = options.lockDurationMs ?? 30_000;
  const infraRetryHorizonMs = options.infraRetryHorizonMs ?? 86_400_000;
  const processor = new SendJobProcessor({
    ...options,
    staleAfterMs: options.staleAfterMs ?? 60_000,
    infraRetryMaxBackoffMs: options.infraRetryMaxBackoffMs ?? 60_000,
    log: (line) => log(`channel ${channel}: ${line}`),
    pauseQueue: (ms) => worker.rateLimit(ms),
  });
  const worker: Worker<SendJobData> = new Worker<SendJobData>(
    queueNameFor(channel),
    (job: Job<SendJobData>, token?: string) => processor.process(job, token),
    {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: config.concurrency,
      limiter: effectiveRateLimit(config),
      lockDuration,
      stalledInterval: lockDuration,
      maxStalledCount: maxStalledCountFor(infraRetryHorizonMs, lockDuration),
      autorun: true,
    },
  );
  // Without a listener an 'error' (e.g. Redis gone for a moment) would be thrown; BullMQ reconnects by itself.
  worker.on('error', (err) => {
    if (!worker.closing) log(`channel ${channel}: worker error: ${err.message}`);
  });
  worker.on('closing', () => processor.close());
  return worker;
}

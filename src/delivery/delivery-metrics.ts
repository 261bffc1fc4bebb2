import type { Queue } from 'bullmq';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Channel } from '../domain/channels';
import type { DeliveryAttemptStatus } from '../db/entities';
import type { StuckWorkSummary } from '../operations/stuck-work-monitor';
import type { DeliveryObserver } from './channel-worker';

/** Job states reported per queue. Jobs with a priority (all of ours) wait in `prioritized`, not `waiting`. */
export const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'] as const;

/** Attempt statuses that involved a provider call, and so have a duration worth a histogram. */
const TIMED_STATUSES: DeliveryAttemptStatus[] = ['delivered', 'failed', 'rate_limited'];

interface TrackedQueue {
  queue: Queue;
  /** The channel's own rate limit, so a limiter window in progress is not reported as a pause. */
  rateLimitMax: number;
}

/**
 * Prometheus metrics of the delivery workers in one process (own registry, so several services in
 * one process do not collide). Counters move as attempts are recorded; queue gauges are read from
 * Redis on each scrape.
 */
export class DeliveryMetrics implements DeliveryObserver {
  readonly registry = new Registry();
  private readonly queues = new Map<Channel, TrackedQueue>();
  private readonly attempts: Counter<'channel' | 'status'>;
  private readonly failures: Counter<'channel' | 'reason'>;
  private readonly durations: Histogram<'channel' | 'status'>;
  private stuckWork: (() => StuckWorkSummary | null) | null = null;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.attempts = new Counter({
      name: 'notification_delivery_attempts_total',
      help: 'Delivery attempts recorded, by channel and status (delivered, failed, rate_limited, skipped_duplicate, interrupted).',
      labelNames: ['channel', 'status'],
      registers,
    });
    this.failures = new Counter({
      name: 'notification_delivery_failures_total',
      help: 'Send jobs failed for good, by channel and reason (permanent: provider refused; exhausted: retries used up).',
      labelNames: ['channel', 'reason'],
      registers,
    });
    this.durations = new Histogram({
      name: 'notification_delivery_attempt_duration_seconds',
      help: 'Duration of provider calls, by channel and status.',
      labelNames: ['channel', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    const queues = this.queues;
    new Gauge({
      name: 'notification_queue_jobs',
      help: `Jobs in each channel queue, by state (${QUEUE_STATES.join(', ')}).`,
      labelNames: ['channel', 'state'],
      registers,
      async collect() {
        for (const [channel, { queue }] of queues) {
          const counts = await queue.getJobCounts(...QUEUE_STATES);
          for (const state of QUEUE_STATES) this.set({ channel, state }, counts[state] ?? 0);
        }
      },
    });
    new Gauge({
      name: 'notification_queue_paused_seconds',
      help: 'Time left in a pause of the channel queue (a provider 429 Retry-After, or a full rate-limit window).',
      labelNames: ['channel'],
      registers,
      async collect() {
        for (const [channel, { queue, rateLimitMax }] of queues) {
          this.set({ channel }, Math.max(0, await queue.getRateLimitTtl(rateLimitMax)) / 1000);
        }
      },
    });
  }

  /** Reports the latest stuck-work summary (src/operations/stuck-work-monitor.ts) on every scrape. */
  trackStuckWork(latest: () => StuckWorkSummary | null): void {
    // Registered only in a process that scans (STUCK_WORK_SCAN_MS not 0), so "no scan" is never reported where none was meant to run.
    if (!this.stuckWork) this.registerStuckWorkGauges();
    this.stuckWork = latest;
  }

  /** Reports this queue's depth on every scrape. */
  trackQueue(channel: Channel, queue: Queue, rateLimitMax: number): void {
    this.queues.set(channel, { queue, rateLimitMax });
    for (const status of ['delivered', 'failed', 'rate_limited'] as const)
      this.attempts.inc({ channel, status }, 0);
    for (const reason of ['permanent', 'exhausted'] as const) this.failures.inc({ channel, reason }, 0);
  }

  /** docs/contracts.md, "Stuck work": values of the latest scan; a kind that scan could not read is left out. */
  private registerStuckWorkGauges(): void {
    const registers = [this.registry];
    const latest = () => this.stuckWork?.() ?? null;
    new Gauge({
      name: 'notifications_stuck',
      help: 'Stuck work found by the latest scan: past_deadline (open channels past their deadline), queued_without_job (channels queued whose BullMQ job is gone), workflow_without_timer (open workflows holding no timer and no pending work).',
      labelNames: ['kind'],
      registers,
      collect() {
        const s = latest();
        const counts = {
          past_deadline: s?.pastDeadline,
          queued_without_job: s?.queuedWithoutJob,
          workflow_without_timer: s?.workflowsWithoutTimer,
        };
        for (const [kind, value] of Object.entries(counts)) {
          if (typeof value === 'number') this.set({ kind }, value);
          else this.remove({ kind });
        }
      },
    });
    new Gauge({
      name: 'notifications_expired',
      help: 'Notifications in the final state expired (our own infrastructure failed longer than INFRA_RETRY_HORIZON_MS), counted up to 10000 by the latest stuck-work scan.',
      registers,
      collect() {
        const expired = latest()?.expired;
        // NaN: not read (no scan yet, or Postgres did not answer); never a reassuring 0.
        this.set(typeof expired === 'number' ? expired : NaN);
      },
    });
    new Gauge({
      name: 'notifications_stuck_scan_timestamp_seconds',
      help: 'When the latest stuck-work scan ran (Unix time, 0: none yet); alert when it falls behind STUCK_WORK_SCAN_MS.',
      registers,
      collect() {
        const s = latest();
        this.set(s ? Date.parse(s.scannedAt) / 1000 : 0);
      },
    });
  }

  attemptRecorded(channel: Channel, status: DeliveryAttemptStatus, durationMs: number): void {
    this.attempts.inc({ channel, status });
    if (TIMED_STATUSES.includes(status)) this.durations.observe({ channel, status }, durationMs / 1000);
  }

  jobFailed(channel: Channel, reason: 'permanent' | 'exhausted'): void {
    this.failures.inc({ channel, reason });
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}

import type { RedisConnection } from '../redis-connection';
import type { Channel } from '../domain/channels';
import { startPeriodic, takeRoundLock } from './periodic';
import {
  findStuckWork,
  withTimeout,
  type StuckKind,
  type StuckWork,
  type StuckWorkDeps,
  type StuckWorkOptions,
  type WorkflowWithoutTimer,
} from './stuck-work';

/**
 * Periodic stuck-work scans (docs/contracts.md, "Stuck work"): one process scans per interval (a
 * Redis lock), publishes a summary under `<QUEUE_PREFIX>:stuck-work`, and every process reports that
 * summary as its `notifications_stuck` gauges; the admin overview reads it too. The rotation through
 * running workflows (cursor, runs found stuck before) travels in the summary, so whichever process
 * scans next continues where the last one stopped.
 */

export const DEFAULT_STUCK_WORK_SCAN_MS = 60_000;
/** Samples of each kind kept in the summary (the dashboard links each to its trace). */
export const SAMPLES_PER_KIND = 5;

export interface StuckSample {
  kind: StuckKind;
  workflowId: string;
  eventId?: string;
  notificationId?: string;
  channel?: Channel;
  /** past_deadline: the deadline; queued_without_job: when the row last changed; workflow_without_timer: when it started. */
  at: string;
}

export interface StuckWorkSummary {
  scannedAt: string;
  /** null: that part could not be read in this scan (see errors). */
  pastDeadline: number | null;
  queuedWithoutJob: number | null;
  workflowsWithoutTimer: number | null;
  expired: number | null;
  /** True when the scan examined only the oldest part (rows) or a rotating part (workflows): counts are lower bounds. */
  truncated: { rows: boolean; workflows: boolean };
  samples: StuckSample[];
  errors: StuckWork['errors'];
  /** Where the next scan continues (internal to the scanners). */
  rotation: { workflowCursor: string | null; stuckWorkflows: WorkflowWithoutTimer[] };
}

export const stuckWorkKey = (queuePrefix: string) => `${queuePrefix}:stuck-work`;
/** Our Redis connections queue commands while Redis is down: the summary's reads and writes give up after this. */
const REDIS_TIMEOUT_MS = 3000;
const lockKey = (queuePrefix: string) => `${queuePrefix}:stuck-work:lock`;

/** STUCK_WORK_SCAN_MS: a whole number of milliseconds, 0 = no scans; default 60000. */
export function stuckWorkScanMsFrom(env: Record<string, string | undefined>): number {
  const raw = env.STUCK_WORK_SCAN_MS;
  if (raw === undefined || raw.trim() === '') return DEFAULT_STUCK_WORK_SCAN_MS;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || (value > 0 && value < 1000)) {
    throw new Error(
      `STUCK_WORK_SCAN_MS must be 0 (off) or a whole number of milliseconds of at least 1000, got "${raw}"`,
    );
  }
  return value;
}

export function summarize(work: StuckWork): StuckWorkSummary {
  const failed = (part: StuckKind) => work.errors.some((e) => e.part === part);
  const samples: StuckSample[] = [
    ...work.eventsPastDeadline.slice(0, SAMPLES_PER_KIND).map((s) => ({
      kind: 'past_deadline' as const,
      workflowId: s.workflowId,
      eventId: s.eventId,
      notificationId: s.notificationId,
      channel: s.channel,
      at: s.deadlineAt,
    })),
    ...work.queuedWithoutJob.slice(0, SAMPLES_PER_KIND).map((s) => ({
      kind: 'queued_without_job' as const,
      workflowId: s.workflowId,
      eventId: s.eventId,
      notificationId: s.notificationId,
      channel: s.channel,
      at: s.since,
    })),
    ...work.workflowsWithoutTimer
      .slice(0, SAMPLES_PER_KIND)
      .map((s) => ({ kind: 'workflow_without_timer' as const, workflowId: s.workflowId, at: s.startedAt })),
  ];
  return {
    scannedAt: work.scannedAt,
    pastDeadline: failed('past_deadline') ? null : work.eventsPastDeadline.length,
    queuedWithoutJob: failed('queued_without_job') ? null : work.queuedWithoutJob.length,
    workflowsWithoutTimer: failed('workflow_without_timer') ? null : work.workflowsWithoutTimer.length,
    expired: work.expired,
    truncated: { rows: work.scope.rowsTruncated, workflows: work.scope.workflowsTruncated },
    samples,
    errors: work.errors,
    rotation: { workflowCursor: work.scope.nextWorkflowCursor, stuckWorkflows: work.workflowsWithoutTimer },
  };
}

export interface StuckWorkScannerDeps extends StuckWorkDeps {
  redis: RedisConnection;
  queuePrefix: string;
}

/** Reads the latest published summary; null when none (no scan within its lifetime) or Redis does not answer. */
export async function readStuckWorkSummary(
  redis: RedisConnection,
  queuePrefix: string,
): Promise<StuckWorkSummary | null> {
  const raw = await withTimeout(
    redis.get(stuckWorkKey(queuePrefix)),
    REDIS_TIMEOUT_MS,
    'Redis did not answer',
  );
  return raw ? (JSON.parse(raw) as StuckWorkSummary) : null;
}

/**
 * Scans for stuck work and publishes the summary for `ttlMs`, continuing the rotation of the last
 * published summary. A Redis that does not answer only costs the publishing (the summary is returned).
 */
export async function scanAndPublish(
  deps: StuckWorkScannerDeps,
  ttlMs: number,
  options: StuckWorkOptions = {},
): Promise<StuckWorkSummary> {
  const previous = await readStuckWorkSummary(deps.redis, deps.queuePrefix).catch(() => null);
  const work = await findStuckWork(deps, {
    workflowCursor: previous?.rotation.workflowCursor ?? null,
    recheckWorkflows: previous?.rotation.stuckWorkflows ?? [],
    ...options,
  });
  const summary = summarize(work);
  await withTimeout(
    deps.redis.set(
      stuckWorkKey(deps.queuePrefix),
      JSON.stringify(summary),
      'PX',
      Math.max(1000, Math.round(ttlMs)),
    ),
    REDIS_TIMEOUT_MS,
    'Redis did not answer',
  ).catch(() => undefined);
  return summary;
}

export interface StuckWorkMonitor {
  /** The latest summary this process scanned or read; null before the first. */
  latest(): StuckWorkSummary | null;
  /** One round now: scan when this process gets the lock, else read the published summary. */
  runOnce(): Promise<StuckWorkSummary | null>;
  stop(): Promise<void>;
}

/**
 * Starts periodic rounds (the first at once). With several worker processes, one scans per interval
 * and the others report its summary. Errors never stop the rounds; they are logged once per change.
 */
export function startStuckWorkMonitor(
  deps: StuckWorkScannerDeps,
  options: { intervalMs: number; log?: (line: string) => void; scan?: StuckWorkOptions },
): StuckWorkMonitor {
  const { intervalMs } = options;
  let latest: StuckWorkSummary | null = null;
  let lastLogged = '';
  const log = (line: string) => {
    if (line !== lastLogged) options.log?.(line);
    lastLogged = line;
  };

  async function round(): Promise<StuckWorkSummary | null> {
    // Redis refusing the lock (an outage) must not blind this process: it scans on its own then.
    const mine = await takeRoundLock(deps.redis, lockKey(deps.queuePrefix), intervalMs).catch(() => true);
    const summary = mine
      ? await scanAndPublish(deps, Math.max(3 * intervalMs, 300_000), options.scan)
      : await readStuckWorkSummary(deps.redis, deps.queuePrefix).catch(() => null);
    if (summary) latest = summary;
    const counts = latest
      ? `past_deadline=${latest.pastDeadline} queued_without_job=${latest.queuedWithoutJob} workflow_without_timer=${latest.workflowsWithoutTimer}`
      : 'none';
    const errors = latest?.errors.map((e) => `${e.part}: ${e.message}`).join('; ');
    log(`stuck work: ${counts}${errors ? ` (not read: ${errors})` : ''}`);
    return summary;
  }

  const rounds = startPeriodic(round, {
    intervalMs,
    firstDelayMs: 0,
    onError: (err) => log(`stuck work scan failed: ${err instanceof Error ? err.message : String(err)}`),
  });
  return { latest: () => latest, runOnce: rounds.runOnce, stop: rounds.stop };
}

/**
 * What a worker process starts (src/runtime/service.ts): scans every STUCK_WORK_SCAN_MS on its own
 * connections, reported by `metrics`; null when the variable is 0.
 */
export function startStuckWorkScans(input: {
  env: Record<string, string | undefined>;
  config: { queuePrefix: string; temporal: { taskQueue: string; campaignTaskQueue: string } };
  orm: StuckWorkDeps['orm'];
  redis: RedisConnection;
  queues: StuckWorkDeps['queues'];
  temporalClient: StuckWorkDeps['client'];
  metrics: { trackStuckWork(latest: () => StuckWorkSummary | null): void };
  log?: (line: string) => void;
}): StuckWorkMonitor | null {
  const intervalMs = stuckWorkScanMsFrom(input.env);
  if (intervalMs === 0) return null;
  const { config } = input;
  const monitor = startStuckWorkMonitor(
    {
      orm: input.orm,
      queues: input.queues,
      client: input.temporalClient,
      redis: input.redis,
      queuePrefix: config.queuePrefix,
      taskQueues: [...new Set([config.temporal.taskQueue, config.temporal.campaignTaskQueue])],
    },
    { intervalMs, log: input.log },
  );
  input.metrics.trackStuckWork(monitor.latest);
  return monitor;
}

import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { loadStoredNotification } from '../state/outcome-recorder';
import type { ChannelWorkerOptions } from './channel-worker-options';
import {
  infrastructureBackoffMs,
  infrastructureKind,
  type InfrastructureKind,
} from './infrastructure-errors';
import { InfrastructureRetryLog, PostgresRecovery } from './infrastructure-recovery';
import { SendJob, type SendJobDeps } from './send-job';
import type { SendJobData } from './send-queues';

export type SendJobProcessorOptions = Omit<SendJobDeps, 'providerErrors'> &
  Pick<ChannelWorkerOptions, 'orm'> & {
    /** INFRA_RETRY_MAX_BACKOFF_MS: longest wait between tries after infrastructure errors. */
    infraRetryMaxBackoffMs: number;
  };

/**
 * The job processor of a channel worker: loads the notification a job names and runs the job
 * (SendJob: claim, send, record). An error of our own Postgres or Redis puts the job back instead
 * of failing it (retryLaterIfOurs).
 */
export class SendJobProcessor {
  private readonly deps: SendJobDeps;
  private readonly recovery: PostgresRecovery;
  private readonly retryLog: InfrastructureRetryLog;

  constructor(private readonly options: SendJobProcessorOptions) {
    this.deps = { ...options, providerErrors: new WeakSet<object>() };
    this.recovery = new PostgresRecovery(
      () => options.orm.em.fork().getConnection().execute('select 1'),
      options.log,
    );
    this.retryLog = new InfrastructureRetryLog(options.log);
  }

  /** BullMQ's processor function. */
  async process(job: Job<SendJobData>, token?: string): Promise<void> {
    try {
      return await this.send(job, token);
    } catch (err) {
      return this.retryLaterIfOurs(job, token, err);
    }
  }

  /** The worker is closing: no more promotions, and the retry lines held back are written. */
  close(): void {
    this.recovery.stop();
    this.retryLog.flush();
  }

  private async send(job: Job<SendJobData>, token: string | undefined): Promise<void> {
    const { notificationId } = job.data;
    const em = this.options.orm.em.fork();
    const notification = await loadStoredNotification(em, notificationId);
    if (!notification) {
      this.options.observer?.jobFailed(this.options.channel, 'permanent');
      throw new UnrecoverableError(`notification ${notificationId} not found`);
    }
    return new SendJob(this.deps, job, token, em, notification).run();
  }

  /**
   * I4 (docs/contracts.md, "Durability invariants"): an error of our own Postgres or Redis puts the
   * job back with capped exponential backoff and spends no attempt (`moveToDelayed` skips the
   * attempt count; BullMQ's `DelayedError` then leaves the job alone). Provider errors, and the
   * BullMQ control errors thrown on purpose, pass through unchanged.
   */
  private async retryLaterIfOurs(
    job: Job<SendJobData>,
    token: string | undefined,
    err: unknown,
  ): Promise<never> {
    const kind = this.infrastructureKindOf(err);
    if (!kind) throw err;
    // Restarts that spent no attempt so far (this one included): the exponent of the backoff.
    const uncounted = Math.max(1, job.attemptsStarted - job.attemptsMade);
    const delayMs = infrastructureBackoffMs(uncounted, this.options.infraRetryMaxBackoffMs);
    this.retryLog.write(
      `${job.id}: our infrastructure failed (${String(err)}); trying again in ${delayMs} ms without spending an attempt`,
    );
    try {
      const untilMs = Date.now() + delayMs;
      await job.moveToDelayed(untilMs, token);
      this.options.observer?.infrastructureRetry?.(this.options.channel, delayMs);
      // Socket errors without a reply come from Postgres here (Redis commands wait for their connection, Temporal's are gRPC statuses).
      if (kind === 'postgres' || kind === 'network') this.recovery.add(job, untilMs);
    } catch (moveErr) {
      // Redis cannot take the move either: the job stays active without a lock renewal and the stall
      // check puts it back once Redis answers (maxStalledCount is sized for that).
      this.options.log(`${job.id}: could not put the job back (${String(moveErr)}); the stall check will`);
    }
    // Never let such an error reach moveToFailed, which would count an attempt.
    throw new DelayedError();
  }

  private infrastructureKindOf(err: unknown): InfrastructureKind | null {
    // Not `instanceof Error`: errors of Node's own sockets may come from another realm (e.g. under jest).
    return typeof err === 'object' &&
      err !== null &&
      !this.deps.providerErrors.has(err) &&
      !isBullmqControlError(err)
      ? infrastructureKind(err)
      : null;
  }
}

/** Errors the processor throws to steer BullMQ (delay, unrecoverable, rate limit): never retried as ours. */
function isBullmqControlError(err: object): boolean {
  const { name, message } = err as { name?: unknown; message?: unknown };
  return (
    err instanceof DelayedError ||
    err instanceof UnrecoverableError ||
    name === 'DelayedError' ||
    name === 'UnrecoverableError' ||
    message === Worker.RateLimitError().message
  );
}

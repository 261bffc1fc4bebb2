import type { EntityManager } from '@mikro-orm/postgresql';
import { DelayedError, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { queueNameFor, type Channel } from '../domain/channels';
import type { ChannelOutcome } from '../domain/notification-status';
import { DeliveryAttempt, PushSubscription, type DeliveryAttemptStatus } from '../db/entities';
import type { Orm } from '../db/orm';
import type { ChannelWorkerConfig } from '../config';
import {
  loadStoredNotification,
  type OutcomeRecorder,
  type StoredNotification,
} from '../state/outcome-recorder';
import type { OutcomeReporter } from './outcome-reporter';
import {
  PermanentDeliveryError,
  ProviderRateLimitedError,
  type ChannelProvider,
  type ProviderReceipt,
  type RecipientAddress,
} from './providers/provider';
import { InfrastructureError, infrastructureBackoffMs, infrastructureKind } from './infrastructure-errors';
import { InfrastructureRetryLog, PostgresRecovery } from './infrastructure-recovery';
import type { SendJobData } from './send-queues';
import type { SendRecordStore } from '../state/send-records';

/** Told about every recorded attempt and final failure (metrics). */
export interface DeliveryObserver {
  attemptRecorded(channel: Channel, status: DeliveryAttemptStatus, durationMs: number): void;
  /** The job will not be tried again: a permanent error, or its attempts are used up. */
  jobFailed(channel: Channel, reason: 'permanent' | 'exhausted'): void;
  /** Our own Postgres or Redis failed the job: it was put back for delayMs without spending an attempt. */
  infrastructureRetry?(channel: Channel, delayMs: number): void;
}

export interface ChannelWorkerOptions {
  channel: Channel;
  connection: ConnectionOptions;
  prefix: string;
  config: ChannelWorkerConfig;
  orm: Orm;
  provider: ChannelProvider;
  sendRecords: Pick<SendRecordStore, 'claim' | 'markSent' | 'markUnknown' | 'isSent' | 'release'>;
  /** SEND_RECORD_STALE_MS: recording a send is retried in-process while the claim is younger than this. @defaultValue 60000 */
  staleAfterMs?: number;
  /** Lean event path: outcomes go to Postgres (and wake the event workflow once). */
  recorder: OutcomeRecorder;
  /** Release-0 notification workflows: outcomes go by signal. */
  outcomes: OutcomeReporter;
  /** Identifies this process in send records (host:pid). */
  workerId: string;
  /**
   * How long a job's lock lives without renewal: a job whose worker died runs again after about
   * twice this (stall detection runs at the same interval). @defaultValue 30000
   */
  lockDurationMs?: number;
  /** INFRA_RETRY_MAX_BACKOFF_MS: longest wait between tries after infrastructure errors. @defaultValue 60000 */
  infraRetryMaxBackoffMs?: number;
  /**
   * INFRA_RETRY_HORIZON_MS: how long work may wait on our own infrastructure before the event workflow
   * expires it; the stall budget (maxStalledCount) is derived from it. @defaultValue 86400000
   */
  infraRetryHorizonMs?: number;
  observer?: DeliveryObserver;
  /** Where problems that do not fail the job are written (an outcome that could not be reported). */
  log?: (line: string) => void;
}

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

/** Never re-check a claim held elsewhere more often than this. */
const MIN_CLAIM_WAIT_MS = 100;

/**
 * What a worker does when it takes over the claim of a worker that died mid-send (its claim went
 * stale): whether the provider got the message is unknown. README, "Exactly once towards providers".
 * - `resend`: at least once; the provider or receiver drops the copy where it can (in_app: the row;
 *   webhook: Idempotency-Key; push: Topic replaces a copy still queued), and for email a lost order or
 *   payment message costs more than a rare duplicate (same Message-ID).
 * - `give_up`: at most once; sms has no provider-side deduplication (Twilio's Messages API takes no
 *   idempotency key), costs per message and cannot be recalled: the channel fails as "outcome unknown".
 */
export const STALE_SEND_POLICY: Record<Channel, 'resend' | 'give_up'> = {
  in_app: 'resend',
  email: 'resend',
  push: 'resend',
  webhook: 'resend',
  sms: 'give_up',
};

/** Margin kept between the last in-process try to record a send and the moment its claim turns stale. */
const RECORD_SENT_MARGIN_MS = 2_000;

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

/** One worker for one channel queue: claim, send, record the attempt, report the outcome. */
export function startChannelWorker(options: ChannelWorkerOptions): Worker<SendJobData> {
  const { channel, config, orm, provider, sendRecords, outcomes, recorder, observer } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const lockDuration = options.lockDurationMs ?? 30_000;
  const staleAfterMs = options.staleAfterMs ?? 60_000;
  const infraRetryMaxBackoffMs = options.infraRetryMaxBackoffMs ?? 60_000;
  const infraRetryHorizonMs = options.infraRetryHorizonMs ?? 86_400_000;
  /** Errors a provider call threw: never classified as ours (an SMTP server's ECONNREFUSED is the provider's). */
  const providerErrors = new WeakSet<object>();
  const recovery = new PostgresRecovery(
    () => orm.em.fork().getConnection().execute('select 1'),
    (line) => log(`channel ${channel}: ${line}`),
  );
  const retryLog = new InfrastructureRetryLog((line) => log(`channel ${channel}: ${line}`));

  const send = async (job: Job<SendJobData>, token?: string): Promise<void> => {
    const { notificationId } = job.data;
    const attempt = job.attemptsMade + 1;
    const lastAttempt = attempt >= (job.opts.attempts ?? 1);
    const em = orm.em.fork();
    const record = (
      status: DeliveryAttemptStatus,
      details: Pick<AttemptFields, 'providerMessageId' | 'error' | 'startedAt'> = {},
    ) =>
      recordAttempt(em, {
        notificationId,
        channel,
        provider: provider.name,
        attempt,
        status,
        ...details,
      }).then((durationMs) => observer?.attemptRecorded(channel, status, durationMs));
    /** An audit row whose loss must not change what happens to the job (our store may be the thing failing). */
    const recordBestEffort = (
      status: DeliveryAttemptStatus,
      details: Pick<AttemptFields, 'providerMessageId' | 'error' | 'startedAt'> = {},
    ) =>
      record(status, details).catch((err: unknown) =>
        log(`channel ${channel}: could not record the ${status} attempt of ${job.id}: ${String(err)}`),
      );
    const notification = await loadStoredNotification(em, notificationId);
    const report = (outcome: ChannelOutcome): Promise<void> =>
      notification?.lifecycle === 2
        ? recorder.record(em, notification, outcome)
        : outcomes.report(job.data.workflowId ?? '', outcome);
    // A failure is final here; if it cannot be recorded now, the workflow reconciles the channel at its deadline.
    const reportFailure = (outcome: Omit<ChannelOutcome, 'channel' | 'state' | 'attempts'>) =>
      report({ channel, state: 'failed', attempts: attempt, ...outcome }).catch((err: unknown) => {
        log(`channel ${channel}: could not report the failure of ${job.id}: ${String(err)}`);
      });

    if (!notification) {
      observer?.jobFailed(channel, 'permanent');
      throw new UnrecoverableError(`notification ${notificationId} not found`);
    }

    /**
     * The provider accepted the message: make that durable (send record `sent`, attempt, outcome).
     * A failed write is retried here, not by running the job again (which would find its own claim,
     * wait for it to turn stale and send a second copy), for as long as the claim is not stale: no
     * other worker can take it over meanwhile. Past that, the job data in Redis remembers the
     * acceptance so that the next attempt records it instead of sending.
     */
    const recordDelivered = async (
      receipt: ProviderReceipt,
      started: Date,
      claimedAtMs: number,
    ): Promise<void> => {
      const delivered: ChannelOutcome = {
        channel,
        state: 'delivered',
        attempts: attempt,
        providerMessageId: receipt.providerMessageId,
      };
      const write = async (retry: boolean): Promise<void> => {
        if (notification.lifecycle === 2) {
          // A retry after an error whose statement may have committed: then only the outcome is left to apply.
          if (retry && (await sendRecords.isSent(em, notificationId, channel)))
            return recorder.record(em, notification, delivered);
          // Sent, its attempt row and the outcome in one statement.
          const finishedAt = new Date();
          await recorder.recordSent(em, notification, delivered, {
            attempt,
            provider: provider.name,
            providerMessageId: receipt.providerMessageId ?? null,
            startedAt: started,
            finishedAt,
          });
          observer?.attemptRecorded(channel, 'delivered', finishedAt.getTime() - started.getTime());
          return;
        }
        await sendRecords.markSent(em, notificationId, channel, receipt.providerMessageId ?? null);
        // Once `sent` is durable, the attempt row and the outcome are independent writes: one round trip for both.
        await Promise.all([
          record('delivered', { startedAt: started, providerMessageId: receipt.providerMessageId }),
          report({
            channel,
            state: 'delivered',
            attempts: attempt,
            providerMessageId: receipt.providerMessageId,
          }),
        ]);
      };
      const deadline = claimedAtMs + staleAfterMs - RECORD_SENT_MARGIN_MS;
      for (let tries = 1; ; tries++) {
        try {
          await write(tries > 1);
          break;
        } catch (err) {
          const delayMs = Math.min(100 * 2 ** (tries - 1), 2_000);
          if (Date.now() + delayMs >= deadline) {
            log(
              `channel ${channel}: ${job.id} was accepted by the provider but could not be recorded after ${tries} tries: ${String(err)}`,
            );
            await job.updateData({
              ...job.data,
              accepted: {
                providerMessageId: receipt.providerMessageId ?? null,
                startedAt: started.toISOString(),
              },
            });
            throw err;
          }
          log(
            `channel ${channel}: recording the send of ${job.id} failed (try ${tries}), retrying in ${delayMs} ms: ${String(err)}`,
          );
          await new Promise((resolve) => setTimeout(resolve, delayMs));
        }
      }
      if (receipt.expiredPushEndpoints?.length)
        await removePushSubscriptions(em, receipt.expiredPushEndpoints);
    };

    /**
     * Gives the claim back after a failed provider call. If Postgres refuses that too, the job data
     * remembers the claim so that the next attempt releases it first instead of waiting for it to
     * turn stale and taking it over as a dead worker's (for sms: "outcome unknown", never sent).
     */
    const releaseClaim = async (claimToken: string): Promise<void> => {
      try {
        await sendRecords.release(em, notificationId, channel, claimToken);
      } catch (err) {
        log(
          `channel ${channel}: could not release the claim of ${job.id}, remembering it in the job: ${String(err)}`,
        );
        await job.updateData({ ...job.data, releasedClaim: claimToken }).catch((redisErr: unknown) => {
          log(
            `channel ${channel}: could not remember the claim of ${job.id} either (it turns stale after ${staleAfterMs} ms): ${String(redisErr)}`,
          );
        });
      }
    };

    if (job.data.accepted) {
      // An earlier attempt got the provider's acceptance but could not record it: record it, never send again.
      const { providerMessageId, startedAt } = job.data.accepted;
      return recordDelivered(
        { providerMessageId: providerMessageId ?? undefined },
        new Date(startedAt),
        Date.now(),
      );
    }
    if (isCancelled(notification, channel)) {
      // Cancelled (or expired) before a provider was called, or given up for a fallback: a late pickup sends nothing.
      await record('skipped_cancelled');
      return;
    }

    // Everything fallible that the provider call needs happens before the claim: an error of our own
    // store here leaves no claim behind that the next attempt would mistake for a dead worker's.
    const address = await addressOf(em, notification, channel).catch((err: unknown) => {
      // A recipient gone is the channel's permanent failure, decided after the claim (it may have been sent already).
      if (err instanceof PermanentDeliveryError) return err;
      throw err;
    });
    // A claim this job gave back but could not release (Postgres refused): release it now, it is ours.
    if (job.data.releasedClaim)
      await sendRecords.release(em, notificationId, channel, job.data.releasedClaim);
    const claimedAtMs = Date.now();
    const claim = await sendRecords.claim(em, notificationId, channel, options.workerId);
    if (!claim.claimed && claim.status === 'sent') {
      // Sent before (retry after a lost outcome, stall, second hand-off): never call the provider again.
      await record('skipped_duplicate', { providerMessageId: claim.providerMessageId });
      await report({
        channel,
        state: 'delivered',
        attempts: attempt,
        providerMessageId: claim.providerMessageId ?? undefined,
      });
      return;
    }
    if (!claim.claimed && claim.status === 'cancelled') {
      await record('skipped_cancelled');
      return;
    }
    if (!claim.claimed && claim.status === 'unknown') {
      const error = `outcome unknown: a worker stopped mid-send and ${channel} is never sent twice`;
      await reportFailure({ error, permanent: true });
      observer?.jobFailed(channel, 'permanent');
      throw new UnrecoverableError(error);
    }
    if (!claim.claimed) {
      // Another worker is sending this (a stalled job run again while the first worker may still be busy):
      // come back when that claim would count as dead, without spending an attempt.
      await job.moveToDelayed(Date.now() + Math.max(claim.staleInMs, MIN_CLAIM_WAIT_MS), token);
      throw new DelayedError();
    }
    if (claim.takenOver && STALE_SEND_POLICY[channel] === 'give_up') {
      // At most once: the dead worker may have reached the provider, so this one does not.
      const error = `outcome unknown: worker ${claim.takenOver.claimedBy} stopped mid-send; ${channel} is at most once, not sent again`;
      await sendRecords.markUnknown(em, notificationId, channel, claim.token);
      await recordBestEffort('interrupted', { startedAt: claim.takenOver.claimedAt, error });
      await reportFailure({ error, permanent: true });
      observer?.jobFailed(channel, 'permanent');
      throw new UnrecoverableError(error);
    }
    // The takeover's audit row is written next to the provider call, not before it: nothing fallible between claim and send.
    const takeoverNoted = claim.takenOver
      ? recordBestEffort('interrupted', {
          startedAt: claim.takenOver.claimedAt,
          error: `worker ${claim.takenOver.claimedBy} stopped mid-send; sending again with the same idempotency key`,
        })
      : Promise.resolve();

    const started = new Date();
    let receipt: ProviderReceipt;
    try {
      const content = notification.content[channel];
      if (!content) throw new PermanentDeliveryError(`no rendered ${channel} content`);
      if (address instanceof PermanentDeliveryError) throw address;
      receipt = await provider.send({
        notificationId,
        channel,
        recipient: address,
        content: content as never,
        idempotencyKey: `${notificationId}.${channel}`,
      });
    } catch (err) {
      await Promise.all([releaseClaim(claim.token), takeoverNoted]);
      // Our own store failed inside the provider (in-app writes Postgres): not the provider's answer, no attempt spent.
      if (err instanceof InfrastructureError) throw err;
      if (err && typeof err === 'object') providerErrors.add(err);
      const message = err instanceof Error ? err.message : String(err);
      const expired = (err as { expiredPushEndpoints?: string[] }).expiredPushEndpoints;
      if (expired?.length)
        await removePushSubscriptions(em, expired).catch((cleanupErr: unknown) =>
          log(`channel ${channel}: could not remove expired push subscriptions: ${String(cleanupErr)}`),
        );
      if (err instanceof ProviderRateLimitedError) {
        // The provider asked for a pause: pause the whole queue (every worker) and put the job back without spending an attempt.
        await recordBestEffort('rate_limited', { startedAt: started, error: message });
        await worker.rateLimit(err.retryAfterMs);
        throw Worker.RateLimitError();
      }
      // The provider's answer spends an attempt even when its row cannot be written now (the budget is BullMQ's count).
      await recordBestEffort('failed', { startedAt: started, error: message });
      if (err instanceof PermanentDeliveryError) {
        await reportFailure({ error: message, permanent: true });
        observer?.jobFailed(channel, 'permanent');
        throw new UnrecoverableError(message);
      }
      if (lastAttempt) {
        await reportFailure({ error: message });
        observer?.jobFailed(channel, 'exhausted');
      }
      throw err;
    }
    await takeoverNoted;

    // From here the message is out: it is recorded, never sent again.
    await recordDelivered(receipt, started, claimedAtMs);
  };

  /**
   * I4 (docs/contracts.md, "Durability invariants"): an error of our own Postgres or Redis puts the
   * job back with capped exponential backoff and spends no attempt (`moveToDelayed` skips the
   * attempt count; BullMQ's `DelayedError` then leaves the job alone). Provider errors, and the
   * BullMQ control errors thrown on purpose, pass through unchanged.
   */
  const retryLaterIfOurs = async (
    job: Job<SendJobData>,
    token: string | undefined,
    err: unknown,
  ): Promise<never> => {
    // Not `instanceof Error`: errors of Node's own sockets may come from another realm (e.g. under jest).
    const kind =
      typeof err === 'object' && err !== null && !providerErrors.has(err) && !isBullmqControlError(err)
        ? infrastructureKind(err)
        : null;
    if (!kind) throw err;
    // Restarts that spent no attempt so far (this one included): the exponent of the backoff.
    const uncounted = Math.max(1, job.attemptsStarted - job.attemptsMade);
    const delayMs = infrastructureBackoffMs(uncounted, infraRetryMaxBackoffMs);
    retryLog.write(
      `${job.id}: our infrastructure failed (${String(err)}); trying again in ${delayMs} ms without spending an attempt`,
    );
    try {
      const untilMs = Date.now() + delayMs;
      await job.moveToDelayed(untilMs, token);
      observer?.infrastructureRetry?.(channel, delayMs);
      // Socket errors without a reply come from Postgres here (Redis commands wait for their connection, Temporal's are gRPC statuses).
      if (kind === 'postgres' || kind === 'network') recovery.add(job, untilMs);
    } catch (moveErr) {
      // Redis cannot take the move either: the job stays active without a lock renewal and the stall
      // check puts it back once Redis answers (maxStalledCount is sized for that).
      log(
        `channel ${channel}: ${job.id}: could not put the job back (${String(moveErr)}); the stall check will`,
      );
    }
    // Never let such an error reach moveToFailed, which would count an attempt.
    throw new DelayedError();
  };

  const worker: Worker<SendJobData> = new Worker<SendJobData>(
    queueNameFor(channel),
    async (job: Job<SendJobData>, token?: string) => {
      try {
        return await send(job, token);
      } catch (err) {
        return retryLaterIfOurs(job, token, err);
      }
    },
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
  worker.on('closing', () => {
    recovery.stop();
    retryLog.flush();
  });
  return worker;
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

function isCancelled(notification: StoredNotification, channel: Channel): boolean {
  if (notification.lifecycle !== 2) return false;
  const state = notification.channels[channel]?.state;
  // `expired`: the horizon passed while our infrastructure failed; a job still around sends nothing.
  if (notification.state === 'expired' || state === 'expired') return true;
  return (
    notification.state === 'cancelled' ||
    state === 'cancelled' ||
    (state === 'failed' && !!notification.channels[channel]?.fellBackTo)
  );
}

interface AttemptFields {
  notificationId: string;
  channel: Channel;
  provider: string;
  attempt: number;
  status: DeliveryAttemptStatus;
  providerMessageId?: string | null;
  error?: string;
  /** Default: now (an attempt that made no provider call). */
  startedAt?: Date;
}

/** One delivery_attempts row, in one statement; returns the attempt's duration. */
async function recordAttempt(em: EntityManager, fields: AttemptFields): Promise<number> {
  const finishedAt = new Date();
  const startedAt = fields.startedAt ?? finishedAt;
  const durationMs = finishedAt.getTime() - startedAt.getTime();
  await em.insert(DeliveryAttempt, {
    notificationId: fields.notificationId,
    channel: fields.channel,
    attempt: fields.attempt,
    status: fields.status,
    provider: fields.provider,
    providerMessageId: fields.providerMessageId ?? null,
    error: fields.error ?? null,
    startedAt,
    finishedAt,
    durationMs,
  });
  return durationMs;
}

async function addressOf(
  em: EntityManager,
  notification: StoredNotification,
  channel: Channel,
): Promise<RecipientAddress> {
  const recipient = notification.recipient;
  if (!recipient) throw new PermanentDeliveryError(`recipient ${notification.recipientId} no longer exists`);
  const address: RecipientAddress = { ...recipient };
  if (channel === 'push') {
    const subscriptions = await em.find(PushSubscription, { recipientId: recipient.id });
    address.pushSubscriptions = subscriptions.map((s) => ({
      endpoint: s.endpoint,
      keys: { p256dh: s.p256dh, auth: s.auth },
    }));
  }
  return address;
}

async function removePushSubscriptions(em: EntityManager, endpoints: string[]): Promise<void> {
  await em.nativeDelete(PushSubscription, { endpoint: { $in: endpoints } });
}

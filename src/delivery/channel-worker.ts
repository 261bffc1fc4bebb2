import type { EntityManager } from '@mikro-orm/postgresql';
import { DelayedError, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { queueNameFor, type Channel } from '../domain/channels';
import type { ChannelOutcome } from '../domain/notification-status';
import { DeliveryAttempt, PushSubscription, type DeliveryAttemptStatus } from '../db/entities';
import type { Orm } from '../db/orm';
import type { ChannelWorkerConfig } from '../config';
import { loadStoredNotification, type OutcomeRecorder, type StoredNotification } from './outcome-recorder';
import type { OutcomeReporter } from './outcome-reporter';
import {
  PermanentDeliveryError,
  ProviderRateLimitedError,
  type ChannelProvider,
  type ProviderReceipt,
  type RecipientAddress,
} from './providers/provider';
import type { SendJobData } from './send-queues';
import type { SendRecordStore } from './send-record-store';

/** Told about every recorded attempt and final failure (metrics). */
export interface DeliveryObserver {
  attemptRecorded(channel: Channel, status: DeliveryAttemptStatus, durationMs: number): void;
  /** The job will not be tried again: a permanent error, or its attempts are used up. */
  jobFailed(channel: Channel, reason: 'permanent' | 'exhausted'): void;
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
  return config.rateLimit ? { max: config.rateLimit.max, duration: config.rateLimit.durationMs } : UNREACHABLE_LIMIT;
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

/** One worker for one channel queue: claim, send, record the attempt, report the outcome. */
export function startChannelWorker(options: ChannelWorkerOptions): Worker<SendJobData> {
  const { channel, config, orm, provider, sendRecords, outcomes, recorder, observer } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const lockDuration = options.lockDurationMs ?? 30_000;
  const staleAfterMs = options.staleAfterMs ?? 60_000;

  const worker: Worker<SendJobData> = new Worker<SendJobData>(
    queueNameFor(channel),
    async (job: Job<SendJobData>, token?: string) => {
      const { notificationId } = job.data;
      const attempt = job.attemptsMade + 1;
      const lastAttempt = attempt >= (job.opts.attempts ?? 1);
      const em = orm.em.fork();
      const record = (status: DeliveryAttemptStatus, details: Pick<AttemptFields, 'providerMessageId' | 'error' | 'startedAt'> = {}) =>
        recordAttempt(em, { notificationId, channel, provider: provider.name, attempt, status, ...details }).then((durationMs) =>
          observer?.attemptRecorded(channel, status, durationMs),
        );
      const notification = await loadStoredNotification(em, notificationId);
      const report = (outcome: ChannelOutcome): Promise<void> =>
        notification?.lifecycle === 2 ? recorder.record(em, notification, outcome) : outcomes.report(job.data.workflowId ?? '', outcome);
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
      const recordDelivered = async (receipt: ProviderReceipt, started: Date, claimedAtMs: number): Promise<void> => {
        const delivered: ChannelOutcome = { channel, state: 'delivered', attempts: attempt, providerMessageId: receipt.providerMessageId };
        const write = async (retry: boolean): Promise<void> => {
          if (notification.lifecycle === 2) {
            // A retry after an error whose statement may have committed: then only the outcome is left to apply.
            if (retry && (await sendRecords.isSent(em, notificationId, channel))) return recorder.record(em, notification, delivered);
            // Sent, its attempt row and the outcome in one statement.
            const finishedAt = new Date();
            await recorder.recordSent(em, notification, delivered, { attempt, provider: provider.name, providerMessageId: receipt.providerMessageId ?? null, startedAt: started, finishedAt });
            observer?.attemptRecorded(channel, 'delivered', finishedAt.getTime() - started.getTime());
            return;
          }
          await sendRecords.markSent(em, notificationId, channel, receipt.providerMessageId ?? null);
          // Once `sent` is durable, the attempt row and the outcome are independent writes: one round trip for both.
          await Promise.all([
            record('delivered', { startedAt: started, providerMessageId: receipt.providerMessageId }),
            report({ channel, state: 'delivered', attempts: attempt, providerMessageId: receipt.providerMessageId }),
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
              log(`channel ${channel}: ${job.id} was accepted by the provider but could not be recorded after ${tries} tries: ${String(err)}`);
              await job.updateData({ ...job.data, accepted: { providerMessageId: receipt.providerMessageId ?? null, startedAt: started.toISOString() } });
              throw err;
            }
            log(`channel ${channel}: recording the send of ${job.id} failed (try ${tries}), retrying in ${delayMs} ms: ${String(err)}`);
            await new Promise((resolve) => setTimeout(resolve, delayMs));
          }
        }
        if (receipt.expiredPushEndpoints?.length) await removePushSubscriptions(em, receipt.expiredPushEndpoints);
      };

      if (job.data.accepted) {
        // An earlier attempt got the provider's acceptance but could not record it: record it, never send again.
        const { providerMessageId, startedAt } = job.data.accepted;
        return recordDelivered({ providerMessageId: providerMessageId ?? undefined }, new Date(startedAt), Date.now());
      }
      if (isCancelled(notification, channel)) {
        // Cancelled before a provider was called, or given up for a fallback: a late pickup sends nothing.
        await record('skipped_cancelled');
        return;
      }

      // Push subscriptions are read while the claim is taken; the other addresses came with the notification.
      const address = addressOf(em, notification, channel);
      address.catch(() => undefined);
      const claimedAtMs = Date.now();
      const claim = await sendRecords.claim(em, notificationId, channel, options.workerId);
      if (!claim.claimed && claim.status === 'sent') {
        // Sent before (retry after a lost outcome, stall, second hand-off): never call the provider again.
        await record('skipped_duplicate', { providerMessageId: claim.providerMessageId });
        await report({ channel, state: 'delivered', attempts: attempt, providerMessageId: claim.providerMessageId ?? undefined });
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
        await record('interrupted', { startedAt: claim.takenOver.claimedAt, error });
        await reportFailure({ error, permanent: true });
        observer?.jobFailed(channel, 'permanent');
        throw new UnrecoverableError(error);
      }
      if (claim.takenOver) {
        await record('interrupted', {
          startedAt: claim.takenOver.claimedAt,
          error: `worker ${claim.takenOver.claimedBy} stopped mid-send; sending again with the same idempotency key`,
        });
      }

      const started = new Date();
      let receipt: ProviderReceipt;
      try {
        const content = notification.content[channel];
        if (!content) throw new PermanentDeliveryError(`no rendered ${channel} content`);
        const recipient = await address;
        receipt = await provider.send({ notificationId, channel, recipient, content: content as never, idempotencyKey: `${notificationId}.${channel}` });
      } catch (err) {
        await sendRecords.release(em, notificationId, channel, claim.token);
        const message = err instanceof Error ? err.message : String(err);
        const expired = (err as { expiredPushEndpoints?: string[] }).expiredPushEndpoints;
        if (expired?.length) await removePushSubscriptions(em, expired);
        if (err instanceof ProviderRateLimitedError) {
          // The provider asked for a pause: pause the whole queue (every worker) and put the job back without spending an attempt.
          await record('rate_limited', { startedAt: started, error: message });
          await worker.rateLimit(err.retryAfterMs);
          throw Worker.RateLimitError();
        }
        await record('failed', { startedAt: started, error: message });
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

      // From here the message is out: it is recorded, never sent again.
      await recordDelivered(receipt, started, claimedAtMs);
    },
    {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: config.concurrency,
      limiter: effectiveRateLimit(config),
      lockDuration,
      stalledInterval: lockDuration,
      autorun: true,
    },
  );
  // Without a listener an 'error' (e.g. Redis gone for a moment) would be thrown; BullMQ reconnects by itself.
  worker.on('error', (err) => {
    if (!worker.closing) log(`channel ${channel}: worker error: ${err.message}`);
  });
  return worker;
}

function isCancelled(notification: StoredNotification, channel: Channel): boolean {
  if (notification.lifecycle !== 2) return false;
  const state = notification.channels[channel]?.state;
  return notification.state === 'cancelled' || state === 'cancelled' || (state === 'failed' && !!notification.channels[channel]?.fellBackTo);
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

async function addressOf(em: EntityManager, notification: StoredNotification, channel: Channel): Promise<RecipientAddress> {
  const recipient = notification.recipient;
  if (!recipient) throw new PermanentDeliveryError(`recipient ${notification.recipientId} no longer exists`);
  const address: RecipientAddress = { ...recipient };
  if (channel === 'push') {
    const subscriptions = await em.find(PushSubscription, { recipientId: recipient.id });
    address.pushSubscriptions = subscriptions.map((s) => ({ endpoint: s.endpoint, keys: { p256dh: s.p256dh, auth: s.auth } }));
  }
  return address;
}

async function removePushSubscriptions(em: EntityManager, endpoints: string[]): Promise<void> {
  await em.nativeDelete(PushSubscription, { endpoint: { $in: endpoints } });
}

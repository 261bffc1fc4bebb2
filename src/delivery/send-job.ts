import type { EntityManager } from '@mikro-orm/postgresql';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Channel } from '../domain/channels';
import type { ChannelOutcome } from '../domain/notification-status';
import type { DeliveryAttemptStatus } from '../db/entities';
import type { StoredNotification } from '../state/outcome-recorder';
import type { ClaimResult } from '../state/send-records';
import { recordEngagementOfMany, type EngagementKind } from '../state/engagement';
import {
  outcomesGoBySignal,
  reportChannelOutcome,
  rowTellsChannelState,
} from '../release-0/channel-outcomes';
import type { ChannelWorkerOptions } from './channel-worker-options';
import { addressOf, recordAttempt, removePushSubscriptions, type AttemptFields } from './delivery-rows';
import { InfrastructureError } from './infrastructure-errors';
import {
  PermanentDeliveryError,
  ProviderRateLimitedError,
  type ProviderReceipt,
  type RecipientAddress,
} from './providers/provider';
import type { SendJobData } from './send-queues';

/**
 * What a worker does when it takes over the claim of a worker that died mid-send (its claim went
 * stale): whether the provider got the message is unknown. docs/delivery.md, "Exactly once towards providers".
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

/** Never re-check a claim held elsewhere more often than this. */
const MIN_CLAIM_WAIT_MS = 100;

/** Margin kept between the last in-process try to record a send and the moment its claim turns stale. */
const RECORD_SENT_MARGIN_MS = 2_000;

/** What a send job needs of its channel worker. */
export type SendJobDeps = Pick<
  ChannelWorkerOptions,
  'channel' | 'provider' | 'sendRecords' | 'recorder' | 'outcomes' | 'workerId' | 'observer'
> & {
  /** How long a claim lives before another worker may take it over (SEND_RECORD_STALE_MS). */
  staleAfterMs: number;
  /** Writes a line about this channel (the caller prefixes the channel). */
  log: (line: string) => void;
  /** Errors a provider call threw: never classified as ours (an SMTP server's ECONNREFUSED is the provider's). */
  providerErrors: WeakSet<object>;
  /** Pauses the whole queue, every worker (a provider asked for it). */
  pauseQueue: (ms: number) => Promise<void>;
};

/** A claim this job holds: its token, when it was taken, and the takeover's audit row being written. */
interface HeldClaim {
  token: string;
  claimedAtMs: number;
  takeoverNoted: Promise<void>;
}

type AttemptDetails = Pick<AttemptFields, 'providerMessageId' | 'error' | 'startedAt'>;

/**
 * One run of one send job, in steps: address, claim (send record), provider call, record the attempt
 * and the outcome (a step in the notification's row, or a release-0 signal). Errors of our own
 * infrastructure are thrown as they are: the processor (send-job-processor.ts) puts the job back.
 */
export class SendJob {
  private readonly notificationId: string;
  private readonly attempt: number;
  private readonly lastAttempt: boolean;

  constructor(
    private readonly deps: SendJobDeps,
    private readonly job: Job<SendJobData>,
    private readonly token: string | undefined,
    private readonly em: EntityManager,
    private readonly notification: StoredNotification,
  ) {
    this.notificationId = job.data.notificationId;
    this.attempt = job.attemptsMade + 1;
    this.lastAttempt = this.attempt >= (job.opts.attempts ?? 1);
  }

  async run(): Promise<void> {
    // An earlier attempt got the provider's acceptance but could not record it: record it, never send again.
    if (this.job.data.accepted) return this.recordEarlierAcceptance(this.job.data.accepted);
    // Cancelled (or expired) before a provider was called, or given up for a fallback: a late pickup sends nothing.
    if (isCancelled(this.notification, this.deps.channel)) return this.record('skipped_cancelled');
    // Everything fallible that the provider call needs happens before the claim: an error of our own
    // store here leaves no claim behind that the next attempt would mistake for a dead worker's.
    const address = await this.loadAddress();
    const claim = await this.claim();
    if (!claim) return;
    const started = new Date();
    const receipt = await this.sendThroughProvider(address, claim, started);
    // From here the message is out: it is recorded, never sent again.
    await this.recordDelivered(receipt, started, claim.claimedAtMs);
  }

  private recordEarlierAcceptance(accepted: NonNullable<SendJobData['accepted']>): Promise<void> {
    const { providerMessageId, startedAt } = accepted;
    return this.recordDelivered(
      { providerMessageId: providerMessageId ?? undefined },
      new Date(startedAt),
      Date.now(),
    );
  }

  /** The recipient's address; a recipient gone is kept as the channel's permanent failure, decided after the claim (it may have been sent already). */
  private loadAddress(): Promise<RecipientAddress | PermanentDeliveryError> {
    return addressOf(this.em, this.notification, this.deps.channel).catch((err: unknown) => {
      if (err instanceof PermanentDeliveryError) return err;
      throw err;
    });
  }

  /** Claims the send (send record); null when the send record settled the job instead (nothing to send). */
  private async claim(): Promise<HeldClaim | null> {
    const { sendRecords, channel } = this.deps;
    // A claim this job gave back but could not release (Postgres refused): release it now, it is ours.
    if (this.job.data.releasedClaim)
      await sendRecords.release(this.em, this.notificationId, channel, this.job.data.releasedClaim);
    const claimedAtMs = Date.now();
    const claim = await sendRecords.claim(this.em, this.notificationId, channel, this.deps.workerId);
    if (!claim.claimed) {
      await this.settleUnclaimed(claim);
      return null;
    }
    if (claim.takenOver && STALE_SEND_POLICY[channel] === 'give_up')
      return this.giveUpTakenOverSend(claim.token, claim.takenOver);
    return { token: claim.token, claimedAtMs, takeoverNoted: this.noteTakeover(claim.takenOver) };
  }

  /** The send record is not ours: sent or cancelled already, outcome unknown, or another worker is sending. */
  private async settleUnclaimed(claim: Extract<ClaimResult, { claimed: false }>): Promise<void> {
    switch (claim.status) {
      case 'sent':
        // Sent before (retry after a lost outcome, stall, second hand-off): never call the provider again.
        await this.record('skipped_duplicate', { providerMessageId: claim.providerMessageId });
        await this.report({
          channel: this.deps.channel,
          state: 'delivered',
          attempts: this.attempt,
          providerMessageId: claim.providerMessageId ?? undefined,
        });
        return;
      case 'cancelled':
        return this.record('skipped_cancelled');
      case 'unknown':
        return this.failPermanently(
          `outcome unknown: a worker stopped mid-send and ${this.deps.channel} is never sent twice`,
        );
      case 'sending':
        // Another worker is sending this (a stalled job run again while the first worker may still be busy):
        // come back when that claim would count as dead, without spending an attempt.
        await this.job.moveToDelayed(Date.now() + Math.max(claim.staleInMs, MIN_CLAIM_WAIT_MS), this.token);
        throw new DelayedError();
    }
  }

  /** At most once: the dead worker whose claim this is may have reached the provider, so this one does not. */
  private async giveUpTakenOverSend(
    claimToken: string,
    takenOver: { claimedBy: string; claimedAt: Date },
  ): Promise<never> {
    const { channel } = this.deps;
    const error = `outcome unknown: worker ${takenOver.claimedBy} stopped mid-send; ${channel} is at most once, not sent again`;
    await this.deps.sendRecords.markUnknown(this.em, this.notificationId, channel, claimToken);
    await this.recordBestEffort('interrupted', { startedAt: takenOver.claimedAt, error });
    return this.failPermanently(error);
  }

  /** The takeover's audit row is written next to the provider call, not before it: nothing fallible between claim and send. */
  private noteTakeover(takenOver: { claimedBy: string; claimedAt: Date } | null): Promise<void> {
    if (!takenOver) return Promise.resolve();
    return this.recordBestEffort('interrupted', {
      startedAt: takenOver.claimedAt,
      error: `worker ${takenOver.claimedBy} stopped mid-send; sending again with the same idempotency key`,
    });
  }

  private async sendThroughProvider(
    address: RecipientAddress | PermanentDeliveryError,
    claim: HeldClaim,
    started: Date,
  ): Promise<ProviderReceipt> {
    let receipt: ProviderReceipt;
    try {
      receipt = await this.callProvider(address);
    } catch (err) {
      return this.failProviderCall(err, claim, started);
    }
    await claim.takeoverNoted;
    return receipt;
  }

  private async callProvider(address: RecipientAddress | PermanentDeliveryError): Promise<ProviderReceipt> {
    const { channel, provider } = this.deps;
    const content = this.notification.content[channel];
    if (!content) throw new PermanentDeliveryError(`no rendered ${channel} content`);
    if (address instanceof PermanentDeliveryError) throw address;
    return provider.send({
      notificationId: this.notificationId,
      channel,
      recipient: address,
      content: content as never,
      idempotencyKey: `${this.notificationId}.${channel}`,
    });
  }

  /** The provider call failed: give the claim back, record the attempt, and fail, retry or pause the job. */
  private async failProviderCall(err: unknown, claim: HeldClaim, started: Date): Promise<never> {
    await Promise.all([this.releaseClaim(claim.token), claim.takeoverNoted]);
    // Our own store failed inside the provider (in-app writes Postgres): not the provider's answer, no attempt spent.
    if (err instanceof InfrastructureError) throw err;
    if (err && typeof err === 'object') this.deps.providerErrors.add(err);
    const message = err instanceof Error ? err.message : String(err);
    await this.removeExpiredPushEndpoints((err as { expiredPushEndpoints?: string[] }).expiredPushEndpoints);
    if (err instanceof ProviderRateLimitedError) {
      // The provider asked for a pause: pause the whole queue (every worker) and put the job back without spending an attempt.
      await this.recordBestEffort('rate_limited', { startedAt: started, error: message });
      await this.deps.pauseQueue(err.retryAfterMs);
      throw Worker.RateLimitError();
    }
    // The provider's answer spends an attempt even when its row cannot be written now (the budget is BullMQ's count).
    await this.recordBestEffort('failed', { startedAt: started, error: message });
    if (err instanceof PermanentDeliveryError) return this.failPermanently(message);
    if (this.lastAttempt) {
      await this.reportFailure({ error: message });
      this.deps.observer?.jobFailed(this.deps.channel, 'exhausted');
    }
    throw err;
  }

  private async removeExpiredPushEndpoints(expired: string[] | undefined): Promise<void> {
    if (!expired?.length) return;
    await removePushSubscriptions(this.em, expired).catch((cleanupErr: unknown) =>
      this.deps.log(`could not remove expired push subscriptions: ${String(cleanupErr)}`),
    );
  }

  /**
   * Gives the claim back after a failed provider call. If Postgres refuses that too, the job data
   * remembers the claim so that the next attempt releases it first instead of waiting for it to
   * turn stale and taking it over as a dead worker's (for sms: "outcome unknown", never sent).
   */
  private async releaseClaim(claimToken: string): Promise<void> {
    const { job, deps } = this;
    try {
      await deps.sendRecords.release(this.em, this.notificationId, deps.channel, claimToken);
    } catch (err) {
      deps.log(`could not release the claim of ${job.id}, remembering it in the job: ${String(err)}`);
      await job.updateData({ ...job.data, releasedClaim: claimToken }).catch((redisErr: unknown) => {
        deps.log(
          `could not remember the claim of ${job.id} either (it turns stale after ${deps.staleAfterMs} ms): ${String(redisErr)}`,
        );
      });
    }
  }

  /**
   * The provider accepted the message: make that durable (send record `sent`, attempt, outcome).
   * A failed write is retried here, not by running the job again (which would find its own claim,
   * wait for it to turn stale and send a second copy), for as long as the claim is not stale: no
   * other worker can take it over meanwhile. Past that, the job data in Redis remembers the
   * acceptance so that the next attempt records it instead of sending.
   */
  private async recordDelivered(receipt: ProviderReceipt, started: Date, claimedAtMs: number): Promise<void> {
    const deadline = claimedAtMs + this.deps.staleAfterMs - RECORD_SENT_MARGIN_MS;
    for (let tries = 1; ; tries++) {
      try {
        await this.writeDelivered(receipt, started, tries > 1);
        break;
      } catch (err) {
        const delayMs = Math.min(100 * 2 ** (tries - 1), 2_000);
        if (Date.now() + delayMs >= deadline) {
          await this.rememberAcceptance(receipt, started, tries, err);
          throw err;
        }
        this.deps.log(
          `recording the send of ${this.job.id} failed (try ${tries}), retrying in ${delayMs} ms: ${String(err)}`,
        );
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
    if (receipt.expiredPushEndpoints?.length)
      await removePushSubscriptions(this.em, receipt.expiredPushEndpoints);
    await this.recordAcceptanceEngagement(receipt);
  }

  /**
   * Engagement `sent`, and `delivered` where acceptance is all we ever learn (providers without
   * receipts; docs/tracking-and-receipts.md). Counters only: a failure here is logged, never retried
   * by sending again.
   */
  private async recordAcceptanceEngagement(receipt: ProviderReceipt): Promise<void> {
    const { channel, provider } = this.deps;
    const kinds: EngagementKind[] = provider.receipts ? ['sent'] : ['sent', 'delivered'];
    const detail = receipt.providerMessageId ? { providerMessageId: receipt.providerMessageId } : undefined;
    try {
      await recordEngagementOfMany(this.em, [this.notificationId], { channel, kinds, detail });
    } catch (err) {
      this.deps.log(`could not record the engagement of ${this.job.id}: ${String(err)}`);
    }
  }

  /** In-process tries are used up: the job data keeps the acceptance for the next attempt. */
  private async rememberAcceptance(
    receipt: ProviderReceipt,
    started: Date,
    tries: number,
    err: unknown,
  ): Promise<void> {
    this.deps.log(
      `${this.job.id} was accepted by the provider but could not be recorded after ${tries} tries: ${String(err)}`,
    );
    await this.job.updateData({
      ...this.job.data,
      accepted: { providerMessageId: receipt.providerMessageId ?? null, startedAt: started.toISOString() },
    });
  }

  /** One try at recording the accepted send; `retry`: an earlier try may have committed before failing. */
  private async writeDelivered(receipt: ProviderReceipt, started: Date, retry: boolean): Promise<void> {
    const delivered: ChannelOutcome = {
      channel: this.deps.channel,
      state: 'delivered',
      attempts: this.attempt,
      providerMessageId: receipt.providerMessageId,
    };
    if (outcomesGoBySignal(this.notification)) {
      const { sendRecords, channel } = this.deps;
      await sendRecords.markSent(this.em, this.notificationId, channel, receipt.providerMessageId ?? null);
      // Once `sent` is durable, the attempt row and the outcome are independent writes: one round trip for both.
      await Promise.all([
        this.record('delivered', { startedAt: started, providerMessageId: receipt.providerMessageId }),
        this.report(delivered),
      ]);
      return;
    }
    await this.writeDeliveredToRow(receipt, started, retry, delivered);
  }

  /** Lean event path: sent, its attempt row and the outcome in one statement. */
  private async writeDeliveredToRow(
    receipt: ProviderReceipt,
    started: Date,
    retry: boolean,
    delivered: ChannelOutcome,
  ): Promise<void> {
    const { em, notification, deps } = this;
    // A retry after an error whose statement may have committed: then only the outcome is left to apply.
    if (retry && (await deps.sendRecords.isSent(em, this.notificationId, deps.channel)))
      return deps.recorder.record(em, notification, delivered);
    const finishedAt = new Date();
    await deps.recorder.recordSent(em, notification, delivered, {
      attempt: this.attempt,
      provider: deps.provider.name,
      providerMessageId: receipt.providerMessageId ?? null,
      startedAt: started,
      finishedAt,
    });
    deps.observer?.attemptRecorded(deps.channel, 'delivered', finishedAt.getTime() - started.getTime());
  }

  private async record(status: DeliveryAttemptStatus, details: AttemptDetails = {}): Promise<void> {
    const { channel, provider, observer } = this.deps;
    const durationMs = await recordAttempt(this.em, {
      notificationId: this.notificationId,
      channel,
      provider: provider.name,
      attempt: this.attempt,
      status,
      ...details,
    });
    observer?.attemptRecorded(channel, status, durationMs);
  }

  /** An audit row whose loss must not change what happens to the job (our store may be the thing failing). */
  private recordBestEffort(status: DeliveryAttemptStatus, details: AttemptDetails = {}): Promise<void> {
    return this.record(status, details).catch((err: unknown) =>
      this.deps.log(`could not record the ${status} attempt of ${this.job.id}: ${String(err)}`),
    );
  }

  private report(outcome: ChannelOutcome): Promise<void> {
    return reportChannelOutcome(
      this.deps,
      this.em,
      this.notification,
      this.job.data.workflowId ?? '',
      outcome,
    );
  }

  /** A failure is final here; if it cannot be recorded now, the workflow reconciles the channel at its deadline. */
  private reportFailure(outcome: Omit<ChannelOutcome, 'channel' | 'state' | 'attempts'>): Promise<void> {
    const { channel } = this.deps;
    return this.report({ channel, state: 'failed', attempts: this.attempt, ...outcome }).catch(
      (err: unknown) => {
        this.deps.log(`could not report the failure of ${this.job.id}: ${String(err)}`);
      },
    );
  }

  /** The channel failed for good: reported, counted, and the job is not tried again. */
  private async failPermanently(error: string): Promise<never> {
    await this.reportFailure({ error, permanent: true });
    this.deps.observer?.jobFailed(this.deps.channel, 'permanent');
    throw new UnrecoverableError(error);
  }
}

function isCancelled(notification: StoredNotification, channel: Channel): boolean {
  if (!rowTellsChannelState(notification)) return false;
  const state = notification.channels[channel]?.state;
  // `expired`: the horizon passed while our infrastructure failed; a job still around sends nothing.
  if (notification.state === 'expired' || state === 'expired') return true;
  return (
    notification.state === 'cancelled' ||
    state === 'cancelled' ||
    (state === 'failed' && !!notification.channels[channel]?.fellBackTo)
  );
}

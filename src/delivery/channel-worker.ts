import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { queueNameFor, type Channel } from '../domain/channels';
import { DeliveryAttempt, Notification, PushSubscription, Recipient, type DeliveryAttemptStatus } from '../db/entities';
import type { Orm } from '../db/orm';
import type { ChannelWorkerConfig } from '../config';
import type { OutcomeReporter } from './outcome-reporter';
import {
  PermanentDeliveryError,
  ProviderRateLimitedError,
  type ChannelProvider,
  type RecipientAddress,
} from './providers/provider';
import type { SendJobData } from './send-queues';
import type { SendRecordStore } from './send-record-store';

export interface ChannelWorkerOptions {
  channel: Channel;
  connection: ConnectionOptions;
  prefix: string;
  config: ChannelWorkerConfig;
  orm: Orm;
  provider: ChannelProvider;
  sendRecords: SendRecordStore;
  outcomes: OutcomeReporter;
  /** Identifies this process in send records (host:pid). */
  workerId: string;
  /** Lock duration in ms; a job whose worker died is picked up again after it. Default 30000. */
  lockDurationMs?: number;
}

/** One worker for one channel queue: claim, send, record the attempt, report the outcome. */
export function startChannelWorker(options: ChannelWorkerOptions): Worker<SendJobData> {
  const { channel, config, orm, provider, sendRecords, outcomes } = options;

  const worker: Worker<SendJobData> = new Worker<SendJobData>(
    queueNameFor(channel),
    async (job: Job<SendJobData>) => {
      const { notificationId, workflowId } = job.data;
      const attempt = job.attemptsMade + 1;
      const maxAttempts = job.opts.attempts ?? 1;
      const em = orm.em.fork();
      const started = new Date();
      const recordAttempt = async (status: DeliveryAttemptStatus, extra: { providerMessageId?: string | null; error?: string } = {}) => {
        const finished = new Date();
        em.create(DeliveryAttempt, {
          notificationId,
          channel,
          attempt,
          status,
          provider: provider.name,
          providerMessageId: extra.providerMessageId ?? null,
          error: extra.error ?? null,
          startedAt: started,
          finishedAt: finished,
          durationMs: finished.getTime() - started.getTime(),
        });
        await em.flush();
      };

      const notification = await em.findOne(Notification, { id: notificationId });
      if (!notification) {
        await outcomes.report(workflowId, { channel, state: 'failed', attempts: attempt, error: 'notification not found', permanent: true });
        throw new UnrecoverableError(`notification ${notificationId} not found`);
      }

      const claim = await sendRecords.claim(em, notificationId, channel, options.workerId);
      if (!claim.claimed) {
        if (claim.status === 'sent') {
          // Sent before (retry, stall, second hand-off): never call the provider again, just report.
          await recordAttempt('skipped_duplicate', { providerMessageId: claim.providerMessageId });
          await outcomes.report(workflowId, { channel, state: 'delivered', attempts: attempt, providerMessageId: claim.providerMessageId ?? undefined });
          return;
        }
        throw new Error('another worker is sending this message; retrying later');
      }

      const content = notification.content[channel];
      try {
        if (!content) throw new PermanentDeliveryError(`no rendered ${channel} content`);
        const recipient = await loadAddress(orm, notification.recipientId, channel);
        const receipt = await provider.send({ notificationId, channel, recipient, content, idempotencyKey: `${notificationId}.${channel}` });
        await sendRecords.markSent(em, notificationId, channel, receipt.providerMessageId ?? null);
        await recordAttempt('delivered', { providerMessageId: receipt.providerMessageId });
        if (receipt.expiredPushEndpoints?.length) await removePushSubscriptions(orm, receipt.expiredPushEndpoints);
        await outcomes.report(workflowId, { channel, state: 'delivered', attempts: attempt, providerMessageId: receipt.providerMessageId });
      } catch (err) {
        await sendRecords.release(em, notificationId, channel);
        const message = err instanceof Error ? err.message : String(err);
        const expired = (err as { expiredPushEndpoints?: string[] }).expiredPushEndpoints;
        if (expired?.length) await removePushSubscriptions(orm, expired);
        if (err instanceof ProviderRateLimitedError) {
          // The provider asked for a pause: pause the whole queue and put the job back without spending an attempt.
          await recordAttempt('rate_limited', { error: message });
          await worker.rateLimit(err.retryAfterMs);
          throw Worker.RateLimitError();
        }
        await recordAttempt('failed', { error: message });
        if (err instanceof PermanentDeliveryError) {
          await outcomes.report(workflowId, { channel, state: 'failed', attempts: attempt, error: message, permanent: true });
          throw new UnrecoverableError(message);
        }
        if (attempt >= maxAttempts) {
          await outcomes.report(workflowId, { channel, state: 'failed', attempts: attempt, error: message });
        }
        throw err;
      }
    },
    {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: config.concurrency,
      limiter: config.rateLimit ? { max: config.rateLimit.max, duration: config.rateLimit.durationMs } : undefined,
      lockDuration: options.lockDurationMs ?? 30_000,
      autorun: true,
    },
  );
  return worker;
}

async function loadAddress(orm: Orm, recipientId: string, channel: Channel): Promise<RecipientAddress> {
  const em = orm.em.fork();
  const recipient = await em.findOne(Recipient, { id: recipientId });
  if (!recipient) throw new PermanentDeliveryError(`recipient ${recipientId} no longer exists`);
  const address: RecipientAddress = { id: recipient.id, email: recipient.email, phone: recipient.phone, webhookUrl: recipient.webhookUrl };
  if (channel === 'push') {
    const subscriptions = await em.find(PushSubscription, { recipientId });
    address.pushSubscriptions = subscriptions.map((s) => ({ endpoint: s.endpoint, keys: { p256dh: s.p256dh, auth: s.auth } }));
  }
  return address;
}

async function removePushSubscriptions(orm: Orm, endpoints: string[]): Promise<void> {
  await orm.em.fork().nativeDelete(PushSubscription, { endpoint: { $in: endpoints } });
}

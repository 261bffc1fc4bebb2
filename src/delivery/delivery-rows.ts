import type { EntityManager } from '@mikro-orm/postgresql';
import type { Channel } from '../domain/channels';
import { DeliveryAttempt, PushSubscription, type DeliveryAttemptStatus } from '../db/entities';
import type { StoredNotification } from '../state/outcome-recorder';
import { PermanentDeliveryError, type RecipientAddress } from './providers/provider';

/** The rows a send job reads and writes besides its notification and its send record. */

export interface AttemptFields {
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
export async function recordAttempt(em: EntityManager, fields: AttemptFields): Promise<number> {
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

/** Where the channel reaches the recipient; a recipient deleted since is a PermanentDeliveryError. */
export async function addressOf(
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

/** Push endpoints the push service reported gone (404/410): never sent to again. */
export async function removePushSubscriptions(em: EntityManager, endpoints: string[]): Promise<void> {
  await em.nativeDelete(PushSubscription, { endpoint: { $in: endpoints } });
}

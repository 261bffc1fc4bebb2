import type { EntityManager } from '@mikro-orm/postgresql';
import type { Channel } from '../domain/channels';
import { applyFailedReceipt } from '../domain/notification-lifecycle';
import { recordEngagement } from './engagement';
import { writeOutcome } from './notification-store';
import { loadStoredNotification } from './outcome-recorder';

/** What a provider's receipt says of a message it accepted. */
export type ReceiptKind = 'delivered' | 'undelivered' | 'bounced' | 'complained';

export interface DeliveryReceipt {
  notificationId: string;
  channel: Channel;
  kind: ReceiptKind;
  /** When the provider saw it; now when absent. */
  at?: Date;
  /** The provider's words (error code, bounce description), kept as the channel's error. */
  error?: string;
  detail?: Record<string, unknown>;
}

const MAX_CONFLICTS = 8;

/**
 * A receipt is counted in notification_engagement (idempotent: a repeat bumps count only), and an
 * undelivered or bounced one moves the channel from delivered to failed on the notification. The
 * move checks the channel's state, not `first`, so a receipt whose first try recorded the count but
 * not the move completes it when the provider sends it again.
 */
export async function recordDeliveryReceipt(
  em: EntityManager,
  receipt: DeliveryReceipt,
): Promise<{ first: boolean; count: number; moved: boolean }> {
  const { notificationId, channel, kind, at, detail } = receipt;
  const counted = await recordEngagement(em, { notificationId, channel, kind, at, detail });
  if (counted.count === 0 || (kind !== 'undelivered' && kind !== 'bounced'))
    return { ...counted, moved: false };
  const error = `${kind}${receipt.error ? `: ${receipt.error}` : ''}`.slice(0, 500);
  for (let conflicts = 0; conflicts < MAX_CONFLICTS; conflicts++) {
    const known = await loadStoredNotification(em, notificationId);
    if (!known) break;
    const step = applyFailedReceipt(known, channel, error);
    if (!step.changed) break;
    const written = await writeOutcome(em, notificationId, known.version, step);
    if (Number(written.updated) > 0) return { ...counted, moved: true };
  }
  return { ...counted, moved: false };
}

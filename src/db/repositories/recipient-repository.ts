import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { QuietHours } from '../../domain/quiet-hours';
import { PushSubscription, Recipient } from '../entities';

export interface PushSubscriptionInput {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** Fields of an upsert; an absent field keeps its stored value (or the default on create), null clears it. */
export interface RecipientInput {
  name?: string | null;
  email?: string | null;
  phone?: string | null;
  timezone?: string;
  locale?: string;
  roles?: string[];
  muted?: boolean;
  quietHours?: QuietHours | null;
  webhookUrl?: string | null;
  /** When present, replaces the recipient's push subscriptions. */
  pushSubscriptions?: PushSubscriptionInput[];
}

export interface RecipientView {
  recipient: Recipient;
  pushSubscriptions: PushSubscription[];
}

export class RecipientRepository {
  constructor(private readonly em: EntityManager) {}

  findById(id: string): Promise<Recipient | null> {
    return this.em.findOne(Recipient, { id });
  }

  async view(id: string): Promise<RecipientView | null> {
    const recipient = await this.findById(id);
    if (!recipient) return null;
    return { recipient, pushSubscriptions: await this.em.find(PushSubscription, { recipientId: id }, { orderBy: { createdAt: 'asc' } }) };
  }

  /** Creates or updates a recipient and, when given, its push subscriptions, in one transaction. */
  async upsert(id: string, input: RecipientInput): Promise<{ created: boolean; view: RecipientView }> {
    return this.em.transactional(async (em) => {
      const inserted = await em
        .getConnection()
        .execute(`insert into recipients (id) values (?) on conflict (id) do nothing returning id`, [id], 'all', em.getTransactionContext());
      // Row lock: two concurrent upserts of one recipient apply one after the other.
      const recipient = await em.findOneOrFail(Recipient, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      const { pushSubscriptions, ...fields } = input;
      for (const [key, value] of Object.entries(fields)) {
        if (value !== undefined) (recipient as unknown as Record<string, unknown>)[key] = value;
      }
      recipient.updatedAt = new Date();
      if (pushSubscriptions) {
        await em.nativeDelete(PushSubscription, { recipientId: id });
        // An endpoint belongs to one browser: re-registering it under another recipient moves it.
        await em.nativeDelete(PushSubscription, { endpoint: { $in: pushSubscriptions.map((s) => s.endpoint) } });
        for (const s of pushSubscriptions) {
          em.create(PushSubscription, { recipientId: id, endpoint: s.endpoint, p256dh: s.keys.p256dh, auth: s.keys.auth, createdAt: new Date() });
        }
      }
      await em.flush();
      const subscriptions = await em.find(PushSubscription, { recipientId: id }, { orderBy: { createdAt: 'asc' } });
      return { created: inserted.length === 1, view: { recipient, pushSubscriptions: subscriptions } };
    });
  }
}

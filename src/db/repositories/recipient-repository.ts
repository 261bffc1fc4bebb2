import { randomBytes } from 'node:crypto';
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
  /** Set only when this call issued a new webhook signing secret (a new webhookUrl): shown once, never again. */
  issuedWebhookSecret?: string;
}

/** A new webhook signing secret: 32 random bytes, base64url, with a prefix that makes it recognisable in a secret scanner. */
function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

export class RecipientRepository {
  constructor(private readonly em: EntityManager) {}

  findById(id: string): Promise<Recipient | null> {
    return this.em.findOne(Recipient, { id });
  }

  /**
   * Recipients whose id starts with `q` or whose name or email contains it (any case), newest first;
   * every recipient without `q`. LIKE wildcards in `q` match themselves.
   */
  search(q: string | undefined, limit: number): Promise<Recipient[]> {
    const literal = q?.replace(/[\\%_]/g, '\\$&');
    const where =
      literal === undefined
        ? {}
        : {
            $or: [
              { id: { $like: `${literal}%` } },
              { name: { $ilike: `%${literal}%` } },
              { email: { $ilike: `%${literal}%` } },
            ],
          };
    return this.em.find(Recipient, where, { orderBy: { createdAt: 'desc', id: 'asc' }, limit });
  }

  async view(id: string): Promise<RecipientView | null> {
    const recipient = await this.findById(id);
    if (!recipient) return null;
    return {
      recipient,
      pushSubscriptions: await this.em.find(
        PushSubscription,
        { recipientId: id },
        { orderBy: { createdAt: 'asc' } },
      ),
    };
  }

  /** Creates or updates a recipient and, when given, its push subscriptions, in one transaction. */
  async upsert(id: string, input: RecipientInput): Promise<{ created: boolean; view: RecipientView }> {
    return this.em.transactional(async (em) => {
      const inserted = await em
        .getConnection()
        .execute(
          `insert into recipients (id) values (?) on conflict (id) do nothing returning id`,
          [id],
          'all',
          em.getTransactionContext(),
        );
      // Row lock: two concurrent upserts of one recipient apply one after the other.
      const recipient = await em.findOneOrFail(Recipient, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      const { pushSubscriptions, ...fields } = input;
      const issuedWebhookSecret = applyFields(recipient, fields);
      if (pushSubscriptions) await replacePushSubscriptions(em, id, pushSubscriptions);
      await em.flush();
      const subscriptions = await em.find(
        PushSubscription,
        { recipientId: id },
        { orderBy: { createdAt: 'asc' } },
      );
      return {
        created: inserted.length === 1,
        view: { recipient, pushSubscriptions: subscriptions, issuedWebhookSecret },
      };
    });
  }

  /**
   * Rotates the signing secret of a recipient's webhook endpoint: a new current secret; the old one
   * keeps signing too (both `v1=` values are sent) until `previousValidForMs` from now, so the
   * receiver can switch to the new one at leisure. Null when the recipient or its endpoint is missing.
   */
  async rotateWebhookSecret(
    id: string,
    previousValidForMs: number,
  ): Promise<{ secret: string; previousValidUntil: Date | null } | null> {
    return this.em.transactional(async (em) => {
      const recipient = await em.findOne(Recipient, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!recipient?.webhookUrl) return null;
      const secret = newWebhookSecret();
      const keep = previousValidForMs > 0 && recipient.webhookSecret;
      recipient.webhookSecretPrevious = keep ? recipient.webhookSecret : null;
      recipient.webhookSecretPreviousUntil = keep ? new Date(Date.now() + previousValidForMs) : null;
      recipient.webhookSecret = secret;
      recipient.updatedAt = new Date();
      await em.flush();
      return { secret, previousValidUntil: recipient.webhookSecretPreviousUntil };
    });
  }
}

/**
 * Sets the given fields (undefined keeps a value). A new endpoint gets a new secret, returned to be shown
 * once (the old one was shared with someone else's receiver, maybe); no endpoint, no secret.
 */
function applyFields(
  recipient: Recipient,
  fields: Omit<RecipientInput, 'pushSubscriptions'>,
): string | undefined {
  const previousUrl = recipient.webhookUrl;
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) (recipient as unknown as Record<string, unknown>)[key] = value;
  }
  let issuedWebhookSecret: string | undefined;
  if (recipient.webhookUrl !== previousUrl || (recipient.webhookUrl && !recipient.webhookSecret)) {
    issuedWebhookSecret = recipient.webhookUrl ? newWebhookSecret() : undefined;
    recipient.webhookSecret = issuedWebhookSecret ?? null;
    recipient.webhookSecretPrevious = null;
    recipient.webhookSecretPreviousUntil = null;
  }
  recipient.updatedAt = new Date();
  return issuedWebhookSecret;
}

/** The recipient's push subscriptions become `subscriptions` (flushed by the caller). */
async function replacePushSubscriptions(
  em: EntityManager,
  recipientId: string,
  subscriptions: PushSubscriptionInput[],
): Promise<void> {
  await em.nativeDelete(PushSubscription, { recipientId });
  // An endpoint belongs to one browser: re-registering it under another recipient moves it.
  await em.nativeDelete(PushSubscription, { endpoint: { $in: subscriptions.map((s) => s.endpoint) } });
  for (const s of subscriptions) {
    em.create(PushSubscription, {
      recipientId,
      endpoint: s.endpoint,
      p256dh: s.keys.p256dh,
      auth: s.keys.auth,
      createdAt: new Date(),
    });
  }
}

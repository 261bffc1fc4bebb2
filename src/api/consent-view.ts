import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { consentHistory, consentsOf, recordConsents } from '../db/repositories/consent-repository';
import { CHANNELS } from '../domain/channels';
import {
  CONSENT_ACTIONS,
  CONSENT_CATEGORIES,
  type ConsentCategory,
  type ConsentSource,
} from '../domain/consent';

/** A recipient's consent as the preferences answers show it (docs/consent.md). */
export const consentSchema = z
  .record(
    z.string(),
    z.object({
      granted: z.boolean(),
      at: z.string().nullable().describe('when it was given or withdrawn; null: never asked'),
      source: z.string().nullable(),
    }),
  )
  .describe('category -> opt-in; categories that need one only (nothing is sent in them without it)');

export const consentHistorySchema = z
  .array(
    z.object({
      action: z.enum(CONSENT_ACTIONS),
      category: z.string(),
      channel: z.enum(CHANNELS).nullable(),
      source: z.string(),
      notificationId: z.string().nullable(),
      at: z.string(),
    }),
  )
  .describe('the newest consent changes, newest first: opt-ins, opt-outs, unsubscribes (links, SMS STOP)');

/** The body fields of a preferences change that touch consent. */
export const consentBodyFields = {
  consent: z
    .object(Object.fromEntries(CONSENT_CATEGORIES.map((c) => [c, z.boolean().optional()])))
    .strict()
    .optional()
    .describe('opt in (true) or out (false) of a category that needs consent, e.g. {"marketing":true}'),
  consentSource: z
    .enum(['api', 'inbox'])
    .optional()
    .describe(
      'recorded with a consent change from a shopper: `inbox` from the notification center; default `api` (operators: `admin`)',
    ),
};

export type ConsentView = z.infer<typeof consentSchema>;
export type ConsentHistoryView = z.infer<typeof consentHistorySchema>;

/** The recipient's consent per consent category and its newest consent events. */
export async function readConsent(
  em: EntityManager,
  recipientId: string,
): Promise<{ consent: ConsentView; consentHistory: ConsentHistoryView }> {
  const [stored, history] = await Promise.all([consentsOf(em, recipientId), consentHistory(em, recipientId)]);
  const consent: ConsentView = {};
  for (const category of CONSENT_CATEGORIES) {
    const c = stored.find((s) => s.category === category);
    consent[category] = c
      ? { granted: c.granted, at: c.at.toISOString(), source: c.source }
      : { granted: false, at: null, source: null };
  }
  const consentHistoryView = history.map((e) => ({
    action: e.action,
    category: e.category,
    channel: e.channel,
    source: e.source,
    notificationId: e.notificationId,
    at: e.at.toISOString(),
  }));
  return { consent, consentHistory: consentHistoryView };
}

/** Records the consent part of a preferences change, now, with its source (a choice unchanged logs nothing). */
export async function applyConsentChange(
  em: EntityManager,
  recipientId: string,
  consent: Partial<Record<ConsentCategory, boolean | undefined>> | undefined,
  source: ConsentSource,
): Promise<void> {
  const at = new Date();
  const changes = Object.entries(consent ?? {})
    .filter((entry): entry is [string, boolean] => typeof entry[1] === 'boolean')
    .map(([category, granted]) => ({ recipientId, category, granted, at, source }));
  await recordConsents(em, changes);
}

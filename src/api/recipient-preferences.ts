import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import {
  PreferenceRepository,
  type PreferenceCell,
  type StoredPreferences,
} from '../db/repositories/preference-repository';
import { CHANNELS, type Channel } from '../domain/channels';
import { CATEGORIES, isMandatory, MANDATORY_CHANNELS, type Category } from '../domain/event-catalog';
import { CONSENT_CATEGORIES, type ConsentSource } from '../domain/consent';
import {
  applyConsentChange,
  consentBodyFields,
  consentHistorySchema,
  consentSchema,
  readConsent,
} from './consent-view';
import { ApiError, notFound } from './errors';
import { preferencesMatrixSchema, quietHoursSchema } from './schemas';

/** One recipient's preferences as the shopper (/api/preferences) and the operators (/api/admin/recipients/{id}/preferences) see and change them. */
export const preferencesSchema = z.object({
  muted: z.boolean().describe('every non-mandatory channel off'),
  quietHours: z.object({ start: z.string(), end: z.string(), timezone: z.string() }).nullable(),
  channels: z
    .record(z.string(), z.record(z.string(), z.boolean()))
    .describe('category -> channel -> enabled'),
  mandatory: z
    .record(z.string(), z.array(z.string()))
    .describe('category -> channels that cannot be switched off'),
  consent: consentSchema,
  consentHistory: consentHistorySchema,
});

export const preferencesBody = z
  .object({
    muted: z.boolean().optional(),
    quietHours: quietHoursSchema.nullable().optional().describe('null removes quiet hours'),
    channels: preferencesMatrixSchema
      .optional()
      .describe('only the cells given change, e.g. {"marketing":{"email":false}}'),
    ...consentBodyFields,
  })
  .strict();

export type PreferencesView = z.infer<typeof preferencesSchema>;

export const PREFERENCES_DESCRIPTION = `Categories: ${CATEGORIES.join(', ')}. Channels: ${CHANNELS.join(', ')}.
Mandatory (transactional) cells — ${Object.entries(MANDATORY_CHANNELS)
  .map(([category, channels]) => `${category}: ${channels.join(', ')}`)
  .join('; ')} — cannot be switched off: such a request answers 400 naming the cell and changes nothing.
\`muted\` switches off every non-mandatory channel; quiet hours delay every notification except urgent ones.
Consent: ${CONSENT_CATEGORIES.join(', ')} reach a recipient only after an opt-in (\`consent\`, recorded with its time and source); \`consentHistory\` lists opt-ins, opt-outs and unsubscribes.`;

/** The recipient's preferences; 404 when there is no such recipient. */
export async function readPreferences(em: EntityManager, recipientId: string): Promise<PreferencesView> {
  const stored = await new PreferenceRepository(em).load(recipientId);
  if (!stored) throw notFound('recipient');
  return { ...preferencesView(stored), ...(await readConsent(em, recipientId)) };
}

/**
 * Applies a change (400 naming any mandatory cell switched off, and nothing changes); 404 when there is
 * no such recipient. A consent change is recorded with `consentSource` (shoppers) or `source` (operators: admin).
 */
export async function changePreferences(
  em: EntityManager,
  recipientId: string,
  change: z.infer<typeof preferencesBody>,
  source?: ConsentSource,
): Promise<PreferencesView> {
  const cells: PreferenceCell[] = [];
  const forced: string[] = [];
  for (const [category, byChannel] of Object.entries(change.channels ?? {})) {
    for (const [channel, enabled] of Object.entries(byChannel ?? {})) {
      if (enabled === undefined) continue;
      if (!enabled && isMandatory(category, channel as Channel))
        forced.push(`channels.${category}.${channel}`);
      cells.push({ category, channel: channel as Channel, enabled });
    }
  }
  if (forced.length) {
    throw new ApiError(
      400,
      `invalid body: ${forced.join(', ')}: mandatory, cannot be switched off`,
      forced,
      'body',
    );
  }
  const repository = new PreferenceRepository(em);
  if (!(await repository.update(recipientId, { muted: change.muted, quietHours: change.quietHours, cells })))
    throw notFound('recipient');
  await applyConsentChange(em, recipientId, change.consent, source ?? change.consentSource ?? 'api');
  return readPreferences(em, recipientId);
}

/** The full matrix; a cell without a stored choice is on, and a mandatory cell is always on. */
function preferencesView(stored: StoredPreferences): Omit<PreferencesView, 'consent' | 'consentHistory'> {
  const off = new Set(stored.cells.filter((c) => !c.enabled).map((c) => `${c.category}.${c.channel}`));
  const channels: Record<string, Record<string, boolean>> = {};
  for (const category of CATEGORIES) {
    channels[category] = Object.fromEntries(
      CHANNELS.map((channel) => [
        channel,
        isMandatory(category, channel) || !off.has(`${category}.${channel}`),
      ]),
    );
  }
  const mandatory = Object.fromEntries(
    CATEGORIES.map((category: Category) => [category, MANDATORY_CHANNELS[category] ?? []]),
  );
  return { muted: stored.muted, quietHours: stored.quietHours, channels, mandatory };
}

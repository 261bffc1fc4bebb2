import type { Category } from './event-catalog';

/**
 * Categories that need the recipient's opt-in before anything is sent on any channel (docs/consent.md).
 * Every other category keeps its preferences as they are: on until switched off.
 */
export const CONSENT_CATEGORIES = ['marketing'] as const satisfies readonly Category[];
export type ConsentCategory = (typeof CONSENT_CATEGORIES)[number];

/** Where a consent change came from; recorded with every change in consent_events. */
export const CONSENT_SOURCES = [
  'api',
  'inbox',
  'admin',
  'import',
  'one-click',
  'email-link',
  'sms-stop',
] as const;
export type ConsentSource = (typeof CONSENT_SOURCES)[number];

/**
 * What a consent_events row records: a category's opt-in or opt-out, or one channel of a category switched
 * off (an unsubscribe link, an SMS STOP) or back on (the unsubscribe page's resubscribe).
 */
export const CONSENT_ACTIONS = ['opt-in', 'opt-out', 'unsubscribe', 'resubscribe'] as const;
export type ConsentAction = (typeof CONSENT_ACTIONS)[number];

export function needsConsent(category: string): category is ConsentCategory {
  return (CONSENT_CATEGORIES as readonly string[]).includes(category);
}

/** The reason a notification of a consent category shows on each channel when the recipient has not opted in. */
export function consentMissingReason(category: string): string {
  return `consent: ${category} needs an opt-in`;
}

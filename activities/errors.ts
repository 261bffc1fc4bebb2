import { ApplicationFailure } from '@temporalio/common';

/** Failure types the workflows treat as final (never retried); docs/contracts.md, "Retry budgets". */
export const NON_RETRYABLE_TYPES = [
  'InvalidEvent',
  'RecipientNotFound',
  'TemplateNotFound',
  'TemplateVariableMissing',
  'TemplateSyntax',
  'InvalidCampaign',
  'CampaignNotFound',
  'DatabaseRejected',
  'NothingToRedrive',
] as const;
export type NonRetryableType = (typeof NON_RETRYABLE_TYPES)[number];

export function businessFailure(type: NonRetryableType, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

/**
 * Postgres refused the data itself: SQLSTATE class 22 (data exception: a NUL escape in jsonb, a value
 * too long, an invalid date), 23 (integrity constraint violation; our idempotent inserts use ON
 * CONFLICT and never raise one), or 08P01 (protocol violation: a NUL character in a statement's
 * text). Retrying the same data cannot succeed.
 */
export function isPermanentDatabaseError(err: unknown): boolean {
  const e = err as { code?: unknown; sqlState?: unknown } | null;
  const code = typeof e?.sqlState === 'string' ? e.sqlState : typeof e?.code === 'string' ? e.code : '';
  return /^2[23][0-9A-Z]{3}$/.test(code) || code === '08P01';
}

/** Wraps activities so a permanent database error fails them at once (DatabaseRejected) instead of retrying. */
export function failPermanentDatabaseErrors<T extends Record<string, (...args: never[]) => Promise<unknown>>>(
  activities: T,
): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        if (!isPermanentDatabaseError(err)) throw err;
        throw businessFailure(
          'DatabaseRejected',
          `${name}: Postgres refused the data: ${(err as Error).message.split('\n')[0].slice(0, 300)}`,
        );
      }
    };
  }
  return wrapped as T;
}

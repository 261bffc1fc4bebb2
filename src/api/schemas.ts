import { z } from 'zod';
import type { NotificationStatus, Same } from './contract-types';
import { businessEventSchema, deliveryOptionsSchema } from '../domain/business-event';
import { CHANNELS } from '../domain/channels';
import { CATEGORIES } from '../domain/event-catalog';
import { CHANNEL_STATES, NOTIFICATION_STATES } from '../domain/notification-status';
import { InvalidQuietHoursError, validateQuietHours } from '../domain/quiet-hours';

/**
 * A response schema whose output is a type of src/api/contract-types.ts (what web/ reads): it compiles only
 * while the two are the same, e.g. `answerSchema<TemplateView>()(z.object({ ... }))`.
 */
export function answerSchema<T>() {
  return <S extends z.ZodType>(
    schema: S & (Same<z.output<S>, T> extends true ? unknown : ContractMismatch<T>),
  ): S => schema;
}

/** What the compiler names when a schema and its contract type differ. */
interface ContractMismatch<T> {
  'the schema output differs from its type in src/api/contract-types.ts': T;
}

/** Request and response schemas shared by several routes; the event envelope itself is src/domain/business-event.ts. */

const errorSchema = z
  .object({
    statusCode: z.number().int(),
    error: z.string(),
    message: z.string(),
    fields: z.array(z.string()).optional().describe('dotted paths of the offending fields'),
    in: z.enum(['body', 'querystring', 'params', 'headers']).optional(),
  })
  .describe('Error');

/** Error responses for the docs, e.g. errors(400, 401, 403). */
export function errors<const C extends number>(...codes: C[]): Record<C, typeof errorSchema> {
  return Object.fromEntries(codes.map((c) => [c, errorSchema])) as Record<C, typeof errorSchema>;
}

export const userIdSchema = businessEventSchema.shape.userId.unwrap();
export const templateCodeSchema = businessEventSchema.shape.templateCode.unwrap();
export const eventIdSchema = businessEventSchema.shape.id;

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const uuidSchema = z.string().regex(UUID_PATTERN, 'must be a notification id (UUID)');

/** A notification's UUID, or the id of its notification workflow (needed while it waits: the row exists once it sends). */
export const notificationRefParams = z.object({
  id: z
    .string()
    .regex(/^[A-Za-z0-9._:@-]{1,500}$/, 'must be a notification id (UUID) or a notification workflow id')
    .describe('notification id (UUID) or notification workflow id, e.g. notification-evt_1-u_42'),
});

export const localeSchema = z
  .string()
  .regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$/, 'must be a language tag such as en or pt-BR')
  .max(16);

export const timeZoneSchema = z
  .string()
  .max(64)
  .refine((zone) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      return true;
    } catch {
      return false;
    }
  }, 'must be an IANA time zone such as Asia/Kolkata');

/** Quiet hours, checked by the domain's validateQuietHours so the API and the workflows agree. */
export const quietHoursSchema = z
  .object({
    start: z.string().describe('local time "HH:MM" the window opens'),
    end: z.string().describe('local time "HH:MM" the window closes (exclusive)'),
    timezone: z.string().describe('IANA time zone'),
  })
  .strict()
  .superRefine((value, ctx) => {
    try {
      validateQuietHours(value);
    } catch (err) {
      if (!(err instanceof InvalidQuietHoursError)) throw err;
      ctx.addIssue({
        code: 'custom',
        path: err.field === 'quietHours' ? [] : [err.field],
        message: err.message,
      });
    }
  });

export const channelStatusSchema = z.object({
  state: z.enum(CHANNEL_STATES),
  attempts: z.number().int(),
  error: z.string().optional(),
  reason: z.string().optional(),
  providerMessageId: z.string().optional(),
});

/** Answer of the workflow's `status` query (docs/contracts.md). */
export const notificationStatusSchema = answerSchema<NotificationStatus>()(
  z.object({
    state: z.enum(NOTIFICATION_STATES),
    sendAt: z.string().optional(),
    notificationId: z.string().optional(),
    error: z.string().optional(),
    channels: z.partialRecord(z.enum(CHANNELS), channelStatusSchema),
  }),
);

/** The shop integration's delivery options (docs/http-api.md): `delay` (ms) as well as the envelope's `delayMs`. */
const directOptionsSchema = deliveryOptionsSchema.extend({
  delayMs: deliveryOptionsSchema.shape.delayMs.unwrap().optional(),
  delay: deliveryOptionsSchema.shape.delayMs
    .unwrap()
    .optional()
    .describe('delay before sending, in ms (alias of delayMs)'),
});

const directSendFields = {
  id: eventIdSchema.optional().describe('idempotency key; default: a new one per call'),
  templateCode: templateCodeSchema,
  variables: z.record(z.string(), z.unknown()).default({}).describe('template variables'),
  options: directOptionsSchema.optional(),
};

export const publishNotificationSchema = z.object({ userId: userIdSchema, ...directSendFields }).strict();
export const publishBatchNotificationSchema = z
  .object({ userIds: businessEventSchema.shape.userIds.unwrap(), ...directSendFields })
  .strict();

export const publishResultSchema = z.object({
  eventId: z.string(),
  workflowId: z.string().describe('id of the businessEventWorkflow'),
  started: z
    .boolean()
    .describe(
      'false when this event id is running or completed: nothing new was started; true for a new id or one whose last run failed, was terminated, timed out or was cancelled (started again, nothing sent twice)',
    ),
  notificationKeys: z
    .array(z.string())
    .describe(
      '`notification-<eventId>-<userId>`, one per named recipient (empty for a broadcast to a role): the `:id` of the status, cancel, reschedule and trace routes',
    ),
  notificationWorkflowIds: z
    .array(z.string())
    .describe('deprecated: the same keys (they named one workflow per recipient before release 1)'),
});

export const preferencesMatrixSchema = z.partialRecord(
  z.enum(CATEGORIES),
  z.partialRecord(z.enum(CHANNELS), z.boolean()),
);

/** For routes without query parameters: an unexpected one is a 400, not silently ignored. */
export const noQuery = z.object({}).strict();
/** For POST routes without a body: none, or an empty JSON object. */
export const noBody = z.object({}).strict().nullish();

/** Who may call the operators' dashboard routes (docs/contracts.md, "Browser surfaces"): an admin key, an admin token or an admin session. */
export const ADMIN_SECURITY: Record<string, string[]>[] = [
  { apiKey: [] },
  { adminBasic: [] },
  { bearer: [] },
  { session: [] },
];

import { z } from 'zod';
import { CHANNELS } from './channels';
import {
  checkData,
  describeSpec,
  EVENT_DATA_SPECS,
  resolveTemplateCode,
  templateDataSpec,
} from './event-data';
import { findUnsafeJson, MAX_JSON_DEPTH, unstorableStringReason } from './json-safety';
import { PRIORITIES } from './priorities';
import { isSafeLink, SAFE_LINK_MESSAGE } from './safe-link';

import { EVENT_TYPES } from './event-types';

export { EVENT_TYPES, type EventType } from './event-types';

const ID_PATTERN = /^[A-Za-z0-9._:-]{1,200}$/;
const USER_ID_PATTERN = /^[A-Za-z0-9._:@-]{1,200}$/;
const MAX_DATA_BYTES = 64 * 1024;
const MAX_DELAY_MS = 366 * 24 * 3600 * 1000;

/** A string of 1..max characters that Postgres can store (no NUL, no lone surrogate). */
function storableString(max: number) {
  return z
    .string()
    .min(1)
    .max(max)
    .superRefine((value, ctx) => {
      const reason = unstorableStringReason(value);
      if (reason) ctx.addIssue({ code: 'custom', message: reason });
    });
}

/**
 * A template code as callers may write it: case-insensitive, plan aliases allowed (LOW_STOCK_ALERT);
 * parsed to the stored code (src/domain/event-data.ts, resolveTemplateCode).
 */
export const templateCodeRefSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,100}$/, 'must be 1-100 chars of [A-Za-z0-9_.-]')
  .transform(resolveTemplateCode)
  .describe(
    'template code, case-insensitive (ORDER_CREATED is order_created); LOW_STOCK_ALERT is an alias of inventory_low_stock',
  );

const userId = z.string().regex(USER_ID_PATTERN, 'must be 1-200 chars of [A-Za-z0-9._:@-]');

export const deliveryOptionsSchema = z
  .object({
    priority: z.enum(PRIORITIES).default('normal'),
    delayMs: z.number().int().min(0).max(MAX_DELAY_MS).default(0),
    sendAt: z.iso.datetime({ offset: true }).nullable().default(null),
    channels: z
      .array(z.enum(CHANNELS))
      .min(1)
      .refine((list) => new Set(list).size === list.length, 'must not repeat a channel')
      .optional(),
    actionUrl: storableString(2048).refine(isSafeLink, SAFE_LINK_MESSAGE).optional(),
    actionText: storableString(200).optional(),
  })
  .strict();

export const businessEventSchema = z
  .object({
    id: z.string().regex(ID_PATTERN, 'must be 1-200 chars of [A-Za-z0-9._:-]'),
    type: z.enum(EVENT_TYPES).optional(),
    /** Direct send (publishNotification): a template code in place of an event type. */
    templateCode: templateCodeRefSchema.optional(),
    occurredAt: z.iso.datetime({ offset: true }),
    userId: userId.optional(),
    /** One child workflow each; larger audiences belong in campaigns (keeps the event history small). */
    userIds: z.array(userId).min(1).max(1000).optional(),
    data: z
      .record(z.string(), z.unknown())
      .default({})
      .describe(
        `event data (a direct send's variables), checked per event type: ${EVENT_TYPES.map((type) => `${type}: ${describeSpec(EVENT_DATA_SPECS[type])}`).join(' | ')}`,
      ),
    options: deliveryOptionsSchema.default({ priority: 'normal', delayMs: 0, sendAt: null }),
  })
  .strict()
  .superRefine((event, ctx) => {
    if (event.type === undefined && event.templateCode === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['type'],
        message: 'is required (or templateCode for a direct send)',
      });
    }
    if (event.type !== undefined && event.templateCode !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['templateCode'], message: 'cannot be combined with type' });
    }
    if (event.userId !== undefined && event.userIds !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['userIds'], message: 'cannot be combined with userId' });
    }
    const broadcast = event.type === 'INVENTORY_LOW_STOCK';
    if (!broadcast && event.userId === undefined && event.userIds === undefined) {
      ctx.addIssue({ code: 'custom', path: ['userId'], message: 'is required (or userIds) for this event' });
    }
    // Before anything serializes it: deep nesting or strings Postgres refuses never get further.
    const unsafe = findUnsafeJson(event.data, MAX_JSON_DEPTH);
    if (unsafe) {
      ctx.addIssue({
        code: 'custom',
        path: unsafe.path ? ['data', unsafe.path] : ['data'],
        message: unsafe.message,
      });
      return;
    }
    if (JSON.stringify(event.data).length > MAX_DATA_BYTES) {
      ctx.addIssue({
        code: 'custom',
        path: ['data'],
        message: `must serialize to at most ${MAX_DATA_BYTES} bytes`,
      });
    }
    const schema = event.type
      ? { spec: EVENT_DATA_SPECS[event.type], label: event.type }
      : templateDataSpec(event.templateCode ?? '');
    for (const problem of schema ? checkData(schema.spec, event.data, schema.label) : []) {
      ctx.addIssue({ code: 'custom', path: ['data', problem.field], message: problem.message });
    }
  });

/** The validated envelope with defaults applied; plain JSON, safe as a workflow argument. */
export type BusinessEvent = z.output<typeof businessEventSchema>;
export type BusinessEventInput = z.input<typeof businessEventSchema>;
export type DeliveryOptions = z.output<typeof deliveryOptionsSchema>;

export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
  constructor(
    message: string,
    /** Dotted paths of the offending fields, e.g. ["options.priority"]. */
    readonly fields: string[],
  ) {
    super(message);
  }
}

/**
 * Validates an envelope; throws InvalidEventError naming every offending field, as `fieldName` calls it
 * (a caller that built the envelope from fields of its own names them so, e.g. a direct send's `variables`).
 */
export function parseBusinessEvent(
  input: unknown,
  fieldName: (path: string) => string = (path) => path,
): BusinessEvent {
  const result = businessEventSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({
    field: fieldName(issue.path.map(String).join('.')) || '(envelope)',
    message: issue.message,
  }));
  const text = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
  throw new InvalidEventError(
    `invalid event: ${text}`,
    problems.map((p) => p.field),
  );
}

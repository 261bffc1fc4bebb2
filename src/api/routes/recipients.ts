import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Recipient } from '../../db/entities';
import type { RecipientSummary } from '../contract-types';
import { RecipientRepository, type RecipientView } from '../../db/repositories/recipient-repository';
import { outboundUrlProblem, type OutboundPolicy } from '../../domain/outbound-url';
import type { ApiContext } from '../context';
import { notFound } from '../errors';
import { errors, localeSchema, noQuery, quietHoursSchema, timeZoneSchema, userIdSchema } from '../schemas';

/** A URL the delivery workers will call: refused here already when the policy would refuse it (SSRF: README, "Outbound URLs"). */
const outboundUrl = (policy: OutboundPolicy) =>
  z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .max(2048)
    .superRefine((value, ctx) => {
      const problem = outboundUrlProblem(value, policy);
      if (problem) ctx.addIssue({ code: 'custom', message: `not an allowed endpoint: it ${problem}` });
    });
const base64url = (max: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+={0,2}$/, 'must be base64url')
    .max(max);

const recipientBody = (outbound: { webhook: OutboundPolicy; push: OutboundPolicy }) =>
  z
    .object({
      name: z
        .string()
        .trim()
        .min(1)
        .max(200)
        .nullable()
        .optional()
        .describe("shown in notifications: templates' userName defaults to it"),
      email: z.email().max(320).nullable().optional(),
      phone: z
        .string()
        .regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number such as +919800000000')
        .nullable()
        .optional(),
      timezone: timeZoneSchema.optional(),
      locale: localeSchema.optional(),
      roles: z
        .array(z.string().regex(/^[a-z0-9_-]{1,64}$/, 'must be 1-64 chars of [a-z0-9_-]'))
        .max(20)
        .optional(),
      muted: z.boolean().optional(),
      quietHours: quietHoursSchema.nullable().optional(),
      webhookUrl: outboundUrl(outbound.webhook)
        .nullable()
        .optional()
        .describe('https; never a loopback, private, link-local or metadata address'),
      pushSubscriptions: z
        .array(
          z
            .object({
              endpoint: outboundUrl(outbound.push),
              keys: z.object({ p256dh: base64url(200), auth: base64url(100) }).strict(),
            })
            .strict(),
        )
        .max(20)
        .optional()
        .describe(
          "replaces the recipient's push subscriptions (browser PushSubscription.toJSON() without expirationTime)",
        ),
    })
    .strict();

export const recipientSchema = z.object({
  id: z.string(),
  name: z.string().nullable(),
  email: z.string().nullable(),
  phone: z.string().nullable(),
  timezone: z.string(),
  locale: z.string(),
  roles: z.array(z.string()),
  muted: z.boolean(),
  quietHours: z.object({ start: z.string(), end: z.string(), timezone: z.string() }).nullable(),
  webhookUrl: z.string().nullable(),
  webhookSecret: z
    .string()
    .optional()
    .describe(
      'only in the answer that set a new webhookUrl: the secret its deliveries are signed with (store it; it is never shown again)',
    ),
  pushSubscriptions: z.array(z.object({ endpoint: z.string() })),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const recipientParams = z.object({ id: userIdSchema });

/** The upsert's schema: its body checks URLs against the configured outbound policies. */
const upsertSchema = (outbound: { webhook: OutboundPolicy; push: OutboundPolicy }) => ({
  tags: ['recipients'],
  summary: 'Create or update a recipient',
  description:
    'Fields left out keep their value (defaults on create: timezone UTC, locale en, no roles); null clears an optional field. `pushSubscriptions`, when present, replaces the set. 201 when created, 200 when updated.',
  security: [{ apiKey: [] }],
  params: recipientParams,
  querystring: noQuery,
  body: recipientBody(outbound),
  response: { 200: recipientSchema, 201: recipientSchema, ...errors(400, 401, 403, 413, 429) },
});

const rotateSecretSchema = {
  tags: ['recipients'],
  summary: "Rotate the signing secret of a recipient's webhook endpoint",
  description:
    'Issues a new secret (answered once, never shown again). Until `previousValidUntil` deliveries carry two signatures, one per secret, so the receiver switches at leisure; `previousValidForSeconds: 0` drops the old secret at once (a leaked secret). 404 when the recipient has no webhookUrl.',
  security: [{ apiKey: [] }],
  params: recipientParams,
  querystring: noQuery,
  body: z
    .object({
      previousValidForSeconds: z
        .number()
        .int()
        .min(0)
        .max(7 * 24 * 3600)
        .default(24 * 3600)
        .describe('default a day, at most 7 days'),
    })
    .strict()
    .default({ previousValidForSeconds: 24 * 3600 }),
  response: {
    200: z.object({ webhookSecret: z.string(), previousValidUntil: z.string().nullable() }),
    ...errors(400, 401, 403, 404, 413, 429),
  },
};

export function recipientRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    const onRequest = ctx.auth.guard('service', 'recipients');

    app.put(
      '/api/recipients/:id',
      { onRequest, schema: upsertSchema(ctx.deps.config.outbound) },
      async (request, reply) => {
        const { created, view } = await new RecipientRepository(request.em).upsert(
          request.params.id,
          request.body,
        );
        return reply.code(created ? 201 : 200).send(recipientView(view));
      },
    );

    app.post(
      '/api/recipients/:id/webhook-secret',
      { onRequest, schema: rotateSecretSchema },
      async (request) => {
        const rotated = await new RecipientRepository(request.em).rotateWebhookSecret(
          request.params.id,
          request.body.previousValidForSeconds * 1000,
        );
        if (!rotated) throw notFound('recipient with a webhookUrl');
        return {
          webhookSecret: rotated.secret,
          previousValidUntil: rotated.previousValidUntil?.toISOString() ?? null,
        };
      },
    );
  };
}

/** What a list row shows of a recipient (the dashboard's search). */
export function recipientSummary(r: Recipient): RecipientSummary {
  return {
    id: r.id,
    name: r.name,
    email: r.email,
    phone: r.phone,
    timezone: r.timezone,
    locale: r.locale,
    muted: r.muted,
    createdAt: r.createdAt.toISOString(),
  };
}

/** The whole recipient; the serializer orders the keys as recipientSchema does. */
function recipientView(view: RecipientView): z.infer<typeof recipientSchema> {
  const { recipient: r, pushSubscriptions } = view;
  return {
    ...recipientSummary(r),
    roles: r.roles,
    quietHours: r.quietHours,
    webhookUrl: r.webhookUrl,
    ...(view.issuedWebhookSecret ? { webhookSecret: view.issuedWebhookSecret } : {}),
    pushSubscriptions: pushSubscriptions.map((s) => ({ endpoint: s.endpoint })),
    updatedAt: r.updatedAt.toISOString(),
  };
}

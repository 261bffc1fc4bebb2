import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RecipientRepository, type RecipientView } from '../../db/repositories/recipient-repository';
import type { ApiContext } from '../context';
import { errors, localeSchema, noQuery, quietHoursSchema, timeZoneSchema, userIdSchema } from '../schemas';

const httpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .max(2048);
const base64url = (max: number) => z.string().regex(/^[A-Za-z0-9_-]+={0,2}$/, 'must be base64url').max(max);

const recipientBody = z
  .object({
    name: z.string().trim().min(1).max(200).nullable().optional().describe("shown in notifications: templates' userName defaults to it"),
    email: z.email().max(320).nullable().optional(),
    phone: z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number such as +919800000000').nullable().optional(),
    timezone: timeZoneSchema.optional(),
    locale: localeSchema.optional(),
    roles: z.array(z.string().regex(/^[a-z0-9_-]{1,64}$/, 'must be 1-64 chars of [a-z0-9_-]')).max(20).optional(),
    muted: z.boolean().optional(),
    quietHours: quietHoursSchema.nullable().optional(),
    webhookUrl: httpUrl.nullable().optional(),
    pushSubscriptions: z
      .array(z.object({ endpoint: httpUrl, keys: z.object({ p256dh: base64url(200), auth: base64url(100) }).strict() }).strict())
      .max(20)
      .optional()
      .describe('replaces the recipient\'s push subscriptions (browser PushSubscription.toJSON() without expirationTime)'),
  })
  .strict();

const recipientSchema = z.object({
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
  pushSubscriptions: z.array(z.object({ endpoint: z.string() })),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export function recipientRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.put(
      '/api/recipients/:id',
      {
        onRequest: ctx.auth.guard('service'),
        schema: {
          tags: ['recipients'],
          summary: 'Create or update a recipient',
          description:
            'Fields left out keep their value (defaults on create: timezone UTC, locale en, no roles); null clears an optional field. `pushSubscriptions`, when present, replaces the set. 201 when created, 200 when updated.',
          security: [{ apiKey: [] }],
          params: z.object({ id: userIdSchema }),
          querystring: noQuery,
          body: recipientBody,
          response: { 200: recipientSchema, 201: recipientSchema, ...errors(400, 401, 403, 413, 429) },
        },
      },
      async (request, reply) => {
        const { created, view } = await new RecipientRepository(request.em).upsert(request.params.id, request.body);
        return reply.code(created ? 201 : 200).send(recipientView(view));
      },
    );
  };
}

function recipientView({ recipient: r, pushSubscriptions }: RecipientView): z.infer<typeof recipientSchema> {
  return {
    id: r.id,
    name: r.name,
    email: r.email,
    phone: r.phone,
    timezone: r.timezone,
    locale: r.locale,
    roles: r.roles,
    muted: r.muted,
    quietHours: r.quietHours,
    webhookUrl: r.webhookUrl,
    pushSubscriptions: pushSubscriptions.map((s) => ({ endpoint: s.endpoint })),
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

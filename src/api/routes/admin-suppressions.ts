import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { liftEmailSuppression, listEmailSuppressions } from '../../db/repositories/email-suppressions';
import type { ApiContext } from '../context';
import { notFound } from '../errors';
import { ADMIN_SECURITY, errors, noQuery } from '../schemas';

const addressSchema = z
  .string()
  .trim()
  .min(3)
  .max(320)
  .regex(/^[^@\s]+@[^@\s]+$/, 'must be an email address');

const suppressionSchema = z.object({
  addressHash: z.string().describe('SHA-256 hex of the trimmed, lower-cased address'),
  addressHint: z.string().describe('a***@example.com'),
  reason: z.enum(['bounced', 'complained']),
  source: z.string().describe('who reported it, e.g. postmark'),
  notificationId: z.string().nullable().describe('the notification whose receipt suppressed it'),
  detail: z.string().nullable(),
  createdAt: z.string(),
  liftedAt: z.string().nullable(),
  liftedBy: z.string().nullable(),
});

const listSchema = {
  tags: ['operators'],
  summary: 'Suppressed email addresses',
  description:
    'Addresses a provider reported as hard-bounced or complaining (docs/tracking-and-receipts.md): email to them is suppressed at admission with reason `suppressed address: <reason>`. Active ones, newest first; with `address`, that address (lifted too). Addresses are kept by hash only.',
  security: ADMIN_SECURITY,
  querystring: z.object({
    address: addressSchema.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  }),
  response: { 200: z.object({ items: z.array(suppressionSchema) }), ...errors(400, 401, 403, 429) },
};

const liftSchema = {
  tags: ['operators'],
  summary: 'Lift the suppression of an email address',
  description:
    "The admin override: email to the address is sent again from the next admission on. The row keeps who lifted it and when; the provider's next bounce or complaint suppresses it again. 404 when the address is not suppressed.",
  security: ADMIN_SECURITY,
  params: z.object({ address: addressSchema }),
  querystring: noQuery,
  response: {
    200: z.object({ address: z.string(), lifted: z.literal(true), liftedBy: z.string() }),
    ...errors(400, 401, 403, 404, 429),
  },
};

/** `GET /api/admin/suppressions`, `DELETE /api/admin/suppressions/{address}`. */
export function adminSuppressionRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    const onRequest = ctx.auth.guard('admin');
    app.get('/api/admin/suppressions', { onRequest, schema: listSchema }, async (request) => {
      const rows = await listEmailSuppressions(request.em, request.query);
      return {
        items: rows.map((row) => ({
          ...row,
          createdAt: row.createdAt.toISOString(),
          liftedAt: row.liftedAt?.toISOString() ?? null,
        })),
      };
    });

    app.delete('/api/admin/suppressions/:address', { onRequest, schema: liftSchema }, async (request) => {
      const principal = request.principal;
      const by =
        principal?.kind === 'key' ? `key:${principal.name}` : `user:${principal?.userId ?? 'unknown'}`;
      const { address } = request.params;
      if (!(await liftEmailSuppression(request.em, address, by)))
        throw notFound('suppression of that address');
      return { address, lifted: true as const, liftedBy: by };
    });
  };
}

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { recordConsents } from '../../db/repositories/consent-repository';
import { CONSENT_CATEGORIES } from '../../domain/consent';
import type { ApiContext } from '../context';
import { badRequest } from '../errors';
import { ADMIN_SECURITY, errors, noQuery, userIdSchema } from '../schemas';

/** At most this many decisions per request; larger imports are several requests. */
const IMPORT_LIMIT = 10_000;

const importBody = z
  .array(
    z
      .object({
        userId: userIdSchema,
        category: z.enum(CONSENT_CATEGORIES),
        granted: z.boolean(),
        at: z.iso
          .datetime({ offset: true })
          .optional()
          .describe('when it was given or withdrawn; default now'),
      })
      .strict(),
  )
  .min(1)
  .max(IMPORT_LIMIT);

const importSchema = {
  tags: ['operators'],
  summary: 'Import consent decisions',
  description: `Consent collected elsewhere (a shop's checkout box, a former system), recorded with source \`import\`: a list of {userId, category, granted, at?} (at most ${IMPORT_LIMIT}). Per recipient and category the newest decision wins, also against what is stored (an older one changes nothing); each change is logged in the recipient's consent history. Unknown recipients are listed in the answer and skipped.`,
  security: ADMIN_SECURITY,
  querystring: noQuery,
  body: importBody,
  response: {
    200: z.object({ received: z.number().int(), unknownUserIds: z.array(z.string()) }),
    ...errors(400, 401, 403, 413, 429),
  },
};

/** `POST /api/admin/consents/import` (docs/consent.md). */
export function adminConsentRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/api/admin/consents/import',
      { onRequest: ctx.auth.guard('admin'), schema: importSchema },
      async (request) => {
        const now = ctx.now();
        const future = request.body.findIndex((c) => c.at && Date.parse(c.at) > now.getTime() + 60_000);
        if (future >= 0) throw badRequest(`${future}.at`, 'lies in the future');
        const unknownUserIds = await recordConsents(
          request.em,
          request.body.map((c) => ({
            recipientId: c.userId,
            category: c.category,
            granted: c.granted,
            at: c.at ? new Date(c.at) : now,
            source: 'import',
          })),
        );
        return { received: request.body.length, unknownUserIds };
      },
    );
  };
}

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RecipientRepository } from '../../db/repositories/recipient-repository';
import type { ApiContext } from '../context';
import {
  changePreferences,
  PREFERENCES_DESCRIPTION,
  preferencesBody,
  preferencesSchema,
  readPreferences,
} from '../recipient-preferences';
import type { PreferencesView, RecipientSummary } from '../contract-types';
import { ADMIN_SECURITY, answerSchema, errors, noQuery, userIdSchema } from '../schemas';
import { recipientSchema, recipientSummary } from './recipients';

/** The preferences answer, checked against the type web/ reads. */
const preferencesAnswer = answerSchema<PreferencesView>()(preferencesSchema);

/** What a list row shows of a recipient (PUT /api/recipients/{id} answers the whole). */
const recipientItemSchema = answerSchema<RecipientSummary>()(
  recipientSchema.pick({
    id: true,
    name: true,
    email: true,
    phone: true,
    timezone: true,
    locale: true,
    muted: true,
    createdAt: true,
  }),
);

const params = z.object({ id: userIdSchema });

const searchSchema = {
  tags: ['operators'],
  summary: 'Find recipients',
  description:
    'By id prefix, or a part of the name or email (any case); `%` and `_` match themselves. Newest first; without `q`, the newest recipients.',
  security: ADMIN_SECURITY,
  querystring: z
    .object({
      q: z.string().trim().min(1).max(200).optional(),
      limit: z.coerce.number().int().min(1).max(200).default(50),
    })
    .strict(),
  response: { 200: z.object({ items: z.array(recipientItemSchema) }), ...errors(400, 401, 403, 429) },
};

const readPreferencesSchema = {
  tags: ['operators'],
  summary: "A recipient's notification preferences",
  description: `As the recipient sees them (GET /api/preferences). ${PREFERENCES_DESCRIPTION}`,
  security: ADMIN_SECURITY,
  params,
  querystring: noQuery,
  response: { 200: preferencesAnswer, ...errors(400, 401, 403, 404, 429) },
};

const changePreferencesSchema = {
  tags: ['operators'],
  summary: "Change a recipient's notification preferences",
  description: `As the recipient would (PUT /api/preferences). ${PREFERENCES_DESCRIPTION}`,
  security: ADMIN_SECURITY,
  params,
  querystring: noQuery,
  body: preferencesBody,
  response: { 200: preferencesAnswer, ...errors(400, 401, 403, 404, 413, 429) },
};

/** Recipients and their preferences for the dashboard (docs/contracts.md, "Browser surfaces"). */
export function adminRecipientRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    const onRequest = ctx.auth.guard('admin');
    app.get('/api/admin/recipients', { onRequest, schema: searchSchema }, async (request) => {
      const found = await new RecipientRepository(request.em).search(request.query.q, request.query.limit);
      return { items: found.map(recipientSummary) };
    });
    app.get(
      '/api/admin/recipients/:id/preferences',
      { onRequest, schema: readPreferencesSchema },
      async (request) => readPreferences(request.em, request.params.id),
    );
    app.put(
      '/api/admin/recipients/:id/preferences',
      { onRequest, schema: changePreferencesSchema },
      async (request) => changePreferences(request.em, request.params.id, request.body, 'admin'),
    );
  };
}

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
import { notFound } from '../errors';
import { eraseRecipient } from '../../operations/erasure';
import { recipientRef } from '../../db/recipient-refs';
import { recipientWorkflows } from '../recipient-workflows';
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

const count = z.number().int();

const eraseSchema = {
  tags: ['operators'],
  summary: 'Erase a recipient (privacy request)',
  description:
    "Cancels the recipient's open work (waiting notifications through their event workflows' cancel, its digest workflows and order journeys), then deletes every row stored for it in one transaction (notifications with their send records, delivery attempts and engagement, event rows left empty, preferences, digest preferences, consents and consent history, push subscriptions, frequency-cap ledger; its id is removed from campaign segments), its queued send jobs and its Redis keys (browser sessions, rate-limit counter), and keeps an anonymised tombstone (`erased_recipients`: id, time, counts; no user id). Temporal keeps no link back: workflow ids and search attributes carry the recipient's opaque ref, deleted with it. 404 when there is no such recipient (never stored, or erased already). An event naming the id later treats it as an unknown recipient. docs/data-lifecycle.md, \"Erasure\".",
  security: ADMIN_SECURITY,
  params,
  querystring: noQuery,
  response: {
    200: z.object({
      erased: z.literal(true),
      tombstoneId: z.string(),
      counts: z.record(z.string(), count).describe('rows deleted per family'),
      cancelled: z.object({
        notifications: count.describe('open notifications whose workflow took the cancel'),
        notCancelled: count.describe(
          'open notifications a provider was already called for, or whose workflow had closed',
        ),
        digests: count,
        journeys: count,
        sendJobs: count.describe('queued send jobs removed'),
      }),
      redisKeys: count,
    }),
    ...errors(400, 401, 403, 404, 429),
  },
};

const workflowsSchema = {
  tags: ['operators'],
  summary: "A recipient's workflows in Temporal",
  description:
    "Resolves the user id to the recipient's opaque ref (`recipients.ref`) and lists the workflows tagged with it (`NotificationRecipientRef`), plus those release 4 and earlier tagged with the user id (`NotificationUserId`); newest first, at most 100. `query` is the visibility query used (Web UI, temporal CLI). 404 for an unknown (or erased) recipient.",
  security: ADMIN_SECURITY,
  params,
  querystring: noQuery,
  response: {
    200: z.object({
      ref: z.string(),
      query: z.string(),
      workflows: z.array(
        z.object({
          workflowId: z.string(),
          runId: z.string(),
          type: z.string(),
          status: z.string(),
          startTime: z.string(),
        }),
      ),
    }),
    ...errors(400, 401, 403, 404, 429),
  },
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
    app.delete('/api/recipients/:id', { onRequest, schema: eraseSchema }, async (request) => {
      const { deps } = ctx;
      const erased = await eraseRecipient(
        { ...deps, queuePrefix: deps.config.queuePrefix },
        request.params.id,
      );
      if (!erased) throw notFound('recipient');
      return { erased: true as const, ...erased };
    });
    app.get(
      '/api/admin/recipients/:id/workflows',
      { onRequest, schema: workflowsSchema },
      async (request) => {
        const ref = await recipientRef(request.em, request.params.id);
        if (ref === null) throw notFound('recipient');
        return { ref, ...(await recipientWorkflows(ctx.deps.temporalClient, ref, request.params.id)) };
      },
    );
  };
}

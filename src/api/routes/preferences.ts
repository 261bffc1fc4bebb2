import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { userIdOf } from '../auth/authenticate';
import type { ApiContext } from '../context';
import {
  changePreferences,
  PREFERENCES_DESCRIPTION,
  preferencesBody,
  preferencesSchema,
  readPreferences,
} from '../recipient-preferences';
import type { PreferencesView } from '../contract-types';
import { answerSchema, errors, noQuery } from '../schemas';

/** The preferences answer, checked against the type web/ reads. */
const preferencesAnswer = answerSchema<PreferencesView>()(preferencesSchema);

export function preferenceRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/preferences',
      {
        onRequest: ctx.auth.guard('user'),
        schema: {
          tags: ['preferences'],
          summary: 'My notification preferences',
          description: PREFERENCES_DESCRIPTION,
          security: [{ bearer: [] }],
          querystring: noQuery,
          response: { 200: preferencesAnswer, ...errors(401, 403, 404, 429) },
        },
      },
      async (request) => readPreferences(request.em, userIdOf(request)),
    );

    app.put(
      '/api/preferences',
      {
        onRequest: ctx.auth.guard('user'),
        schema: {
          tags: ['preferences'],
          summary: 'Change my notification preferences',
          description: PREFERENCES_DESCRIPTION,
          security: [{ bearer: [] }],
          querystring: noQuery,
          body: preferencesBody,
          response: { 200: preferencesAnswer, ...errors(400, 401, 403, 404, 413, 429) },
        },
      },
      async (request) => changePreferences(request.em, userIdOf(request), request.body),
    );
  };
}

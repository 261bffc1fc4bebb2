import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PreferenceRepository, type PreferenceCell, type StoredPreferences } from '../../db/repositories/preference-repository';
import { CHANNELS, type Channel } from '../../domain/channels';
import { CATEGORIES, isMandatory, MANDATORY_CHANNELS, type Category } from '../../domain/event-catalog';
import { userIdOf } from '../auth/authenticate';
import type { ApiContext } from '../context';
import { ApiError, notFound } from '../errors';
import { errors, noQuery, preferencesMatrixSchema, quietHoursSchema } from '../schemas';

const preferencesSchema = z.object({
  muted: z.boolean().describe('every non-mandatory channel off'),
  quietHours: z.object({ start: z.string(), end: z.string(), timezone: z.string() }).nullable(),
  channels: z.record(z.string(), z.record(z.string(), z.boolean())).describe('category -> channel -> enabled'),
  mandatory: z.record(z.string(), z.array(z.string())).describe('category -> channels that cannot be switched off'),
});

const preferencesBody = z
  .object({
    muted: z.boolean().optional(),
    quietHours: quietHoursSchema.nullable().optional().describe('null removes quiet hours'),
    channels: preferencesMatrixSchema.optional().describe('only the cells given change, e.g. {"marketing":{"email":false}}'),
  })
  .strict();

const DESCRIPTION = `Categories: ${CATEGORIES.join(', ')}. Channels: ${CHANNELS.join(', ')}.
Mandatory (transactional) cells — ${Object.entries(MANDATORY_CHANNELS)
  .map(([category, channels]) => `${category}: ${channels!.join(', ')}`)
  .join('; ')} — cannot be switched off: such a request answers 400 naming the cell and changes nothing.
\`muted\` switches off every non-mandatory channel; quiet hours delay every notification except urgent ones.`;

export function preferenceRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/preferences',
      {
        onRequest: ctx.auth.guard('user'),
        schema: {
          tags: ['preferences'],
          summary: 'My notification preferences',
          description: DESCRIPTION,
          security: [{ bearer: [] }],
          querystring: noQuery,
          response: { 200: preferencesSchema, ...errors(401, 403, 404, 429) },
        },
      },
      async (request) => {
        const stored = await new PreferenceRepository(request.em).load(userIdOf(request));
        if (!stored) throw notFound('recipient');
        return preferencesView(stored);
      },
    );

    app.put(
      '/api/preferences',
      {
        onRequest: ctx.auth.guard('user'),
        schema: {
          tags: ['preferences'],
          summary: 'Change my notification preferences',
          description: DESCRIPTION,
          security: [{ bearer: [] }],
          querystring: noQuery,
          body: preferencesBody,
          response: { 200: preferencesSchema, ...errors(400, 401, 403, 404, 413, 429) },
        },
      },
      async (request) => {
        const cells: PreferenceCell[] = [];
        const forced: string[] = [];
        for (const [category, byChannel] of Object.entries(request.body.channels ?? {})) {
          for (const [channel, enabled] of Object.entries(byChannel ?? {})) {
            if (enabled === undefined) continue;
            if (!enabled && isMandatory(category, channel as Channel)) forced.push(`channels.${category}.${channel}`);
            cells.push({ category, channel: channel as Channel, enabled });
          }
        }
        if (forced.length) {
          throw new ApiError(400, `invalid body: ${forced.join(', ')}: mandatory, cannot be switched off`, forced, 'body');
        }
        const repository = new PreferenceRepository(request.em);
        const userId = userIdOf(request);
        if (!(await repository.update(userId, { muted: request.body.muted, quietHours: request.body.quietHours, cells }))) throw notFound('recipient');
        return preferencesView((await repository.load(userId))!);
      },
    );
  };
}

/** The full matrix; a cell without a stored choice is on, and a mandatory cell is always on. */
function preferencesView(stored: StoredPreferences): z.infer<typeof preferencesSchema> {
  const off = new Set(stored.cells.filter((c) => !c.enabled).map((c) => `${c.category}.${c.channel}`));
  const channels: Record<string, Record<string, boolean>> = {};
  for (const category of CATEGORIES) {
    channels[category] = Object.fromEntries(CHANNELS.map((channel) => [channel, isMandatory(category, channel) || !off.has(`${category}.${channel}`)]));
  }
  const mandatory = Object.fromEntries(CATEGORIES.map((category: Category) => [category, MANDATORY_CHANNELS[category] ?? []]));
  return { muted: stored.muted, quietHours: stored.quietHours, channels, mandatory };
}

import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CHANNELS, isChannel, type Channel } from '../../domain/channels';
import { recordEngagement } from '../../state/engagement';
import type { ApiContext } from '../context';
import { badRequest, notFound } from '../errors';
import { errors, eventIdSchema, noQuery, userIdSchema, uuidSchema } from '../schemas';

const conversionBody = z
  .object({
    notificationId: uuidSchema.optional(),
    eventId: eventIdSchema.optional(),
    userId: userIdSchema.optional(),
    channel: z
      .enum(CHANNELS)
      .optional()
      .describe("the channel credited; default: the experiment's channel, else the notification's first"),
    value: z
      .number()
      .finite()
      .min(0)
      .max(1e12)
      .optional()
      .describe('e.g. the order total, kept in the detail'),
    at: z.string().datetime({ offset: true }).optional().describe('default: now'),
  })
  .strict();

const conversionAnswer = z.object({
  notificationId: z.string(),
  channel: z.enum(CHANNELS),
  first: z.boolean().describe('false: a conversion of this notification was recorded before (counted once)'),
  count: z.number().int(),
});

const conversionSchema = {
  tags: ['events'],
  summary: 'Record a conversion of a notification (for experiments and analytics)',
  description:
    'Names the notification by `notificationId`, or by `eventId` + `userId`. Idempotent per notification and channel: the first call counts, later ones raise `count` only. Needs the `events` scope (docs/analytics.md).',
  querystring: noQuery,
  body: conversionBody,
  response: { 200: conversionAnswer, ...errors(400, 401, 403, 404, 413, 429) },
};

/** Service-facing: a shop reports that a notification led to an order (docs/experiments.md, "Conversions"). */
export function conversionRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/api/conversions',
      { onRequest: ctx.auth.guard('service', 'events'), schema: conversionSchema },
      async (request) => {
        const { value, at, ...ref } = request.body;
        const target = await conversionTarget(request.em, ref);
        const result = await recordEngagement(request.em, {
          notificationId: target.id,
          channel: target.channel,
          kind: 'converted',
          at: at ? new Date(at) : undefined,
          detail: value === undefined ? undefined : { value },
        });
        return { notificationId: target.id, channel: target.channel, ...result };
      },
    );
  };
}

/** The notification and the channel credited; 400 naming what is missing, 404 when there is no such notification. */
async function conversionTarget(
  em: EntityManager,
  ref: { notificationId?: string; eventId?: string; userId?: string; channel?: Channel },
): Promise<{ id: string; channel: Channel }> {
  if (!ref.notificationId && !(ref.eventId && ref.userId))
    throw badRequest(
      ref.eventId ? 'userId' : 'notificationId',
      'name the notification: notificationId, or eventId and userId',
    );
  const [row] = await em
    .getConnection()
    .execute<{ id: string; channels: string[]; experiment_channel: string | null }[]>(
      `select n.id, n.channels, x.channel as experiment_channel
       from notifications n left join experiments x on x.id = n.experiment_id
      where ${ref.notificationId ? 'n.id = ?' : 'n.event_id = ? and n.recipient_id = ?'}`,
      ref.notificationId ? [ref.notificationId] : [ref.eventId, ref.userId],
    );
  if (!row) throw notFound();
  const channel = ref.channel ?? [row.experiment_channel, ...row.channels, 'in_app'].find(isChannel)!;
  return { id: row.id, channel };
}

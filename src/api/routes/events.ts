import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { PublishResult } from '../../client/notification-client';
import { businessEventSchema, type BusinessEvent } from '../../domain/business-event';
import { notificationKey } from '../../domain/workflow-ids';
import type { ApiContext } from '../context';
import { BACKPRESSURE_NOTE, redisBackpressureGuard } from '../redis-backpressure';
import { errors, noQuery, publishResultSchema } from '../schemas';

const DESCRIPTION = `Validates the business event envelope (docs/contracts.md) and starts businessEventWorkflow
(id \`event-<id>\`). The event id is the idempotency key: the same id again answers 202 with the same
workflow id and \`started: false\`, and starts nothing.`;

export function eventRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/api/events',
      {
        onRequest: ctx.auth.guard('service', 'events'),
        // Nothing is accepted while Redis is nearly full (docs/contracts.md, "BullMQ").
        preValidation: redisBackpressureGuard(ctx),
        schema: {
          tags: ['events'],
          summary: 'Publish a business event',
          description: `${DESCRIPTION}\n\n${BACKPRESSURE_NOTE}`,
          security: [{ apiKey: [] }],
          querystring: noQuery,
          body: businessEventSchema,
          response: { 202: publishResultSchema, ...errors(400, 401, 403, 413, 429) },
        },
      },
      async (request, reply) => {
        // The body schema is the envelope's own: the event is valid, start it without parsing again.
        const result = await ctx.deps.notifications.startEvent(request.body);
        return reply.code(202).send(withNotificationIds(result, request.body));
      },
    );
  };
}

/** The notification keys a caller can poll, one per named recipient (docs/contracts.md). */
export function withNotificationIds(result: PublishResult, event: Pick<BusinessEvent, 'userId' | 'userIds'>) {
  const recipients = event.userIds ?? (event.userId ? [event.userId] : []);
  const keys = [...new Set(recipients)].map((userId) => notificationKey(result.eventId, userId));
  return { ...result, notificationKeys: keys, notificationWorkflowIds: keys };
}

import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { startRedrive } from '../../client/redrive';
import { eventTypeOf } from '../../domain/workflow-ids';
import { countExpired, storedEventSpec } from '../../state/notification-store';
import type { ApiContext } from '../context';
import { ApiError } from '../errors';
import { ADMIN_SECURITY, errors, eventIdSchema, noBody } from '../schemas';

const redriveSchema = {
  tags: ['operators'],
  summary: "Redrive an event's expired notifications",
  description:
    "Starts `redriveEventWorkflow` under the event's workflow id (`event-<eventId>`): expired channels are handed off again, notifications that expired while waiting are due now. 202 with `started: false` while the event's workflow or an earlier redrive still runs; 404 when the event has no expired notification.",
  security: ADMIN_SECURITY,
  params: z.object({ eventId: eventIdSchema }),
  body: noBody,
  response: {
    202: z.object({
      eventId: z.string(),
      workflowId: z.string(),
      expired: z.number().int(),
      started: z.boolean(),
    }),
    ...errors(400, 401, 403, 404, 429),
  },
};

/**
 * Redrive of `expired` notifications (docs/contracts.md, "Durability invariants"): once the outage
 * that expired them is over, an operator sends an event's expired notifications again. Channels that
 * reached a provider are never sent twice (send records).
 */
export function adminRedriveRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/api/admin/events/:eventId/redrive',
      { onRequest: ctx.auth.guard('admin'), schema: redriveSchema },
      async (request, reply) => reply.code(202).send(await redrive(ctx, request.em, request.params.eventId)),
    );
  };
}

/** 404 unless the event has an expired notification; else starts (or finds running) its redrive. */
async function redrive(ctx: ApiContext, em: EntityManager, eventId: string) {
  const expired = await countExpired(em, eventId);
  const spec = expired > 0 ? await storedEventSpec(em, eventId) : null;
  if (!spec) throw new ApiError(404, `event "${eventId}" has no expired notification to redrive`);
  const eventType = eventTypeOf({
    type: typeof spec.eventType === 'string' ? spec.eventType : null,
    templateCode: String(spec.templateCode),
  });
  const { workflowId, started } = await startRedrive(
    ctx.deps.temporalClient,
    ctx.deps.config.temporal.taskQueue,
    { eventId, eventType },
  );
  return { eventId, workflowId, expired, started };
}

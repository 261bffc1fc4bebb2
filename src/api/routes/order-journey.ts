import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { JOURNEY_MESSAGES, orderJourneyWorkflowId, type JourneyView } from '../../domain/order-journey';
import type { ApiContext } from '../context';
import { ApiError } from '../errors';
import { ADMIN_SECURITY, errors } from '../schemas';

const time = z.string().nullable();
const journeySchema = z.object({
  orderNumber: z.string(),
  workflowId: z.string(),
  status: z.string(),
  state: z.enum(['open', 'placed', 'shipped', 'delivered', 'cancelled']),
  ended: z.enum(['delivered', 'cancelled', 'idle']).nullable(),
  userIds: z.array(z.string()),
  createdAt: time,
  promisedShipBy: time,
  shippedAt: time,
  deliveredAt: time,
  cancelledAt: time,
  delayNotified: z.boolean(),
  lastEventAt: z.string(),
  eventsSeen: z.number().int(),
  events: z.array(
    z.object({ eventId: z.string(), type: z.string(), occurredAt: z.string(), receivedAt: z.string() }),
  ),
  messages: z.array(
    z.object({
      kind: z.enum(['event', 'shipped_and_delivered', 'order_delayed']),
      eventId: z.string(),
      templateCode: z.string(),
      at: z.string(),
    }),
  ),
  deadline: z.object({ kind: z.enum(['ship_promise', 'idle_end']), at: z.string() }).nullable(),
  settings: z.object({ shipPromiseHours: z.number(), foldWindowMs: z.number(), idleDays: z.number() }),
});

const journeyRouteSchema = {
  tags: ['operators'],
  summary: "An order's journey",
  description:
    "Answers the `orderJourney` query of the order's journey workflow (`order-<orderNumber>`, docs/order-journeys.md): its state, the events it saw (the latest 50; `eventsSeen` counts all), the messages sent for the order, and the pending deadline (the shipping promise or the idle end). 404 when the order has no journey.",
  security: ADMIN_SECURITY,
  params: z.object({ orderNumber: z.string().min(1).max(100) }),
  response: { 200: journeySchema, ...errors(400, 401, 403, 404, 429) },
};

/** GET /api/orders/{orderNumber}/journey (operators). */
export function orderJourneyRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/orders/:orderNumber/journey',
      { onRequest: ctx.auth.guard('admin'), schema: journeyRouteSchema },
      async (request) => queryJourney(ctx, request.params.orderNumber),
    );
  };
}

async function queryJourney(ctx: ApiContext, orderNumber: string) {
  const workflowId = orderJourneyWorkflowId(orderNumber);
  const handle = ctx.deps.temporalClient.workflow.getHandle(workflowId);
  try {
    const description = await handle.describe();
    const view = await handle.query<JourneyView>(JOURNEY_MESSAGES.orderJourney);
    return { ...view, workflowId, status: description.status.name };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new ApiError(404, `order "${orderNumber}" has no journey`);
    throw err;
  }
}

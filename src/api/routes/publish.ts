import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { parseDirectSend, type PublishResult } from '../../client/notification-client';
import type { ApiContext } from '../context';
import { BACKPRESSURE_NOTE, redisBackpressureGuard } from '../redis-backpressure';
import { assertTemplateVariables } from '../template-variables-check';
import {
  errors,
  noQuery,
  publishBatchNotificationSchema,
  publishNotificationSchema,
  publishResultSchema,
} from '../schemas';
import { withNotificationIds } from './events';

const OPTIONS_NOTE = `\`options\`: priority (low | normal | high | urgent), actionUrl, actionText, delay (ms; alias delayMs),
sendAt, channels. \`id\` is an optional idempotency key (default: a new one per call). \`templateCode\` is case-insensitive
(ORDER_CREATED is order_created; LOW_STOCK_ALERT is inventory_low_stock). \`variables\` are checked before anything starts:
against the event's data definition for the templates of events (400 naming the field), else against the variables the
stored template uses outside \`{{#if}}\`.`;

/** A direct send's fields besides its recipients. */
type DirectSend = Omit<z.output<typeof publishNotificationSchema>, 'userId'>;

/** The shop integration's publishNotification / publishBatchNotification calls, as direct sends by template code. */
export function publishRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/api/notifications',
      routeOptions(ctx, 'Send one notification by template (publishNotification)', publishNotificationSchema),
      async (request, reply) => {
        const { userId, ...send } = request.body;
        const result = await sendDirect(ctx, request.em, send, { userId });
        return reply.code(202).send(withNotificationIds(result, { userId }));
      },
    );
    app.post(
      '/api/notifications/batch',
      routeOptions(
        ctx,
        'Send one notification by template to many users (publishBatchNotification)',
        publishBatchNotificationSchema,
      ),
      async (request, reply) => {
        const { userIds, ...send } = request.body;
        const result = await sendDirect(ctx, request.em, send, { userIds });
        return reply.code(202).send(withNotificationIds(result, { userIds }));
      },
    );
  };
}

function routeOptions<Body extends z.ZodType>(ctx: ApiContext, summary: string, body: Body) {
  return {
    onRequest: ctx.auth.guard('service', 'sends'),
    // Before the body is even validated: nothing is accepted while Redis is nearly full (docs/contracts.md, "BullMQ").
    preValidation: redisBackpressureGuard(ctx),
    schema: {
      tags: ['events'],
      summary,
      description: `${OPTIONS_NOTE}\n\n${BACKPRESSURE_NOTE}`,
      security: [{ apiKey: [] }],
      querystring: noQuery,
      body,
      response: { 202: publishResultSchema, ...errors(400, 401, 403, 413, 429) },
    },
  };
}

/**
 * Checks the variables against the stored templates, then starts the send's envelope; its errors name the
 * template variables `variables`, as the request does.
 */
async function sendDirect(
  ctx: ApiContext,
  em: EntityManager,
  send: DirectSend,
  recipients: { userId: string } | { userIds: string[] },
): Promise<PublishResult> {
  await assertTemplateVariables(em, send.templateCode, send.variables, send.options);
  return ctx.deps.notifications.startEvent(parseDirectSend(send, recipients, 'variables'));
}

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { InvalidEventError } from '../../domain/business-event';
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

/** The original plan's publishNotification / publishBatchNotification, as direct sends by template code. */
export function publishRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  const backpressure = redisBackpressureGuard(ctx);
  return async (app) => {
    app.post(
      '/api/notifications',
      {
        onRequest: ctx.auth.guard('service', 'sends'),
        // Before the body is even validated: nothing is accepted while Redis is nearly full (docs/contracts.md, "BullMQ").
        preValidation: backpressure,
        schema: {
          tags: ['events'],
          summary: 'Send one notification by template (publishNotification)',
          description: `${OPTIONS_NOTE}\n\n${BACKPRESSURE_NOTE}`,
          security: [{ apiKey: [] }],
          querystring: noQuery,
          body: publishNotificationSchema,
          response: { 202: publishResultSchema, ...errors(400, 401, 403, 413, 429) },
        },
      },
      async (request, reply) => {
        const { templateCode, variables, options } = request.body;
        await assertTemplateVariables(request.em, templateCode, variables, options);
        const result = await renameEnvelopeFields(() =>
          ctx.deps.notifications.publishNotification(request.body),
        );
        return reply.code(202).send(withNotificationIds(result, { userId: request.body.userId }));
      },
    );

    app.post(
      '/api/notifications/batch',
      {
        onRequest: ctx.auth.guard('service', 'sends'),
        // Before the body is even validated: nothing is accepted while Redis is nearly full (docs/contracts.md, "BullMQ").
        preValidation: backpressure,
        schema: {
          tags: ['events'],
          summary: 'Send one notification by template to many users (publishBatchNotification)',
          description: `${OPTIONS_NOTE}\n\n${BACKPRESSURE_NOTE}`,
          security: [{ apiKey: [] }],
          querystring: noQuery,
          body: publishBatchNotificationSchema,
          response: { 202: publishResultSchema, ...errors(400, 401, 403, 413, 429) },
        },
      },
      async (request, reply) => {
        const { templateCode, variables, options } = request.body;
        await assertTemplateVariables(request.em, templateCode, variables, options);
        const result = await renameEnvelopeFields(() =>
          ctx.deps.notifications.publishBatchNotification(request.body),
        );
        return reply.code(202).send(withNotificationIds(result, { userIds: request.body.userIds }));
      },
    );
  };
}

/** The client builds an envelope; name its fields as this request did (data -> variables). */
async function renameEnvelopeFields<T>(publish: () => Promise<T>): Promise<T> {
  try {
    return await publish();
  } catch (err) {
    if (!(err instanceof InvalidEventError)) throw err;
    const rename = (field: string) =>
      field === 'data' || field.startsWith('data.') ? `variables${field.slice(4)}` : field;
    throw new InvalidEventError(
      err.message.replace(/(^|; |: )data([.:])/g, '$1variables$2'),
      err.fields.map(rename),
    );
  }
}

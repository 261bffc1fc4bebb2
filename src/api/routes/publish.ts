import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { InvalidEventError } from '../../domain/business-event';
import { TemplateRepository } from '../../db/repositories/template-repository';
import type { ApiContext } from '../context';
import { badRequest } from '../errors';
import { errors, noQuery, publishBatchNotificationSchema, publishNotificationSchema, publishResultSchema } from '../schemas';
import { withNotificationIds } from './events';

const OPTIONS_NOTE = `\`options\`: priority (low | normal | high | urgent), actionUrl, actionText, delay (ms; alias delayMs),
sendAt, channels. \`id\` is an optional idempotency key (default: a new one per call).`;

/** The original plan's publishNotification / publishBatchNotification, as direct sends by template code. */
export function publishRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/api/notifications',
      {
        onRequest: ctx.auth.guard('service'),
        schema: {
          tags: ['events'],
          summary: 'Send one notification by template (publishNotification)',
          description: OPTIONS_NOTE,
          security: [{ apiKey: [] }],
          querystring: noQuery,
          body: publishNotificationSchema,
          response: { 202: publishResultSchema, ...errors(400, 401, 403, 413, 429) },
        },
      },
      async (request, reply) => {
        await assertTemplateExists(request.em, request.body.templateCode);
        const result = await renameEnvelopeFields(() => ctx.deps.notifications.publishNotification(request.body));
        return reply.code(202).send(withNotificationIds(result, { userId: request.body.userId }));
      },
    );

    app.post(
      '/api/notifications/batch',
      {
        onRequest: ctx.auth.guard('service'),
        schema: {
          tags: ['events'],
          summary: 'Send one notification by template to many users (publishBatchNotification)',
          description: OPTIONS_NOTE,
          security: [{ apiKey: [] }],
          querystring: noQuery,
          body: publishBatchNotificationSchema,
          response: { 202: publishResultSchema, ...errors(400, 401, 403, 413, 429) },
        },
      },
      async (request, reply) => {
        await assertTemplateExists(request.em, request.body.templateCode);
        const result = await renameEnvelopeFields(() => ctx.deps.notifications.publishBatchNotification(request.body));
        return reply.code(202).send(withNotificationIds(result, { userIds: request.body.userIds }));
      },
    );
  };
}

async function assertTemplateExists(em: ConstructorParameters<typeof TemplateRepository>[0], code: string): Promise<void> {
  if (!(await new TemplateRepository(em).exists(code))) throw badRequest('templateCode', `no template with code "${code}"`);
}

/** The client builds an envelope; name its fields as this request did (data -> variables). */
async function renameEnvelopeFields<T>(publish: () => Promise<T>): Promise<T> {
  try {
    return await publish();
  } catch (err) {
    if (!(err instanceof InvalidEventError)) throw err;
    const rename = (field: string) => (field === 'data' || field.startsWith('data.') ? `variables${field.slice(4)}` : field);
    throw new InvalidEventError(err.message.replace(/(^|; |: )data([.:])/g, '$1variables$2'), err.fields.map(rename));
  }
}

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { SearchHit } from '../contract-types';
import { NotificationRepository } from '../../db/repositories/notification-repository';
import { CHANNELS } from '../../domain/channels';
import { NOTIFICATION_STATES } from '../../domain/notification-status';
import type { ApiContext } from '../context';
import { ADMIN_SECURITY, answerSchema, errors } from '../schemas';

const LIMIT = 50;

const searchItemSchema = answerSchema<SearchHit>()(
  z.object({
    id: z.string().describe('notification id: GET /api/notifications/{id}/trace tells its story'),
    workflowId: z.string(),
    eventId: z.string(),
    eventType: z.string().nullable(),
    recipientId: z.string(),
    state: z.enum(NOTIFICATION_STATES),
    channels: z.array(z.enum(CHANNELS)),
    templateCode: z.string(),
    createdAt: z.string(),
  }),
);

/** Finding a notification for the dashboard (docs/contracts.md, "Browser surfaces"). */
export function adminSearchRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/admin/search',
      {
        onRequest: ctx.auth.guard('admin'),
        schema: {
          tags: ['operators'],
          summary: 'Find notifications by notification id, workflow id, event id or recipient id',
          description: `Exact matches only: the notification's UUID, its workflow id, its event id, its recipient id, or its key \`notification-<eventId>-<userId>\`. The newest ${LIMIT}, newest first.`,
          security: ADMIN_SECURITY,
          querystring: z
            .object({ q: z.string().trim().min(1).max(200).describe('an id of one of those kinds') })
            .strict(),
          response: { 200: z.object({ items: z.array(searchItemSchema) }), ...errors(400, 401, 403, 429) },
        },
      },
      async (request) => {
        const found = await new NotificationRepository(request.em).search(request.query.q, LIMIT);
        return {
          items: found.map((n) => ({
            id: n.id,
            workflowId: n.workflowId,
            eventId: n.eventId,
            eventType: n.eventType,
            recipientId: n.recipientId,
            state: n.state,
            channels: n.channels,
            templateCode: n.templateCode,
            createdAt: n.createdAt.toISOString(),
          })),
        };
      },
    );
  };
}

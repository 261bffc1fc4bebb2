import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NotificationRepository } from '../../db/repositories/notification-repository';
import type { NotificationStatus } from '../../domain/notification-status';
import type { ApiContext } from '../context';
import { ApiError } from '../errors';
import { awaitStatus, isWaiting, notificationStatus, resolveNotificationRef } from '../notification-lookup';
import { errors, noQuery, notificationRefParams, notificationStatusSchema } from '../schemas';

/** How long cancel/reschedule wait to see the workflow act on the signal before answering 202. */
const SIGNAL_EFFECT_WAIT_MS = 3000;

const ID_NOTE = 'The `:id` is the notification UUID or its workflow id (`notification-<eventId>-<userId>`); a notification that still waits has no UUID yet.';

const controlResultSchema = z.object({ workflowId: z.string(), status: notificationStatusSchema });

/** Service-facing: read a notification's status and steer a scheduled one, through its workflow's query and signals. */
export function notificationControlRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    const { temporalClient, notifications } = ctx.deps;

    app.get(
      '/api/notifications/:id/status',
      {
        onRequest: ctx.auth.guard('service'),
        schema: {
          tags: ['notifications'],
          summary: 'Status of one notification (the workflow `status` query)',
          description: ID_NOTE,
          security: [{ apiKey: [] }],
          params: notificationRefParams,
          querystring: noQuery,
          response: { 200: controlResultSchema, ...errors(400, 401, 403, 404, 429, 503) },
        },
      },
      async (request) => {
        const ref = await resolveNotificationRef(request.params.id, new NotificationRepository(request.em), temporalClient);
        return { workflowId: ref.workflowId, status: await notificationStatus(temporalClient, notifications, ref.workflowId, ref.notification, ref.description) };
      },
    );

    app.post(
      '/api/notifications/:id/cancel',
      {
        onRequest: ctx.auth.guard('service'),
        schema: {
          tags: ['notifications'],
          summary: 'Cancel a scheduled notification (signal `cancel`)',
          description: `${ID_NOTE} Only a notification that still waits (scheduled, waiting_quiet_hours) can be cancelled: otherwise 409. Answers 200 once the workflow is cancelled, 202 if it has not acted on the signal within ${SIGNAL_EFFECT_WAIT_MS / 1000} s.`,
          security: [{ apiKey: [] }],
          params: notificationRefParams,
          querystring: noQuery,
          body: z.object({ reason: z.string().min(1).max(500).optional() }).strict().nullish(),
          response: { 200: controlResultSchema, 202: controlResultSchema, ...errors(400, 401, 403, 404, 409, 429, 503) },
        },
      },
      async (request, reply) => {
        const ref = await resolveNotificationRef(request.params.id, new NotificationRepository(request.em), temporalClient);
        const read = () => notificationStatus(temporalClient, notifications, ref.workflowId, ref.notification);
        assertWaiting(await read(), 'cancelled');
        await notifications.cancel(ref.workflowId, request.body?.reason);
        const { status, reached } = await awaitStatus(read, (s) => s.state === 'cancelled' || !isWaiting(s), SIGNAL_EFFECT_WAIT_MS);
        return reply.code(reached && status.state === 'cancelled' ? 200 : 202).send({ workflowId: ref.workflowId, status });
      },
    );

    app.post(
      '/api/notifications/:id/reschedule',
      {
        onRequest: ctx.auth.guard('service'),
        schema: {
          tags: ['notifications'],
          summary: 'Move a scheduled notification (signal `reschedule`)',
          description: `${ID_NOTE} Only a notification that still waits can be rescheduled: otherwise 409. A time in the past sends now. Quiet hours still apply after the new time.`,
          security: [{ apiKey: [] }],
          params: notificationRefParams,
          querystring: noQuery,
          body: z.object({ sendAt: z.iso.datetime({ offset: true }).describe('new send time, ISO 8601 with offset') }).strict(),
          response: { 200: controlResultSchema, 202: controlResultSchema, ...errors(400, 401, 403, 404, 409, 429, 503) },
        },
      },
      async (request, reply) => {
        const ref = await resolveNotificationRef(request.params.id, new NotificationRepository(request.em), temporalClient);
        const read = () => notificationStatus(temporalClient, notifications, ref.workflowId, ref.notification);
        assertWaiting(await read(), 'rescheduled');
        const sendAt = new Date(request.body.sendAt).toISOString();
        await notifications.reschedule(ref.workflowId, sendAt);
        const { status, reached } = await awaitStatus(read, (s) => s.sendAt === sendAt || !isWaiting(s), SIGNAL_EFFECT_WAIT_MS);
        return reply.code(reached ? 200 : 202).send({ workflowId: ref.workflowId, status });
      },
    );
  };
}

function assertWaiting(status: NotificationStatus, verb: string): void {
  if (!isWaiting(status)) {
    throw new ApiError(409, `notification is ${status.state}: only a scheduled notification can be ${verb}`);
  }
}

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { z } from 'zod';
import { NotificationRepository } from '../../db/repositories/notification-repository';
import type { NotificationStatus } from '../../domain/notification-status';
import type { ApiContext } from '../context';
import { ApiError } from '../errors';
import { controlRefusal } from '../../domain/notification-lifecycle';
import {
  awaitStatus,
  isWaiting,
  notificationStatus,
  resolveNotificationRef,
  statusFromRow,
} from '../notification-lookup';
import { errors, noQuery, notificationRefParams, notificationStatusSchema } from '../schemas';

/** Release-0 notification workflows take signals: how long cancel/reschedule wait to see them act before answering 202. */
const SIGNAL_EFFECT_WAIT_MS = 3000;

const ID_NOTE =
  'The `:id` is the notification UUID or its key `notification-<eventId>-<userId>` (docs/contracts.md).';

const controlResultSchema = z.object({ workflowId: z.string(), status: notificationStatusSchema });

/** Service-facing: read a notification's status and steer a scheduled one, through its workflow's query and signals. */
export function notificationControlRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    const { temporalClient, notifications } = ctx.deps;

    app.get(
      '/api/notifications/:id/status',
      {
        onRequest: ctx.auth.guard('service', 'read'),
        schema: {
          tags: ['notifications'],
          summary: 'Status of one notification (from Postgres, where its outcomes live)',
          description: ID_NOTE,
          security: [{ apiKey: [] }],
          params: notificationRefParams,
          querystring: noQuery,
          response: { 200: controlResultSchema, ...errors(400, 401, 403, 404, 429, 503) },
        },
      },
      async (request) => {
        const ref = await resolveNotificationRef(
          request.params.id,
          new NotificationRepository(request.em),
          temporalClient,
        );
        return {
          workflowId: ref.workflowId,
          status: await notificationStatus(
            temporalClient,
            notifications,
            ref.workflowId,
            ref.notification,
            ref.description,
          ),
        };
      },
    );

    app.post(
      '/api/notifications/:id/cancel',
      {
        onRequest: ctx.auth.guard('service', 'control'),
        schema: {
          tags: ['notifications'],
          summary: 'Cancel a scheduled notification (update `cancelNotification`)',
          description: `${ID_NOTE} Only a notification that still waits (scheduled, waiting_quiet_hours) can be cancelled: otherwise 409. Answers 200 with the cancelled status (release-0 notification workflows: 202 if the signal took effect later than ${SIGNAL_EFFECT_WAIT_MS / 1000} s).`,
          security: [{ apiKey: [] }],
          params: notificationRefParams,
          querystring: noQuery,
          body: z
            .object({ reason: z.string().min(1).max(500).optional() })
            .strict()
            .nullish(),
          response: {
            200: controlResultSchema,
            202: controlResultSchema,
            ...errors(400, 401, 403, 404, 409, 429, 503),
          },
        },
      },
      async (request, reply) => {
        const repository = new NotificationRepository(request.em);
        const ref = await resolveNotificationRef(request.params.id, repository, temporalClient);
        const row = ref.notification;
        if (row?.lifecycle === 2) {
          const refusal = controlRefusal(row.state, 'cancelled');
          if (refusal) throw new ApiError(409, refusal);
          // A campaign's notification waits as a row only (quiet hours): cancelled in place.
          if (row.workflowId.startsWith(CAMPAIGN_WORKFLOW_PREFIX)) {
            if (!(await repository.cancelWaiting(row.id, request.body?.reason)))
              await refuseNoLongerWaiting(repository, row.id, 'cancelled');
            return reply
              .code(200)
              .send({ workflowId: ref.workflowId, status: statusFromRow(await reload(repository, row.id)) });
          }
          const status = await controlled(() =>
            notifications.cancel({ eventId: row.eventId, userId: row.recipientId }, request.body?.reason),
          );
          return reply.code(200).send({ workflowId: ref.workflowId, status });
        }
        const read = () =>
          notificationStatus(temporalClient, notifications, ref.workflowId, ref.notification);
        assertWaiting(await read(), 'cancelled');
        await notifications.cancel(ref.workflowId, request.body?.reason);
        const { status, reached } = await awaitStatus(
          read,
          (s) => s.state === 'cancelled' || !isWaiting(s),
          SIGNAL_EFFECT_WAIT_MS,
        );
        return reply
          .code(reached && status.state === 'cancelled' ? 200 : 202)
          .send({ workflowId: ref.workflowId, status });
      },
    );

    app.post(
      '/api/notifications/:id/reschedule',
      {
        onRequest: ctx.auth.guard('service', 'control'),
        schema: {
          tags: ['notifications'],
          summary: 'Move a scheduled notification (update `rescheduleNotification`)',
          description: `${ID_NOTE} Only a notification that still waits can be rescheduled: otherwise 409. A time in the past sends now. Quiet hours still apply after the new time.`,
          security: [{ apiKey: [] }],
          params: notificationRefParams,
          querystring: noQuery,
          body: z
            .object({
              sendAt: z.iso.datetime({ offset: true }).describe('new send time, ISO 8601 with offset'),
            })
            .strict(),
          response: {
            200: controlResultSchema,
            202: controlResultSchema,
            ...errors(400, 401, 403, 404, 409, 429, 503),
          },
        },
      },
      async (request, reply) => {
        const repository = new NotificationRepository(request.em);
        const ref = await resolveNotificationRef(request.params.id, repository, temporalClient);
        const sendAt = new Date(request.body.sendAt).toISOString();
        const row = ref.notification;
        if (row?.lifecycle === 2) {
          assertWaiting(statusFromRow(row), 'rescheduled');
          if (row.workflowId.startsWith(CAMPAIGN_WORKFLOW_PREFIX)) {
            throw new ApiError(
              409,
              "a campaign's notifications follow the campaign: reschedule or cancel the campaign",
            );
          }
          const status = await controlled(() =>
            notifications.reschedule({ eventId: row.eventId, userId: row.recipientId }, sendAt),
          );
          return reply.code(200).send({ workflowId: ref.workflowId, status });
        }
        const read = () =>
          notificationStatus(temporalClient, notifications, ref.workflowId, ref.notification);
        assertWaiting(await read(), 'rescheduled');
        await notifications.reschedule(ref.workflowId, sendAt);
        const { status, reached } = await awaitStatus(
          read,
          (s) => s.sendAt === sendAt || !isWaiting(s),
          SIGNAL_EFFECT_WAIT_MS,
        );
        return reply.code(reached ? 200 : 202).send({ workflowId: ref.workflowId, status });
      },
    );
  };
}

const CAMPAIGN_WORKFLOW_PREFIX = 'campaign-';

/**
 * Runs a cancel/reschedule update: the event workflow answers with the resulting status, or its
 * validator refuses (the notification started sending meanwhile) -> 409 with the reason.
 */
async function controlled(
  update: () => Promise<NotificationStatus | undefined>,
): Promise<NotificationStatus> {
  try {
    const status = await update();
    if (!status) throw new ApiError(503, 'the notification workflow gave no status');
    return status;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new ApiError(409, err.cause?.message ?? err.message);
    // The workflow closed between the read and the update: nothing waits any more.
    if (err instanceof WorkflowNotFoundError) throw new ApiError(409, 'notification is no longer waiting');
    throw err;
  }
}

async function reload(repository: NotificationRepository, id: string) {
  const row = await repository.findById(id);
  if (!row) throw new ApiError(404, 'not found');
  return row;
}

async function refuseNoLongerWaiting(
  repository: NotificationRepository,
  id: string,
  verb: string,
): Promise<never> {
  assertWaiting(statusFromRow(await reload(repository, id)), verb);
  throw new ApiError(409, `notification is no longer waiting: it cannot be ${verb}`);
}

function assertWaiting(status: NotificationStatus, verb: string): void {
  if (!isWaiting(status)) {
    throw new ApiError(409, `notification is ${status.state}: only a scheduled notification can be ${verb}`);
  }
}

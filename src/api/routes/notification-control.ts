import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { z } from 'zod';
import { NotificationRepository } from '../../db/repositories/notification-repository';
import type { Notification } from '../../db/entities';
import type { NotificationStatus } from '../../domain/notification-status';
import { controlRefusal } from '../../domain/notification-lifecycle';
import { cancelRelease0, rescheduleRelease0, SIGNAL_EFFECT_WAIT_MS } from '../../release-0/notification-api';
import { isLeanRow } from '../../release-0/notification-owner';
import type { ApiContext } from '../context';
import { ApiError } from '../errors';
import { notificationStatus, resolveNotificationRef, type NotificationRef } from '../notification-lookup';
import { assertWaiting, statusFromRow } from '../notification-status';
import { errors, noQuery, notificationRefParams, notificationStatusSchema } from '../schemas';

const ID_NOTE =
  'The `:id` is the notification UUID or its key `notification-<eventId>-<userId>` (docs/contracts.md).';

const controlResultSchema = z.object({ workflowId: z.string(), status: notificationStatusSchema });

const controlResponses = {
  200: controlResultSchema,
  202: controlResultSchema,
  ...errors(400, 401, 403, 404, 409, 429, 503),
};

const statusRoute = {
  tags: ['notifications'],
  summary: 'Status of one notification (from Postgres, where its outcomes live)',
  description: ID_NOTE,
  security: [{ apiKey: [] }],
  params: notificationRefParams,
  querystring: noQuery,
  response: { 200: controlResultSchema, ...errors(400, 401, 403, 404, 429, 503) },
};

const cancelRoute = {
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
  response: controlResponses,
};

const rescheduleRoute = {
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
  response: controlResponses,
};

type ControlDeps = Pick<ApiContext['deps'], 'temporalClient' | 'notifications'>;

/** What a cancel or reschedule answers: 200, or 202 when a release-0 signal had not acted yet. */
interface ControlAnswer {
  code: 200 | 202;
  workflowId: string;
  status: NotificationStatus;
}

/** Service-facing: read a notification's status and steer a scheduled one, through its workflow's query and signals. */
export function notificationControlRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    const deps = ctx.deps;
    app.get(
      '/api/notifications/:id/status',
      { onRequest: ctx.auth.guard('service', 'read'), schema: statusRoute },
      (request) => readStatus(deps, request.em, request.params.id),
    );
    app.post(
      '/api/notifications/:id/cancel',
      { onRequest: ctx.auth.guard('service', 'control'), schema: cancelRoute },
      async (request, reply) => {
        const answer = await cancelNotification(deps, request.em, request.params.id, request.body?.reason);
        return reply.code(answer.code).send({ workflowId: answer.workflowId, status: answer.status });
      },
    );
    app.post(
      '/api/notifications/:id/reschedule',
      { onRequest: ctx.auth.guard('service', 'control'), schema: rescheduleRoute },
      async (request, reply) => {
        const sendAt = new Date(request.body.sendAt).toISOString();
        const answer = await rescheduleNotification(deps, request.em, request.params.id, sendAt);
        return reply.code(answer.code).send({ workflowId: answer.workflowId, status: answer.status });
      },
    );
  };
}

async function readStatus(
  deps: ControlDeps,
  em: EntityManager,
  id: string,
): Promise<{ workflowId: string; status: NotificationStatus }> {
  const ref = await resolveNotificationRef(id, new NotificationRepository(em), deps.temporalClient);
  const status = await notificationStatus(
    deps.temporalClient,
    deps.notifications,
    ref.workflowId,
    ref.notification,
    ref.description,
  );
  return { workflowId: ref.workflowId, status };
}

async function cancelNotification(
  deps: ControlDeps,
  em: EntityManager,
  id: string,
  reason: string | undefined,
): Promise<ControlAnswer> {
  const repository = new NotificationRepository(em);
  const ref = await resolveNotificationRef(id, repository, deps.temporalClient);
  const row = ref.notification;
  if (!isLeanRow(row)) return cancelRelease0(deps.temporalClient, deps.notifications, ref, reason);
  const refusal = controlRefusal(row.state, 'cancelled');
  if (refusal) throw new ApiError(409, refusal);
  // A campaign's notification waits as a row only (quiet hours): cancelled in place.
  if (isCampaignRow(row)) return cancelCampaignRow(repository, ref, row, reason);
  const status = await controlled(() =>
    deps.notifications.cancel({ eventId: row.eventId, userId: row.recipientId }, reason),
  );
  return { code: 200, workflowId: ref.workflowId, status };
}

async function cancelCampaignRow(
  repository: NotificationRepository,
  ref: NotificationRef,
  row: Notification,
  reason: string | undefined,
): Promise<ControlAnswer> {
  if (!(await repository.cancelWaiting(row.id, reason)))
    await refuseNoLongerWaiting(repository, row.id, 'cancelled');
  return { code: 200, workflowId: ref.workflowId, status: statusFromRow(await reload(repository, row.id)) };
}

async function rescheduleNotification(
  deps: ControlDeps,
  em: EntityManager,
  id: string,
  sendAt: string,
): Promise<ControlAnswer> {
  const ref = await resolveNotificationRef(id, new NotificationRepository(em), deps.temporalClient);
  const row = ref.notification;
  if (!isLeanRow(row)) return rescheduleRelease0(deps.temporalClient, deps.notifications, ref, sendAt);
  assertWaiting(statusFromRow(row), 'rescheduled');
  if (isCampaignRow(row)) {
    throw new ApiError(
      409,
      "a campaign's notifications follow the campaign: reschedule or cancel the campaign",
    );
  }
  const status = await controlled(() =>
    deps.notifications.reschedule({ eventId: row.eventId, userId: row.recipientId }, sendAt),
  );
  return { code: 200, workflowId: ref.workflowId, status };
}

const CAMPAIGN_WORKFLOW_PREFIX = 'campaign-';

function isCampaignRow(row: Notification): boolean {
  return row.workflowId.startsWith(CAMPAIGN_WORKFLOW_PREFIX);
}

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

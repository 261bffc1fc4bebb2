import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Trace } from '../contract-types';
import { NotificationRepository } from '../../db/repositories/notification-repository';
import type { ApiContext } from '../context';
import { resolveNotificationRef } from '../notification-lookup';
import { buildNotificationTrace } from '../notification-trace';
import {
  answerSchema,
  channelStatusSchema,
  errors,
  noQuery,
  notificationRefParams,
  notificationStatusSchema,
} from '../schemas';

const traceSchema = answerSchema<Trace>()(
  z.object({
    notificationId: z.string().nullable(),
    workflowId: z
      .string()
      .describe(
        "the workflow that owns the notification: its event's (event-<id>, followup-...), its campaign's, or (release 0) its own",
      ),
    event: z
      .record(z.string(), z.unknown())
      .nullable()
      .describe(
        'the business event envelope as the event workflow received it; for campaign notifications the campaign',
      ),
    notification: z
      .record(z.string(), z.unknown())
      .nullable()
      .describe('the stored notification (null only for a release-0 notification that still waits)'),
    status: notificationStatusSchema
      .nullable()
      .describe(
        "the notification's status: from its row (channel states included); release 0: its workflow's",
      ),
    workflows: z.array(
      z.object({
        role: z
          .enum(['event', 'campaign', 'notification', 'journey'])
          .describe(
            'event: the event (or follow-up) workflow that owns it; campaign: its campaign workflow; notification: a release-0 notification workflow; journey: the order journey of its order (`order-<orderNumber>`, docs/order-journeys.md)',
          ),
        workflowId: z.string(),
        runId: z.string(),
        type: z.string(),
        status: z.string(),
        startTime: z.string(),
        closeTime: z.string().nullable(),
        webUiUrl: z.string().describe('this run in the Temporal Web UI'),
      }),
    ),
    states: z
      .array(z.object({ state: z.string(), at: z.string() }))
      .describe(
        "each state change of the notification, oldest first: from the event workflow's steps and the stored row",
      ),
    channels: z.record(
      z.string(),
      z.object({
        status: channelStatusSchema.nullable(),
        job: z
          .object({
            id: z.string(),
            state: z.string(),
            attemptsMade: z.number(),
            failedReason: z.string().nullable(),
            addedAt: z.string(),
            processedAt: z.string().nullable(),
            finishedAt: z.string().nullable(),
          })
          .nullable()
          .describe('the BullMQ job; null once removed after retention'),
        sendRecord: z.record(z.string(), z.unknown()).nullable(),
        attempts: z.array(z.record(z.string(), z.unknown())),
      }),
    ),
    timeline: z.array(
      z.object({
        at: z.string(),
        source: z.enum(['temporal', 'postgres', 'bullmq']),
        kind: z.string(),
        summary: z.string(),
        workflowId: z.string().optional(),
        channel: z.string().optional(),
        detail: z.record(z.string(), z.unknown()).optional(),
      }),
    ),
  }),
);

export function traceRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/notifications/:id/trace',
      {
        onRequest: ctx.auth.guard('admin'),
        schema: {
          tags: ['operators'],
          summary: "One notification's timeline",
          description:
            'The business event (or campaign), the workflows that handled it with links into the Temporal Web UI (its event or campaign workflow, and a release-0 notification workflow when there is one), each state change, and per channel its status, BullMQ job, send record and delivery attempts, merged into one timeline. `:id` is the notification UUID or its key `notification-<eventId>-<userId>`.',
          security: [{ apiKey: [] }, { adminBasic: [] }, { bearer: [] }] as Record<string, string[]>[],
          params: notificationRefParams,
          querystring: noQuery,
          response: { 200: traceSchema, ...errors(400, 401, 403, 404, 429) },
        },
      },
      async (request) => {
        const repository = new NotificationRepository(request.em);
        const ref = await resolveNotificationRef(request.params.id, repository, ctx.deps.temporalClient);
        return buildNotificationTrace(ref, {
          temporal: ctx.deps.temporalClient,
          notifications: ctx.deps.notifications,
          repository,
          em: request.em,
          queues: ctx.deps.queues,
          temporalUiUrl: ctx.deps.config.api.temporalUiUrl,
          namespace: ctx.deps.config.temporal.namespace,
        });
      },
    );
  };
}

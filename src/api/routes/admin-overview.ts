import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Overview, QueueCounts } from '../contract-types';
import { DeliveryStatsRepository } from '../../db/repositories/delivery-stats-repository';
import { CHANNELS, queueNameFor, type Channel } from '../../domain/channels';
import {
  readStuckWorkSummary,
  scanAndPublish,
  type StuckWorkSummary,
} from '../../operations/stuck-work-monitor';
import type { ApiContext } from '../context';
import { ADMIN_SECURITY, answerSchema, errors } from '../schemas';

const RECENT_FAILURES = 10;
const MINUTE_MS = 60_000;
/** How long a scan this API ran itself is reused (by every API process, through Redis) when no worker published one. */
const API_SCAN_TTL_MS = 60_000;

const count = z.number().int().nullable();
const stuckSchema = z
  .object({
    scannedAt: z.string().describe('when the scan ran'),
    pastDeadline: count.describe('notifications with an open channel more than a minute past its deadlineAt'),
    queuedWithoutJob: count.describe('channels queued whose BullMQ job does not exist'),
    workflowsWithoutTimer: count.describe(
      'open event and campaign workflows started over a minute ago holding no timer and no pending work',
    ),
    expired: count.describe('notifications in the final state expired (up to 10000)'),
    truncated: z
      .object({ rows: z.boolean(), workflows: z.boolean() })
      .describe(
        'true: only the oldest rows / a rotating part of the workflows were examined; the counts are lower bounds',
      ),
    samples: z
      .array(
        z.object({
          kind: z.enum(['past_deadline', 'queued_without_job', 'workflow_without_timer']),
          workflowId: z.string(),
          eventId: z.string().optional(),
          notificationId: z.string().optional(),
          channel: z.enum(CHANNELS).optional(),
          at: z.string().describe('deadline, last change of the row, or start of the workflow'),
        }),
      )
      .describe('up to 5 of each kind, oldest first'),
    errors: z
      .array(z.object({ part: z.string(), message: z.string() }))
      .describe('parts the scan could not read (their count is null)'),
  })
  .nullable()
  .describe(
    'stuck work (docs/contracts.md, "Stuck work"): the latest scan published by a worker (STUCK_WORK_SCAN_MS), or one run now; null when no scan could run',
  );

const overviewSchema = answerSchema<Overview>()(
  z.object({
    from: z.string().describe('start of the first minute'),
    to: z.string().describe('end of the last minute (the current minute included)'),
    perMinute: z
      .array(
        z.object({
          at: z.string(),
          events: z.number().int(),
          delivered: z.number().int(),
          failed: z.number().int(),
        }),
      )
      .describe('every minute, oldest first, zeros included'),
    totals: z.object({ events: z.number().int(), delivered: z.number().int(), failed: z.number().int() }),
    queues: z.array(
      z.object({
        channel: z.enum(CHANNELS),
        queue: z.string(),
        waiting: z.number().int().describe('waiting and prioritized jobs'),
        active: z.number().int(),
        delayed: z.number().int(),
        failed: z.number().int(),
        completed: z.number().int(),
        paused: z.number().int(),
      }),
    ),
    recentFailures: z
      .array(
        z.object({
          notificationId: z.string(),
          eventId: z.string(),
          recipientId: z.string(),
          channel: z.enum(CHANNELS),
          error: z.string().nullable(),
          at: z.string(),
        }),
      )
      .describe(`the newest ${RECENT_FAILURES} failures of the window`),
    stuck: stuckSchema,
  }),
);

const DESCRIPTION = `What the pipeline did in the last \`minutes\` minutes (the current one included), per minute:
- \`events\`: distinct event ids whose notifications were stored that minute (totals: each event once, even when its notifications span minutes);
- \`delivered\`: delivery attempts that succeeded (one per channel delivered to a recipient);
- \`failed\`: channel sends that failed for good — the channel's last attempt failed and its state is failed (retries still to come, and a later delivery, do not count).
Queue depths are BullMQ's job counts per channel queue, now.
\`stuck\`: the latest stuck-work scan (past deadline, queued without a job, workflows without a timer, expired), with samples.`;

const overviewRouteSchema = {
  tags: ['operators'],
  summary: 'Events, deliveries and failures per minute, queue depths, recent failures',
  description: DESCRIPTION,
  security: ADMIN_SECURITY,
  querystring: z
    .object({
      minutes: z.coerce.number().int().min(1).max(1440).default(60).describe('window length, 1-1440'),
    })
    .strict(),
  response: { 200: overviewSchema, ...errors(400, 401, 403, 429) },
};

/** The dashboard's first page (docs/contracts.md, "Browser surfaces"). */
export function adminOverviewRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  const stuckWork = latestStuckWork(ctx);
  return async (app) => {
    app.get(
      '/api/admin/overview',
      { onRequest: ctx.auth.guard('admin'), schema: overviewRouteSchema },
      async (request) => overview(ctx, request.em, request.query.minutes, stuckWork),
    );
  };
}

/** The last `minutes` minutes up to the end of the current one. */
async function overview(
  ctx: ApiContext,
  em: EntityManager,
  minutes: number,
  stuckWork: () => Promise<StuckWorkSummary | null>,
): Promise<Overview> {
  const to = new Date(Math.floor(ctx.now().getTime() / MINUTE_MS) * MINUTE_MS + MINUTE_MS);
  const from = new Date(to.getTime() - minutes * MINUTE_MS);
  const stats = new DeliveryStatsRepository(em);
  const [perMinute, events, recentFailures, queues, stuck] = await Promise.all([
    stats.perMinute(from, to),
    stats.eventCount(from, to),
    stats.recentFailures(from, to, RECENT_FAILURES),
    Promise.all(CHANNELS.map((channel) => queueCounts(ctx, channel))),
    stuckWork(),
  ]);
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    perMinute: perMinute.map((m) => ({ ...m, at: m.at.toISOString() })),
    totals: {
      events,
      delivered: sum(perMinute.map((m) => m.delivered)),
      failed: sum(perMinute.map((m) => m.failed)),
    },
    queues,
    recentFailures: recentFailures.map((f) => ({ ...f, at: f.at.toISOString() })),
    stuck: stuck && withoutRotation(stuck),
  };
}

/** A channel queue's job counts now; prioritized jobs count as waiting. */
async function queueCounts(ctx: ApiContext, channel: Channel): Promise<QueueCounts> {
  const counts = await ctx.deps.queues
    .queue(channel)
    .getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed', 'paused');
  const {
    waiting = 0,
    prioritized = 0,
    active = 0,
    delayed = 0,
    failed = 0,
    completed = 0,
    paused = 0,
  } = counts;
  return {
    channel,
    queue: queueNameFor(channel),
    waiting: waiting + prioritized,
    active,
    delayed,
    failed,
    completed,
    paused,
  };
}

/**
 * The summary a worker published; without one (scans off, or no worker), a scan run here and published
 * for API_SCAN_TTL_MS, one at a time per process. Never fails the overview: null when no scan could run.
 */
function latestStuckWork(ctx: ApiContext): () => Promise<StuckWorkSummary | null> {
  let scanning: Promise<StuckWorkSummary | null> | null = null;
  const { config, redis, orm, queues, temporalClient } = ctx.deps;
  const scan = () =>
    scanAndPublish(
      {
        orm,
        queues,
        client: temporalClient,
        redis,
        queuePrefix: config.queuePrefix,
        taskQueues: [...new Set([config.temporal.taskQueue, config.temporal.campaignTaskQueue])],
      },
      API_SCAN_TTL_MS,
      // An operator waits for this page: a store that does not answer is named sooner than a worker's scan would.
      { partTimeoutMs: 5000 },
    ).catch(() => null);
  return async () => {
    const published = await readStuckWorkSummary(redis, config.queuePrefix).catch(() => null);
    if (published) return published;
    scanning ??= scan().finally(() => {
      scanning = null;
    });
    return scanning;
  };
}

function withoutRotation({
  rotation: _rotation,
  ...summary
}: StuckWorkSummary): Omit<StuckWorkSummary, 'rotation'> {
  return summary;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

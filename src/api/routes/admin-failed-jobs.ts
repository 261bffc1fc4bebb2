import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { FailedJob } from '../contract-types';
import { listFailedJobs, retryFailedJobs, type FailedJobSummary } from '../../delivery/failed-jobs';
import { CHANNELS, type Channel } from '../../domain/channels';
import type { ApiContext } from '../context';
import { ADMIN_SECURITY, answerSchema, errors } from '../schemas';

const failedJobSchema = answerSchema<FailedJob>()(
  z.object({
    channel: z.enum(CHANNELS),
    jobId: z.string().describe('`<notificationId>.<channel>`'),
    notificationId: z.string(),
    workflowId: z.string().nullable().describe('release-0 jobs only'),
    attemptsMade: z.number().int(),
    failedReason: z.string(),
    failedAt: z.string().nullable(),
  }),
);

const channelsOf = (channel: Channel | undefined): Channel[] => (channel ? [channel] : [...CHANNELS]);
const view = (job: FailedJobSummary) => ({ ...job, failedAt: job.failedAt?.toISOString() ?? null });

const listSchema = {
  tags: ['operators'],
  summary: 'Failed send jobs',
  description: 'Send jobs whose retries are used up or that were refused for good, oldest first per channel.',
  security: ADMIN_SECURITY,
  querystring: z
    .object({ channel: z.enum(CHANNELS).optional().describe('one channel queue; default all') })
    .strict(),
  response: { 200: z.object({ items: z.array(failedJobSchema) }), ...errors(400, 401, 403, 429) },
};

const retrySchema = {
  tags: ['operators'],
  summary: 'Move failed send jobs back to waiting',
  description: `Every failed job of \`channel\` (default: all channels), or only \`jobId\`. A retried job gets one more attempt;
\`resetAttempts\` gives it the channel's full retry budget again. A message already sent is not sent again (the send record guards the provider).`,
  security: ADMIN_SECURITY,
  body: z
    .object({
      channel: z.enum(CHANNELS).optional(),
      jobId: z.string().min(1).max(300).optional().describe('`<notificationId>.<channel>`'),
      resetAttempts: z.boolean().optional(),
    })
    .strict(),
  response: {
    200: z.object({ retried: z.array(failedJobSchema) }),
    ...errors(400, 401, 403, 413, 429),
  },
};

/** Failed send jobs (retries used up, or refused for good), as `npm run retry-failed` lists and retries them. */
export function adminFailedJobRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    const onRequest = ctx.auth.guard('admin');
    app.get('/api/admin/failed-jobs', { onRequest, schema: listSchema }, async (request) => {
      const jobs = await listFailedJobs(ctx.deps.queues, { channels: channelsOf(request.query.channel) });
      return { items: jobs.map(view) };
    });
    app.post('/api/admin/failed-jobs/retry', { onRequest, schema: retrySchema }, async (request) => {
      const { channel, jobId, resetAttempts } = request.body;
      const retried = await retryFailedJobs(
        ctx.deps.queues,
        { channels: channelsOf(channel), jobId },
        { resetAttempts },
      );
      return { retried: retried.map(view) };
    });
  };
}

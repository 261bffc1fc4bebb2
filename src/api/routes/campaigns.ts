import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Campaign } from '../../db/entities';
import { CampaignRepository } from '../../db/repositories/campaign-repository';
import { TemplateRepository } from '../../db/repositories/template-repository';
import {
  CAMPAIGN_CATEGORY,
  CAMPAIGN_STATES,
  campaignIdSchema,
  campaignSchema,
  InvalidCampaignError,
  parseCampaign,
  type CampaignProgress,
} from '../../domain/campaign';
import { campaignWorkflowId } from '../../domain/workflow-ids';
import type { ApiContext } from '../context';
import { ApiError, badRequest, notFound } from '../errors';
import { describeOrNull } from '../notification-lookup';
import { assertTemplateVariables } from '../template-variables-check';
import { errors, noQuery } from '../schemas';

/** How long cancel waits to see the campaign cancelled before answering 202. */
const CANCEL_EFFECT_WAIT_MS = 3000;
const QUERY_TIMEOUT_MS = 5000;
const SECURITY: Record<string, string[]>[] = [{ apiKey: [] }, { adminBasic: [] }, { bearer: [] }];

const progressSchema = z.object({
  campaignId: z.string(),
  state: z.enum(CAMPAIGN_STATES),
  scheduledAt: z.string(),
  targeted: z.number().int(),
  started: z.number().int(),
  afterUserId: z.string().nullable().describe('keyset cursor: the last recipient id reached'),
  runs: z.number().int().describe('workflow runs so far (1 + continue-as-new)'),
  cancelReason: z.string().optional(),
});

const campaignViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  templateCode: z.string(),
  segment: z.object({ roles: z.array(z.string()).optional(), userIds: z.array(z.string()).optional() }),
  variables: z.record(z.string(), z.unknown()),
  channels: z.array(z.string()).nullable(),
  priority: z.string(),
  scheduledAt: z.string(),
  state: z
    .enum(CAMPAIGN_STATES)
    .describe(
      'scheduled: waits for scheduledAt; running: starting notifications; completed: every recipient has its notification workflow; cancelled',
    ),
  targeted: z.number().int().describe('recipients of the segment listed so far'),
  started: z.number().int().describe('notification workflows started'),
  workflowId: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const campaignDetailSchema = campaignViewSchema.extend({
  workflow: z
    .object({ status: z.string().describe('RUNNING, COMPLETED, FAILED, TERMINATED, ...') })
    .nullable()
    .describe('the campaign workflow; null when Temporal has none'),
  progress: progressSchema
    .nullable()
    .describe(
      "live: the workflow's `campaignProgress` query, or its result once completed; null when it cannot answer",
    ),
  notifications: z
    .record(z.string(), z.number().int())
    .describe("the campaign's stored notifications per state (one waiting for quiet hours has none yet)"),
});

const campaignParams = z.object({ id: campaignIdSchema.describe('campaign id (UUID)') });

/** Operator-facing: marketing campaigns, one campaignWorkflow each (`campaign-<id>`). */
export function campaignRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    const { temporalClient, notifications } = ctx.deps;
    app.addHook('onRequest', ctx.auth.guard('admin'));

    /** The workflow's status and live progress; null progress when no worker answers. */
    async function liveProgress(
      id: string,
    ): Promise<{ workflow: { status: string } | null; progress: CampaignProgress | null }> {
      const description = await describeOrNull(temporalClient, campaignWorkflowId(id));
      if (!description) return { workflow: null, progress: null };
      const workflow = { status: description.status.name };
      try {
        if (description.status.name === 'RUNNING') {
          return {
            workflow,
            progress: await temporalClient.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () =>
              notifications.campaignProgress(id),
            ),
          };
        }
        if (description.status.name === 'COMPLETED')
          return { workflow, progress: await notifications.campaignResult(id) };
      } catch (err) {
        app.log.warn({ err, campaignId: id }, 'campaign progress unavailable');
      }
      return { workflow, progress: null };
    }

    async function detail(repository: CampaignRepository, row: Campaign) {
      const [live, states] = await Promise.all([liveProgress(row.id), repository.notificationStates(row.id)]);
      return { ...campaignView(row), ...live, notifications: states };
    }

    app.post(
      '/api/campaigns',
      {
        schema: {
          tags: ['campaigns'],
          summary: 'Schedule a campaign',
          description: `Validates the campaign, then starts campaignWorkflow (id \`campaign-<id>\`): it waits until \`scheduledAt\` (default now), then starts one notification per recipient of the segment (roles and/or userIds; only existing recipients), category ${CAMPAIGN_CATEGORY}: preferences, mute and quiet hours apply. \`templateCode\` must name a ${CAMPAIGN_CATEGORY} template (e.g. marketing_announcement: variables headline, message). \`id\` (a UUID) is an optional idempotency key: the same id again answers 200 with \`started: false\` and starts nothing.`,
          security: SECURITY,
          querystring: noQuery,
          body: campaignSchema,
          response: {
            201: z.object({ id: z.string(), workflowId: z.string(), started: z.boolean() }),
            200: z.object({ id: z.string(), workflowId: z.string(), started: z.boolean() }),
            ...errors(400, 401, 403, 413, 429),
          },
        },
      },
      async (request, reply) => {
        let campaign;
        try {
          campaign = parseCampaign(request.body);
        } catch (err) {
          if (err instanceof InvalidCampaignError) throw new ApiError(400, err.message, err.fields, 'body');
          throw err;
        }
        const category = await new TemplateRepository(request.em).categoryOf(campaign.templateCode);
        if (!category) throw badRequest('templateCode', `no template with code "${campaign.templateCode}"`);
        if (category !== CAMPAIGN_CATEGORY) {
          throw badRequest(
            'templateCode',
            `template "${campaign.templateCode}" is in category ${category}, campaigns send ${CAMPAIGN_CATEGORY} templates`,
          );
        }
        await assertTemplateVariables(request.em, campaign.templateCode, campaign.variables);
        // Stored first, started last: a request that fails never leaves a workflow behind. The workflow's
        // first activity stores the row too (idempotent); storing it here lets GET see it at once.
        const repository = new CampaignRepository(request.em);
        const inserted = await repository.insertIfAbsent(campaign);
        let result;
        try {
          result = await notifications.scheduleCampaign(campaign);
        } catch (err) {
          if (inserted)
            await repository
              .removeUnstarted(campaign.id)
              .catch((cleanup) => request.log.error({ err: cleanup }, 'campaign row left without workflow'));
          if (err instanceof InvalidCampaignError) throw new ApiError(400, err.message, err.fields, 'body');
          throw err;
        }
        return reply
          .code(result.started ? 201 : 200)
          .send({ id: result.campaignId, workflowId: result.workflowId, started: result.started });
      },
    );

    app.get(
      '/api/campaigns',
      {
        schema: {
          tags: ['campaigns'],
          summary: 'List campaigns, newest first',
          description: 'Pass `nextCursor` as `cursor` for the next (older) page.',
          security: SECURITY,
          querystring: z
            .object({
              limit: z.coerce.number().int().min(1).max(100).default(20),
              cursor: campaignIdSchema.optional().describe('nextCursor of the previous page'),
              state: z.enum(CAMPAIGN_STATES).optional(),
            })
            .strict(),
          response: {
            200: z.object({ items: z.array(campaignViewSchema), nextCursor: z.string().nullable() }),
            ...errors(400, 401, 403, 429),
          },
        },
      },
      async (request) => {
        const { limit, cursor, state } = request.query;
        const page = await new CampaignRepository(request.em).list({ limit, after: cursor, state });
        return { items: page.items.map(campaignView), nextCursor: page.next };
      },
    );

    app.get(
      '/api/campaigns/:id',
      {
        schema: {
          tags: ['campaigns'],
          summary: 'One campaign with its live progress',
          security: SECURITY,
          params: campaignParams,
          querystring: noQuery,
          response: { 200: campaignDetailSchema, ...errors(400, 401, 403, 404, 429) },
        },
      },
      async (request) => {
        const repository = new CampaignRepository(request.em);
        const row = await repository.findById(request.params.id);
        if (!row) throw notFound('campaign');
        return detail(repository, row);
      },
    );

    app.post(
      '/api/campaigns/:id/cancel',
      {
        schema: {
          tags: ['campaigns'],
          summary: 'Cancel a campaign (signal `cancel`)',
          description: `A scheduled campaign sends nothing; a running one starts no further notifications (those already started go on). 409 once completed or cancelled. Answers 200 once cancelled, 202 if the workflow has not acted within ${CANCEL_EFFECT_WAIT_MS / 1000} s.`,
          security: SECURITY,
          params: campaignParams,
          querystring: noQuery,
          body: z
            .object({ reason: z.string().min(1).max(500).optional() })
            .strict()
            .nullish(),
          response: {
            200: campaignDetailSchema,
            202: campaignDetailSchema,
            ...errors(400, 401, 403, 404, 409, 429),
          },
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        const repository = new CampaignRepository(request.em);
        const row = await repository.findById(id);
        if (!row) throw notFound('campaign');
        const notCancellable = () =>
          new ApiError(
            409,
            `campaign is ${row.state}: only a scheduled or running campaign can be cancelled`,
          );
        if (row.state === 'completed' || row.state === 'cancelled') throw notCancellable();
        try {
          await notifications.cancelCampaign(id, request.body?.reason);
        } catch (err) {
          if (err instanceof WorkflowNotFoundError)
            throw new ApiError(409, 'the campaign workflow is no longer running');
          throw err;
        }
        const deadline = Date.now() + CANCEL_EFFECT_WAIT_MS;
        let current = row;
        for (;;) {
          current = (await new CampaignRepository(request.em.fork()).findById(id)) ?? current;
          if (current.state === 'cancelled' || current.state === 'completed' || Date.now() >= deadline) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        if (current.state === 'completed')
          throw new ApiError(409, 'campaign completed before the cancel took effect');
        return reply.code(current.state === 'cancelled' ? 200 : 202).send(await detail(repository, current));
      },
    );
  };
}

function campaignView(c: Campaign): z.infer<typeof campaignViewSchema> {
  return {
    id: c.id,
    name: c.name,
    templateCode: c.templateCode,
    segment: c.segment,
    variables: c.variables,
    channels: c.channels,
    priority: c.priority,
    scheduledAt: c.scheduledAt.toISOString(),
    state: c.state,
    targeted: c.targeted,
    started: c.started,
    workflowId: campaignWorkflowId(c.id),
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}

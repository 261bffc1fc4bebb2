import type { EntityManager } from '@mikro-orm/postgresql';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyBaseLogger } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { CampaignDetailView, CampaignProgressView, CampaignView } from '../contract-types';
import type { Campaign } from '../../db/entities';
import { CampaignRepository } from '../../db/repositories/campaign-repository';
import { TemplateRepository } from '../../db/repositories/template-repository';
import type { ScheduleCampaignResult } from '../../client/notification-client';
import {
  CAMPAIGN_CATEGORY,
  CAMPAIGN_STATES,
  campaignDefinition,
  campaignIdSchema,
  campaignSchema,
  type CampaignDefinition,
  type CampaignProgress,
} from '../../domain/campaign';
import { campaignWorkflowId } from '../../domain/workflow-ids';
import type { ApiContext } from '../context';
import { ApiError, badRequest, notFound } from '../errors';
import { describeOrNull } from '../notification-lookup';
import { assertTemplateVariables } from '../template-variables-check';
import { answerSchema, errors, noQuery } from '../schemas';

/** How long cancel waits to see the campaign cancelled before answering 202. */
const CANCEL_EFFECT_WAIT_MS = 3000;
const QUERY_TIMEOUT_MS = 5000;
const SECURITY: Record<string, string[]>[] = [{ apiKey: [] }, { adminBasic: [] }, { bearer: [] }];

const progressSchema = answerSchema<CampaignProgressView>()(
  z.object({
    campaignId: z.string(),
    state: z.enum(CAMPAIGN_STATES),
    scheduledAt: z.string(),
    targeted: z.number().int(),
    started: z.number().int(),
    afterUserId: z.string().nullable().describe('keyset cursor: the last recipient id reached'),
    runs: z.number().int().describe('workflow runs so far (1 + continue-as-new)'),
    cancelReason: z.string().optional(),
  }),
);

const campaignViewSchema = answerSchema<CampaignView>()(
  z.object({
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
  }),
);

const campaignDetailSchema = answerSchema<CampaignDetailView>()(
  campaignViewSchema.extend({
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
  }),
);

const campaignParams = z.object({ id: campaignIdSchema.describe('campaign id (UUID)') });

const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: campaignIdSchema.optional().describe('nextCursor of the previous page'),
    state: z.enum(CAMPAIGN_STATES).optional(),
  })
  .strict();

const cancelBody = z
  .object({ reason: z.string().min(1).max(500).optional() })
  .strict()
  .nullish();

const scheduleAnswer = z.object({ id: z.string(), workflowId: z.string(), started: z.boolean() });

const scheduleSchema = {
  tags: ['campaigns'],
  summary: 'Schedule a campaign',
  description: `Validates the campaign, then starts campaignWorkflow (id \`campaign-<id>\`): it waits until \`scheduledAt\` (default now), then starts one notification per recipient of the segment (roles and/or userIds; only existing recipients), category ${CAMPAIGN_CATEGORY}: preferences, mute and quiet hours apply. \`templateCode\` must name a ${CAMPAIGN_CATEGORY} template (e.g. marketing_announcement: variables headline, message). \`id\` (a UUID) is an optional idempotency key: the same id again answers 200 with \`started: false\` and starts nothing.`,
  security: SECURITY,
  querystring: noQuery,
  body: campaignSchema,
  response: { 201: scheduleAnswer, 200: scheduleAnswer, ...errors(400, 401, 403, 413, 429) },
};

const listSchema = {
  tags: ['campaigns'],
  summary: 'List campaigns, newest first',
  description: 'Pass `nextCursor` as `cursor` for the next (older) page.',
  security: SECURITY,
  querystring: listQuery,
  response: {
    200: z.object({ items: z.array(campaignViewSchema), nextCursor: z.string().nullable() }),
    ...errors(400, 401, 403, 429),
  },
};

const detailSchema = {
  tags: ['campaigns'],
  summary: 'One campaign with its live progress',
  security: SECURITY,
  params: campaignParams,
  querystring: noQuery,
  response: { 200: campaignDetailSchema, ...errors(400, 401, 403, 404, 429) },
};

const cancelSchema = {
  tags: ['campaigns'],
  summary: 'Cancel a campaign (signal `cancel`)',
  description: `A scheduled campaign sends nothing; a running one starts no further notifications (those already started go on). 409 once completed or cancelled. Answers 200 once cancelled, 202 if the workflow has not acted within ${CANCEL_EFFECT_WAIT_MS / 1000} s.`,
  security: SECURITY,
  params: campaignParams,
  querystring: noQuery,
  body: cancelBody,
  response: {
    200: campaignDetailSchema,
    202: campaignDetailSchema,
    ...errors(400, 401, 403, 404, 409, 429),
  },
};

/** Operator-facing: marketing campaigns, one campaignWorkflow each (`campaign-<id>`). */
export function campaignRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.addHook('onRequest', ctx.auth.guard('admin'));
    const details = new CampaignDetails(ctx, app.log);

    app.post('/api/campaigns', { schema: scheduleSchema }, async (request, reply) => {
      const result = await scheduleCampaign(ctx, request.em, request.log, request.body);
      return reply
        .code(result.started ? 201 : 200)
        .send({ id: result.campaignId, workflowId: result.workflowId, started: result.started });
    });

    app.get('/api/campaigns', { schema: listSchema }, async (request) => {
      const { limit, cursor, state } = request.query;
      const page = await new CampaignRepository(request.em).list({ limit, after: cursor, state });
      return { items: page.items.map(campaignView), nextCursor: page.next };
    });

    app.get('/api/campaigns/:id', { schema: detailSchema }, async (request) => {
      const repository = new CampaignRepository(request.em);
      const row = await repository.findById(request.params.id);
      if (!row) throw notFound('campaign');
      return details.of(repository, row);
    });

    app.post('/api/campaigns/:id/cancel', { schema: cancelSchema }, async (request, reply) => {
      const repository = new CampaignRepository(request.em);
      const current = await cancelCampaign(ctx, request.em, request.params.id, request.body?.reason);
      return reply
        .code(current.state === 'cancelled' ? 200 : 202)
        .send(await details.of(repository, current));
    });
  };
}

/** A campaign with what its workflow says live, and its stored notifications per state. */
class CampaignDetails {
  constructor(
    private readonly ctx: ApiContext,
    private readonly log: FastifyBaseLogger,
  ) {}

  async of(repository: CampaignRepository, row: Campaign): Promise<z.infer<typeof campaignDetailSchema>> {
    const [live, states] = await Promise.all([
      this.liveProgress(row.id),
      repository.notificationStates(row.id),
    ]);
    return { ...campaignView(row), ...live, notifications: states };
  }

  /** The workflow's status and live progress; null progress when no worker answers. */
  private async liveProgress(
    id: string,
  ): Promise<{ workflow: { status: string } | null; progress: CampaignProgress | null }> {
    const { temporalClient } = this.ctx.deps;
    const description = await describeOrNull(temporalClient, campaignWorkflowId(id));
    if (!description) return { workflow: null, progress: null };
    const workflow = { status: description.status.name };
    try {
      return { workflow, progress: await this.progressOf(id, description.status.name) };
    } catch (err) {
      this.log.warn({ err, campaignId: id }, 'campaign progress unavailable');
      return { workflow, progress: null };
    }
  }

  /** A running workflow answers its query (within QUERY_TIMEOUT_MS), a completed one its result. */
  private async progressOf(id: string, status: string): Promise<CampaignProgress | null> {
    const { temporalClient, notifications } = this.ctx.deps;
    if (status === 'RUNNING')
      return temporalClient.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () =>
        notifications.campaignProgress(id),
      );
    if (status === 'COMPLETED') return notifications.campaignResult(id);
    return null;
  }
}

/**
 * Checks the campaign's template, stores the row, then starts the workflow. The body schema validated the
 * campaign; only the defaults that need a call (id, scheduledAt) are applied here.
 */
async function scheduleCampaign(
  ctx: ApiContext,
  em: EntityManager,
  log: FastifyBaseLogger,
  body: z.output<typeof campaignSchema>,
): Promise<ScheduleCampaignResult> {
  const campaign = campaignDefinition(body);
  await assertMarketingTemplate(em, campaign);
  // Stored first, started last: a request that fails never leaves a workflow behind. The workflow's
  // first activity stores the row too (idempotent); storing it here lets GET see it at once.
  const repository = new CampaignRepository(em);
  const inserted = await repository.insertIfAbsent(campaign);
  try {
    return await ctx.deps.notifications.startCampaign(campaign);
  } catch (err) {
    if (inserted)
      await repository
        .removeUnstarted(campaign.id)
        .catch((cleanup) => log.error({ err: cleanup }, 'campaign row left without workflow'));
    throw err;
  }
}

/** 400 unless the template exists, is a marketing one, and has the variables it needs. */
async function assertMarketingTemplate(em: EntityManager, campaign: CampaignDefinition): Promise<void> {
  const category = await new TemplateRepository(em).categoryOf(campaign.templateCode);
  if (!category) throw badRequest('templateCode', `no template with code "${campaign.templateCode}"`);
  if (category !== CAMPAIGN_CATEGORY) {
    throw badRequest(
      'templateCode',
      `template "${campaign.templateCode}" is in category ${category}, campaigns send ${CAMPAIGN_CATEGORY} templates`,
    );
  }
  await assertTemplateVariables(em, campaign.templateCode, campaign.variables);
}

/** Signals `cancel` and answers the campaign as it is once cancelled (or after CANCEL_EFFECT_WAIT_MS). */
async function cancelCampaign(
  ctx: ApiContext,
  em: EntityManager,
  id: string,
  reason: string | undefined,
): Promise<Campaign> {
  const row = await new CampaignRepository(em).findById(id);
  if (!row) throw notFound('campaign');
  if (row.state === 'completed' || row.state === 'cancelled')
    throw new ApiError(
      409,
      `campaign is ${row.state}: only a scheduled or running campaign can be cancelled`,
    );
  try {
    await ctx.deps.notifications.cancelCampaign(id, reason);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new ApiError(409, 'the campaign workflow is no longer running');
    throw err;
  }
  const current = await awaitCancelEffect(em, row);
  if (current.state === 'completed')
    throw new ApiError(409, 'campaign completed before the cancel took effect');
  return current;
}

/** Polls the stored row (a fresh fork each time) until the workflow cancelled or completed it, or the wait ends. */
async function awaitCancelEffect(em: EntityManager, row: Campaign): Promise<Campaign> {
  const deadline = Date.now() + CANCEL_EFFECT_WAIT_MS;
  let current = row;
  for (;;) {
    current = (await new CampaignRepository(em.fork()).findById(row.id)) ?? current;
    if (current.state === 'cancelled' || current.state === 'completed' || Date.now() >= deadline)
      return current;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
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

import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CHANNELS } from '../../domain/channels';
import {
  EXPERIMENT_METRICS,
  EXPERIMENT_STATES,
  experimentInputSchema,
  type ExperimentInput,
  type ExperimentState,
} from '../../domain/experiments';
import { AnalyticsRepository } from '../../db/repositories/analytics-repository';
import { CampaignRepository } from '../../db/repositories/campaign-repository';
import {
  ExperimentAlreadyRunning,
  ExperimentRepository,
  type ExperimentRow,
} from '../../db/repositories/experiment-repository';
import type { ExperimentDetailView, ExperimentView } from '../contract-types';
import type { ApiContext } from '../context';
import { ApiError, badRequest, notFound } from '../errors';
import { experimentResults } from '../experiment-results';
import { ADMIN_SECURITY, answerSchema, errors, noBody, noQuery } from '../schemas';

const variantView = z.object({ key: z.string(), templateVersion: z.number().int(), weight: z.number() });

const experimentViewSchema = answerSchema<ExperimentView>()(
  z.object({
    id: z.string(),
    name: z.string(),
    templateCode: z.string(),
    channel: z
      .enum(CHANNELS)
      .nullable()
      .describe('the channel whose template version the variants pin; null: every channel'),
    campaignId: z.string().nullable().describe("only this campaign's notifications take part"),
    variants: z.array(variantView).describe('the first variant is the control'),
    metric: z.enum(EXPERIMENT_METRICS),
    windowStart: z.string().nullable(),
    windowEnd: z.string().nullable(),
    state: z.enum(EXPERIMENT_STATES),
    winner: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  }),
);

const variantResult = z.object({
  key: z.string(),
  templateVersion: z.number().int(),
  control: z.boolean(),
  sent: z.number().int().describe('trials: first `sent` engagements of the variant'),
  conversions: z.number().int().describe('first occurrences of the metric'),
  rate: z.number(),
  difference: z.number().nullable().describe('rate minus the control rate'),
  lift: z.number().nullable().describe('difference relative to the control rate'),
  z: z.number().nullable(),
  pValue: z.number().nullable().describe('two-proportion z-test against the control, two-sided'),
  ci95: z.tuple([z.number(), z.number()]).nullable().describe('95% confidence interval of the difference'),
  sampleSizeNeeded: z
    .number()
    .int()
    .nullable()
    .describe('per variant, to detect the observed difference at alpha 0.05 with 80% power'),
  significant: z.boolean().describe('pValue < 0.05'),
});

const experimentDetailSchema = answerSchema<ExperimentDetailView>()(
  experimentViewSchema.extend({
    results: z.object({
      metric: z.enum(EXPERIMENT_METRICS),
      rolledUpAt: z.string().nullable(),
      variants: z.array(variantResult),
      leader: z.string().nullable(),
    }),
  }),
);

const params = z.object({ id: z.string().uuid().describe('experiment id') });

const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    state: z.enum(EXPERIMENT_STATES).optional(),
    templateCode: z.string().min(1).max(100).optional(),
  })
  .strict();

const promoteBody = z
  .object({ winner: z.string().min(1).max(32).describe('the key of the winning variant') })
  .strict();

const common = { tags: ['experiments'], security: ADMIN_SECURITY };

const createSchema = {
  ...common,
  summary: 'Create an experiment (draft)',
  description:
    'Variants are versions of the template (on `channel`, or on every channel having that version when `channel` is null) with weights; the first is the control. `metric` is what counts as success: delivered, opened, clicked or converted (POST /api/conversions). Starts as draft; `start` assigns recipients from then on, within the window.',
  querystring: noQuery,
  body: experimentInputSchema,
  response: { 201: experimentViewSchema, ...errors(400, 401, 403, 413, 429) },
};
const listSchema = {
  ...common,
  summary: 'List experiments, newest first',
  querystring: listQuery,
  response: { 200: z.object({ items: z.array(experimentViewSchema) }), ...errors(400, 401, 403, 429) },
};
const detailSchema = {
  ...common,
  summary: 'One experiment with its results per variant',
  description:
    'Counts come from the analytics rollups (docs/analytics.md): sample size is the variant sent, conversions the first occurrences of the metric; each variant is compared with the control by a two-proportion z-test.',
  params,
  querystring: noQuery,
  response: { 200: experimentDetailSchema, ...errors(400, 401, 403, 404, 429) },
};
const transitionSchema = (summary: string, description: string) => ({
  ...common,
  summary,
  description,
  params,
  querystring: noQuery,
  body: noBody,
  response: { 200: experimentDetailSchema, ...errors(400, 401, 403, 404, 409, 429) },
});
const promoteSchema = {
  ...common,
  summary: "Promote a variant: its template version becomes the template's current one",
  description:
    "Appends, for each channel and locale having the winner's version, a new newest version with its fields (templates are append-only), and ends the experiment (`promoted`). Running or stopped experiments only (409 otherwise).",
  params,
  querystring: noQuery,
  body: promoteBody,
  response: {
    200: experimentDetailSchema.extend({
      promotedVersions: z.array(
        z.object({ channel: z.string(), locale: z.string(), version: z.number().int() }),
      ),
    }),
    ...errors(400, 401, 403, 404, 409, 429),
  },
};

/** Operator-facing: experiments on templates (docs/experiments.md). */
export function experimentRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.addHook('onRequest', ctx.auth.guard('admin'));

    app.post('/api/admin/experiments', { schema: createSchema }, async (request, reply) => {
      await assertVariantsExist(request.em, request.body);
      const row = await new ExperimentRepository(request.em).create(request.body);
      return reply.code(201).send(experimentView(row));
    });

    app.get('/api/admin/experiments', { schema: listSchema }, async (request) => {
      const rows = await new ExperimentRepository(request.em).list(request.query);
      return { items: rows.map(experimentView) };
    });

    app.get('/api/admin/experiments/:id', { schema: detailSchema }, async (request) =>
      detailOf(request.em, await findExperiment(request.em, request.params.id)),
    );

    app.post(
      '/api/admin/experiments/:id/start',
      {
        schema: transitionSchema(
          'Start an experiment',
          'draft -> running; 409 while another experiment of the template runs.',
        ),
      },
      async (request) =>
        detailOf(request.em, await transition(request.em, request.params.id, ['draft'], 'running')),
    );

    app.post(
      '/api/admin/experiments/:id/stop',
      {
        schema: transitionSchema(
          'Stop an experiment',
          'running -> stopped: no more assignments; results stay.',
        ),
      },
      async (request) =>
        detailOf(request.em, await transition(request.em, request.params.id, ['running'], 'stopped')),
    );

    app.post('/api/admin/experiments/:id/promote', { schema: promoteSchema }, async (request) => {
      const experiment = await findExperiment(request.em, request.params.id);
      const winner = experiment.variants.find((v) => v.key === request.body.winner);
      if (!winner) throw badRequest('winner', `no variant "${request.body.winner}" in this experiment`);
      const promoted = await new ExperimentRepository(request.em).promote(experiment.id, winner);
      if (!promoted)
        throw new ApiError(
          409,
          `experiment is ${experiment.state}: only a running or stopped experiment can be promoted`,
        );
      return { ...(await detailOf(request.em, promoted.experiment)), promotedVersions: promoted.versions };
    });
  };
}

async function findExperiment(em: EntityManager, id: string): Promise<ExperimentRow> {
  const row = await new ExperimentRepository(em).findById(id);
  if (!row) throw notFound('experiment');
  return row;
}

/** One state change; 409 naming the state it is in, or the experiment already running for the template. */
async function transition(
  em: EntityManager,
  id: string,
  from: ExperimentState[],
  to: ExperimentState,
): Promise<ExperimentRow> {
  const current = await findExperiment(em, id);
  try {
    const row = await new ExperimentRepository(em).transition(id, from, to);
    if (row) return row;
  } catch (err) {
    if (err instanceof ExperimentAlreadyRunning)
      throw new ApiError(
        409,
        `another experiment of template ${current.templateCode} is running: stop it first`,
      );
    throw err;
  }
  throw new ApiError(
    409,
    `experiment is ${current.state}: only a ${from.join(' or ')} experiment can move to ${to}`,
  );
}

/** 400 naming the field unless the template, its channel, each variant's version and the campaign exist. */
async function assertVariantsExist(em: EntityManager, input: ExperimentInput): Promise<void> {
  const versions = await new ExperimentRepository(em).versionsOf(input.templateCode);
  if (versions.length === 0)
    throw badRequest('templateCode', `no template with code "${input.templateCode}"`);
  const onChannel = versions.filter((v) => !input.channel || v.channel === input.channel);
  if (onChannel.length === 0)
    throw badRequest('channel', `template "${input.templateCode}" has no ${input.channel} version`);
  input.variants.forEach((variant, i) => {
    if (!onChannel.some((v) => v.version === variant.templateVersion))
      throw badRequest(
        `variants.${i}.templateVersion`,
        `template "${input.templateCode}" has no version ${variant.templateVersion}${input.channel ? ` on ${input.channel}` : ''}`,
      );
  });
  if (input.campaignId && !(await new CampaignRepository(em).findById(input.campaignId)))
    throw badRequest('campaignId', `no campaign ${input.campaignId}`);
}

async function detailOf(em: EntityManager, row: ExperimentRow): Promise<ExperimentDetailView> {
  const analytics = new AnalyticsRepository(em);
  const [totals, rolledUpAt] = await Promise.all([
    analytics.variantTotals(row.id, row.metric, row.channel),
    analytics.rolledUpAt(),
  ]);
  return { ...experimentView(row), results: experimentResults(row, totals, rolledUpAt) };
}

function experimentView(row: ExperimentRow): ExperimentView {
  return {
    id: row.id,
    name: row.name,
    templateCode: row.templateCode,
    channel: row.channel,
    campaignId: row.campaignId,
    variants: row.variants,
    metric: row.metric,
    windowStart: row.windowStart?.toISOString() ?? null,
    windowEnd: row.windowEnd?.toISOString() ?? null,
    state: row.state,
    winner: row.winner,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

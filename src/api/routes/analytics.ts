import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CHANNELS } from '../../domain/channels';
import {
  AnalyticsRepository,
  type AnalyticsRow,
  type Counts,
} from '../../db/repositories/analytics-repository';
import { ROLLUP_KINDS, rollUpEngagement } from '../../operations/analytics-rollup';
import type { AnalyticsGroupView, AnalyticsView, EngagementRates } from '../contract-types';
import type { ApiContext } from '../context';
import { badRequest } from '../errors';
import { ADMIN_SECURITY, answerSchema, errors, noBody, noQuery } from '../schemas';

const DAY_MS = 86_400_000;
/** Longest range per bucket size, so one answer holds at most about 750 points per group. */
const MAX_RANGE_DAYS = { hour: 31, day: 731, totals: 731 };

const countsShape = Object.fromEntries(ROLLUP_KINDS.map((k) => [k, z.number().int()])) as Record<
  (typeof ROLLUP_KINDS)[number],
  z.ZodNumber
>;
const ratesSchema = z
  .object({
    delivered: z.number().nullable().describe('delivered / sent'),
    bounced: z.number().nullable().describe('bounced / sent'),
    opened: z.number().nullable().describe('opened / delivered'),
    clicked: z.number().nullable().describe('clicked / delivered'),
    converted: z.number().nullable().describe('converted / delivered'),
  })
  .describe('null when the denominator is 0');

const analyticsSchema = answerSchema<AnalyticsView>()(
  z.object({
    from: z.string(),
    to: z.string(),
    groupBy: z.enum(['template', 'campaign', 'channel', 'variant']),
    bucket: z.enum(['hour', 'day']).nullable(),
    rolledUpAt: z
      .string()
      .nullable()
      .describe('when the rollup last ran: engagement after it is not counted yet'),
    groups: z.array(
      z.object({
        key: z
          .string()
          .describe('template code, campaign id, channel, or `<experimentId>:<variant>` (groupBy=variant)'),
        totals: z.object(countsShape),
        rates: ratesSchema,
        series: z
          .array(z.object({ bucket: z.string(), ...countsShape }))
          .describe('per bucket (empty without `bucket`)'),
      }),
    ),
  }),
);

const analyticsQuery = z
  .object({
    groupBy: z.enum(['template', 'campaign', 'channel', 'variant']).default('template'),
    from: z.string().datetime({ offset: true }).optional().describe('default: 7 days before `to`'),
    to: z.string().datetime({ offset: true }).optional().describe('default: now'),
    bucket: z.enum(['hour', 'day']).optional().describe('with a bucket, each group carries its series'),
    templateCode: z.string().min(1).max(100).optional(),
    campaignId: z.string().uuid().optional(),
    channel: z.enum(CHANNELS).optional(),
    experimentId: z.string().uuid().optional(),
  })
  .strict();

const readSchema = {
  tags: ['analytics'],
  summary: 'Engagement counts and rates per template, campaign, channel or experiment variant',
  description: `First occurrences (one per notification, channel and kind) from the hourly rollups (docs/analytics.md); reads never scan notifications. Buckets are UTC hours or days; ranges of at most ${MAX_RANGE_DAYS.hour} days with hour buckets, ${MAX_RANGE_DAYS.day} otherwise.`,
  security: ADMIN_SECURITY,
  querystring: analyticsQuery,
  response: { 200: analyticsSchema, ...errors(400, 401, 403, 429) },
};

const rollupSchema = {
  tags: ['analytics'],
  summary: 'Roll engagement up now (the worker does every ANALYTICS_ROLLUP_MS)',
  security: ADMIN_SECURITY,
  querystring: noQuery,
  body: noBody,
  response: {
    200: z.object({ rows: z.number().int().describe('engagement rows added'), watermark: z.number().int() }),
    ...errors(401, 403, 429),
  },
};

/** Operator-facing: analytics over the rollups (docs/analytics.md). */
export function analyticsRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.addHook('onRequest', ctx.auth.guard('admin'));

    app.get('/api/admin/analytics', { schema: readSchema }, async (request): Promise<AnalyticsView> => {
      const { groupBy, bucket, from: fromText, to: toText, ...filters } = request.query;
      const to = toText ? new Date(toText) : ctx.now();
      const from = fromText ? new Date(fromText) : new Date(to.getTime() - 7 * DAY_MS);
      if (from >= to) throw badRequest('from', 'must be before to', 'querystring');
      const maxDays = MAX_RANGE_DAYS[bucket ?? 'totals'];
      if (to.getTime() - from.getTime() > maxDays * DAY_MS)
        throw badRequest(
          bucket ? 'bucket' : 'from',
          `a range of at most ${maxDays} days${bucket ? ` with ${bucket} buckets` : ''}`,
          'querystring',
        );
      const repository = new AnalyticsRepository(request.em);
      const [rows, rolledUpAt] = await Promise.all([
        repository.grouped(groupBy, bucket ?? null, { from, to, ...filters }),
        repository.rolledUpAt(),
      ]);
      return {
        from: from.toISOString(),
        to: to.toISOString(),
        groupBy,
        bucket: bucket ?? null,
        rolledUpAt: rolledUpAt?.toISOString() ?? null,
        groups: groupsOf(rows, bucket !== undefined),
      };
    });

    app.post('/api/admin/analytics/rollup', { schema: rollupSchema }, async () =>
      rollUpEngagement(ctx.deps.orm),
    );
  };
}

function countsOf(row: Counts): Counts {
  return Object.fromEntries(ROLLUP_KINDS.map((k) => [k, Number(row[k])])) as Counts;
}

/** Rows (ordered by key, then bucket) as one group per key with totals, rates and its series. */
function groupsOf(rows: AnalyticsRow[], withSeries: boolean): AnalyticsGroupView[] {
  const groups = new Map<string, AnalyticsGroupView>();
  for (const row of rows) {
    const counts = countsOf(row);
    let group = groups.get(row.key);
    if (!group) {
      group = {
        key: row.key,
        totals: zero(),
        rates: ratesOf(zero()),
        series: [],
      };
      groups.set(row.key, group);
    }
    for (const k of ROLLUP_KINDS) group.totals[k] += counts[k];
    if (withSeries && row.bucket)
      group.series.push({ bucket: new Date(row.bucket).toISOString(), ...counts });
  }
  for (const group of groups.values()) group.rates = ratesOf(group.totals);
  return [...groups.values()];
}

function zero(): Counts {
  return Object.fromEntries(ROLLUP_KINDS.map((k) => [k, 0])) as Counts;
}

function ratesOf(c: Counts): EngagementRates {
  const per = (n: number, d: number) => (d > 0 ? n / d : null);
  return {
    delivered: per(c.delivered, c.sent),
    bounced: per(c.bounced, c.sent),
    opened: per(c.opened, c.delivered),
    clicked: per(c.clicked, c.delivered),
    converted: per(c.converted, c.delivered),
  };
}

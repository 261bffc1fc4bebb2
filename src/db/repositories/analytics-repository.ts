import type { EntityManager } from '@mikro-orm/postgresql';
import type { Channel } from '../../domain/channels';
import type { ExperimentMetric } from '../../domain/experiments';
import { ROLLUP_KINDS } from '../../operations/analytics-rollup';

export type AnalyticsGroupBy = 'template' | 'campaign' | 'channel' | 'variant';
export type AnalyticsBucket = 'hour' | 'day';
export type Counts = Record<(typeof ROLLUP_KINDS)[number], number>;

export interface AnalyticsFilter {
  from: Date;
  to: Date;
  templateCode?: string;
  campaignId?: string;
  channel?: Channel;
  experimentId?: string;
}

/** One group's counts in one bucket (`bucket` null when the query asked for totals only). */
export type AnalyticsRow = { key: string; bucket: string | null } & Counts;

const KEY_COLUMNS: Record<AnalyticsGroupBy, string> = {
  template: 'template_code',
  campaign: 'campaign_id',
  channel: 'channel',
  variant: `experiment_id || ':' || variant`,
};
const SUMS = ROLLUP_KINDS.map((k) => `sum(${k})::int as ${k}`).join(', ');

/** Reads of analytics_hourly (written only by src/operations/analytics-rollup.ts). */
export class AnalyticsRepository {
  constructor(private readonly em: EntityManager) {}

  /** Counts per group and, with a bucket, per hour or UTC day; ordered by key and bucket. */
  grouped(
    groupBy: AnalyticsGroupBy,
    bucket: AnalyticsBucket | null,
    filter: AnalyticsFilter,
  ): Promise<AnalyticsRow[]> {
    const key = KEY_COLUMNS[groupBy];
    const at = bucket
      ? `date_trunc('${bucket}', bucket at time zone 'UTC') at time zone 'UTC'`
      : 'null::timestamptz';
    // Variants exist only within an experiment; other groupings skip rows whose key is "none" too.
    const keyed =
      groupBy === 'variant' ? `experiment_id <> ''` : groupBy === 'campaign' ? `campaign_id <> ''` : 'true';
    return this.em.getConnection().execute<AnalyticsRow[]>(
      `select ${key} as key, ${at} as bucket, ${SUMS} from analytics_hourly
        where bucket >= ? and bucket < ? and ${keyed}
          and (?::text is null or template_code = ?) and (?::text is null or campaign_id = ?)
          and (?::text is null or channel = ?) and (?::text is null or experiment_id = ?)
        group by 1, 2 order by 1, 2`,
      [
        filter.from,
        filter.to,
        ...[filter.templateCode, filter.campaignId, filter.channel, filter.experimentId].flatMap((v) => [
          v ?? null,
          v ?? null,
        ]),
      ],
    );
  }

  /** Per variant of an experiment: notifications sent and first occurrences of the metric (on its channel, or all). */
  async variantTotals(
    experimentId: string,
    metric: ExperimentMetric,
    channel: Channel | null,
  ): Promise<Map<string, { sent: number; conversions: number }>> {
    const rows = await this.em
      .getConnection()
      .execute<{ variant: string; sent: number; conversions: number }[]>(
        `select variant, sum(sent)::int as sent, sum(${metric})::int as conversions from analytics_hourly
        where experiment_id = ? and (?::text is null or channel = ?) group by variant`,
        [experimentId, channel, channel],
      );
    return new Map(rows.map((r) => [r.variant, { sent: r.sent, conversions: r.conversions }]));
  }

  /** When the rollup last moved (or checked) its watermark. */
  async rolledUpAt(): Promise<Date | null> {
    const [row] = await this.em
      .getConnection()
      .execute<{ updated_at: string }[]>(
        `select updated_at from analytics_watermark where name = 'engagement'`,
      );
    return row ? new Date(row.updated_at) : null;
  }
}

import type { PropertyValues } from 'lit';
import uPlot from 'uplot';
import type { AnalyticsGroup, EngagementCounts } from '../admin-api';
import { TimeSeriesChart } from './time-series-chart';

/** The funnel's kinds as lines; colours keep 3:1 against white (WCAG 1.4.11). */
export const FUNNEL = [
  { key: 'sent', label: 'Sent', stroke: '#1d4ed8' },
  { key: 'delivered', label: 'Delivered', stroke: '#047857' },
  { key: 'opened', label: 'Opened', stroke: '#7c3aed' },
  { key: 'clicked', label: 'Clicked', stroke: '#b45309' },
  { key: 'converted', label: 'Converted', stroke: '#be123c' },
] as const satisfies readonly { key: keyof EngagementCounts; label: string; stroke: string }[];

/**
 * One group's series (sent, delivered, opened, clicked, converted per bucket) as a uPlot line chart.
 * The canvas is an image to assistive technology: its label carries the totals; the page's table the rest.
 */
export class EngagementChart extends TimeSeriesChart {
  static override properties = { group: { attribute: false } };
  /** The group with a point per bucket of the range (fillBuckets), so a lone count is not a lone dot. */
  declare group: AnalyticsGroup | null;
  protected override readonly yLabel = 'per bucket';

  constructor() {
    super();
    this.group = null;
  }

  override render() {
    const g = this.group;
    const totals = g
      ? FUNNEL.map((s) => `${g.totals[s.key]} ${s.label.toLowerCase()}`).join(', ')
      : 'no data';
    return this.figure(`Engagement over time for ${g?.key ?? 'nothing'}: ${totals}`, FUNNEL);
  }

  protected override dataChanged(changed: PropertyValues<this>): boolean {
    return changed.has('group');
  }

  protected override lines(): uPlot.Series[] {
    return FUNNEL.map((s) => ({ label: s.label, stroke: s.stroke, width: 2 }));
  }

  protected override data(): uPlot.AlignedData {
    const series = this.group?.series ?? [];
    return [
      series.map((p) => Date.parse(p.bucket) / 1000),
      ...FUNNEL.map((s) => series.map((p) => p[s.key])),
    ];
  }
}

/** The group's series with every bucket of [from, to) present (UTC hours or days), 0 where nothing was counted. */
export function fillBuckets(
  group: AnalyticsGroup,
  from: string,
  to: string,
  bucket: 'hour' | 'day',
): AnalyticsGroup {
  const step = bucket === 'hour' ? 3_600_000 : 86_400_000;
  const counted = new Map(group.series.map((p) => [Date.parse(p.bucket), p]));
  const zero = Object.fromEntries(
    Object.keys(group.totals).map((k) => [k, 0]),
  ) as unknown as EngagementCounts;
  const series: AnalyticsGroup['series'] = [];
  for (let t = Math.floor(Date.parse(from) / step) * step; t < Date.parse(to); t += step)
    series.push(counted.get(t) ?? { ...zero, bucket: new Date(t).toISOString() });
  return { ...group, series };
}
customElements.define('engagement-chart', EngagementChart);

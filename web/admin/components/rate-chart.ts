import type { PropertyValues } from 'lit';
import uPlot from 'uplot';
import type { OverviewMinute } from '../admin-api';
import { TimeSeriesChart } from './time-series-chart';

/** Series of the per-minute chart; colours keep 3:1 against white (lines are graphics, WCAG 1.4.11). */
const SERIES = [
  { key: 'events', label: 'Events', stroke: '#1d4ed8' },
  { key: 'delivered', label: 'Delivered', stroke: '#047857' },
  { key: 'failed', label: 'Failed', stroke: '#b91c1c' },
] as const;

/**
 * Events, deliveries and failures per minute as a uPlot line chart that follows its container's width.
 * The canvas is an image to assistive technology: its label and the legend below carry the totals.
 */
export class RateChart extends TimeSeriesChart {
  static override properties = { minutes: { attribute: false } };
  declare minutes: OverviewMinute[];
  protected override readonly yLabel = 'per minute';

  constructor() {
    super();
    this.minutes = [];
  }

  override render() {
    const totals = SERIES.map(
      (s) => `${this.minutes.reduce((sum, m) => sum + (m[s.key] ?? 0), 0)} ${s.label.toLowerCase()}`,
    );
    return this.figure(
      `Per-minute chart over the last ${this.minutes.length} minutes: ${totals.join(', ')}`,
      SERIES.map((s) => ({ label: `${s.label} per minute`, stroke: s.stroke })),
    );
  }

  protected override dataChanged(changed: PropertyValues<this>): boolean {
    return changed.has('minutes');
  }

  protected override lines(): uPlot.Series[] {
    return SERIES.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, points: { show: false } }));
  }

  protected override data(): uPlot.AlignedData {
    return [
      this.minutes.map((m) => Date.parse(m.at) / 1000),
      ...SERIES.map((s) => this.minutes.map((m) => m[s.key] ?? 0)),
    ];
  }
}
customElements.define('rate-chart', RateChart);

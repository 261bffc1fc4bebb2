import { html, type PropertyValues } from 'lit';
import uPlot from 'uplot';
import type { AnalyticsGroup, EngagementCounts } from '../admin-api';
import { LightElement } from './light-element';

/** The funnel's kinds as lines; colours keep 3:1 against white (WCAG 1.4.11). */
export const FUNNEL = [
  { key: 'sent', label: 'Sent', stroke: '#1d4ed8' },
  { key: 'delivered', label: 'Delivered', stroke: '#047857' },
  { key: 'opened', label: 'Opened', stroke: '#7c3aed' },
  { key: 'clicked', label: 'Clicked', stroke: '#b45309' },
  { key: 'converted', label: 'Converted', stroke: '#be123c' },
] as const satisfies readonly { key: keyof EngagementCounts; label: string; stroke: string }[];

const HEIGHT = 240;

/**
 * One group's series (sent, delivered, opened, clicked, converted per bucket) as a uPlot line chart.
 * The canvas is an image to assistive technology: its label carries the totals; the page's table the rest.
 */
export class EngagementChart extends LightElement {
  static override properties = { group: { attribute: false } };
  /** The group with a point per bucket of the range (fillBuckets), so a lone count is not a lone dot. */
  declare group: AnalyticsGroup | null;
  private plot: uPlot | null = null;
  private resizer: ResizeObserver | null = null;

  constructor() {
    super();
    this.group = null;
  }

  override render() {
    const g = this.group;
    const totals = g
      ? FUNNEL.map((s) => `${g.totals[s.key]} ${s.label.toLowerCase()}`).join(', ')
      : 'no data';
    return html`
      <figure class="chart">
        <div
          class="chart-canvas"
          role="img"
          aria-label=${`Engagement over time for ${g?.key ?? 'nothing'}: ${totals}`}
        ></div>
        <figcaption>
          <ul class="legend">
            ${FUNNEL.map((s) => html`<li><span class="swatch" style=${`background:${s.stroke}`}></span>${s.label}</li>`)}
          </ul>
        </figcaption>
      </figure>
    `;
  }

  protected override updated(changed: PropertyValues<this>): void {
    if (!changed.has('group')) return;
    const data = this.data();
    if (this.plot) {
      this.plot.setData(data);
      return;
    }
    const target = this.querySelector<HTMLElement>('.chart-canvas')!;
    this.plot = new uPlot(
      {
        width: Math.max(target.clientWidth, 280),
        height: HEIGHT,
        legend: { show: false },
        cursor: { show: true, points: { show: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [{ stroke: '#1f2328' }, { stroke: '#1f2328', label: 'per bucket' }],
        series: [{}, ...FUNNEL.map((s) => ({ label: s.label, stroke: s.stroke, width: 2 }))],
      },
      data,
      target,
    );
    this.resizer = new ResizeObserver(() =>
      this.plot?.setSize({ width: Math.max(target.clientWidth, 280), height: HEIGHT }),
    );
    this.resizer.observe(target);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.resizer?.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }

  private data(): uPlot.AlignedData {
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

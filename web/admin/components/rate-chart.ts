import { html, type PropertyValues } from 'lit';
import uPlot from 'uplot';
import type { OverviewMinute } from '../admin-api';
import { LightElement } from './light-element';

/** Series of the per-minute chart; colours keep 3:1 against white (lines are graphics, WCAG 1.4.11). */
const SERIES = [
  { key: 'events', label: 'Events', stroke: '#1d4ed8' },
  { key: 'delivered', label: 'Delivered', stroke: '#047857' },
  { key: 'failed', label: 'Failed', stroke: '#b91c1c' },
] as const;

const HEIGHT = 240;

/**
 * Events, deliveries and failures per minute as a uPlot line chart that follows its container's width.
 * The canvas is an image to assistive technology: its label and the legend below carry the totals.
 */
export class RateChart extends LightElement {
  static override properties = { minutes: { attribute: false } };
  declare minutes: OverviewMinute[];
  private plot: uPlot | null = null;
  private resizer: ResizeObserver | null = null;

  constructor() {
    super();
    this.minutes = [];
  }

  override render() {
    const totals = SERIES.map(
      (s) => `${this.minutes.reduce((sum, m) => sum + (m[s.key] ?? 0), 0)} ${s.label.toLowerCase()}`,
    );
    return html`
      <figure class="chart">
        <div
          class="chart-canvas"
          role="img"
          aria-label=${`Per-minute chart over the last ${this.minutes.length} minutes: ${totals.join(', ')}`}
        ></div>
        <figcaption>
          <ul class="legend">
            ${SERIES.map((s) => html`<li><span class="swatch" style=${`background:${s.stroke}`}></span>${s.label} per minute</li>`)}
          </ul>
        </figcaption>
      </figure>
    `;
  }

  protected override updated(changed: PropertyValues<this>): void {
    if (!changed.has('minutes')) return;
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
        axes: [{ stroke: '#1f2328' }, { stroke: '#1f2328', label: 'per minute' }],
        series: [
          {},
          ...SERIES.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, points: { show: false } })),
        ],
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
    return [
      this.minutes.map((m) => Date.parse(m.at) / 1000),
      ...SERIES.map((s) => this.minutes.map((m) => m[s.key] ?? 0)),
    ];
  }
}
customElements.define('rate-chart', RateChart);

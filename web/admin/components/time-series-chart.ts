import { html, type PropertyValues, type TemplateResult } from 'lit';
import uPlot from 'uplot';
import { LightElement } from './light-element';

const HEIGHT = 240;
const MIN_WIDTH = 280;

export interface LegendEntry {
  label: string;
  stroke: string;
}

/**
 * The dashboard's line charts (per-minute rates, engagement per bucket): a uPlot chart drawn once, fed new
 * data on change, following its container's width. The canvas is an image to assistive technology: the
 * subclass's label and the legend carry what it shows.
 */
export abstract class TimeSeriesChart extends LightElement {
  private plot: uPlot | null = null;
  private resizer: ResizeObserver | null = null;

  /** The y axis' label. */
  protected abstract readonly yLabel: string;
  /** uPlot's series after the x series, in the order of data()'s columns. */
  protected abstract lines(): uPlot.Series[];
  protected abstract data(): uPlot.AlignedData;
  /** Whether this update changed what data() answers. */
  protected abstract dataChanged(changed: PropertyValues<this>): boolean;

  protected figure(label: string, legend: readonly LegendEntry[]): TemplateResult {
    return html`
      <figure class="chart">
        <div class="chart-canvas" role="img" aria-label=${label}></div>
        <figcaption>
          <ul class="legend">
            ${legend.map((s) => html`<li><span class="swatch" style=${`background:${s.stroke}`}></span>${s.label}</li>`)}
          </ul>
        </figcaption>
      </figure>
    `;
  }

  protected override updated(changed: PropertyValues<this>): void {
    if (!this.dataChanged(changed)) return;
    const data = this.data();
    if (this.plot) {
      this.plot.setData(data);
      return;
    }
    const target = this.querySelector<HTMLElement>('.chart-canvas')!;
    this.plot = new uPlot(
      {
        width: Math.max(target.clientWidth, MIN_WIDTH),
        height: HEIGHT,
        legend: { show: false },
        cursor: { show: true, points: { show: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [{ stroke: '#1f2328' }, { stroke: '#1f2328', label: this.yLabel }],
        series: [{}, ...this.lines()],
      },
      data,
      target,
    );
    this.resizer = new ResizeObserver(() =>
      this.plot?.setSize({ width: Math.max(target.clientWidth, MIN_WIDTH), height: HEIGHT }),
    );
    this.resizer.observe(target);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.resizer?.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }
}

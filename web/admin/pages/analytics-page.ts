import { html, nothing } from 'lit';
import {
  api,
  formatTime,
  query,
  rollUpEngagementNow,
  type Analytics,
  type AnalyticsGroup,
  type EngagementCounts,
} from '../admin-api';
import { dataTable } from '../components/data-table';
import { fillBuckets, FUNNEL } from '../components/engagement-chart';
import '../components/engagement-chart';
import { LightElement } from '../components/light-element';
import { alertRegion, errorText, statusRegion } from '../components/live-regions';
import { Poller } from '../components/poller';

const REFRESH_MS = 15_000;
const GROUPINGS = [
  { value: 'template', label: 'Template' },
  { value: 'campaign', label: 'Campaign' },
  { value: 'channel', label: 'Channel' },
  { value: 'variant', label: 'Experiment variant' },
] as const;
/** Ranges and the bucket each is drawn in. */
const RANGES = [
  { value: '24h', label: 'Last 24 hours', hours: 24, bucket: 'hour' },
  { value: '7d', label: 'Last 7 days', hours: 24 * 7, bucket: 'hour' },
  { value: '30d', label: 'Last 30 days', hours: 24 * 30, bucket: 'day' },
] as const;

export function percent(rate: number | null): string {
  return rate === null ? '—' : `${(rate * 100).toFixed(1)}%`;
}

/** Sums of every group: the funnel of the whole selection. */
function overall(groups: AnalyticsGroup[]): EngagementCounts {
  const sum = Object.fromEntries(FUNNEL.map((s) => [s.key, 0])) as unknown as EngagementCounts;
  for (const g of groups) for (const s of FUNNEL) sum[s.key] += g.totals[s.key];
  return sum;
}

/** The funnel (sent -> converted), a time series per group and the counts with rates (GET /api/admin/analytics). */
export class AnalyticsPage extends LightElement {
  static override properties = {
    groupBy: { state: true },
    range: { state: true },
    selected: { state: true },
    answer: { state: true },
    loadError: { state: true },
    actionError: { state: true },
    status: { state: true },
  };
  declare groupBy: (typeof GROUPINGS)[number]['value'];
  declare range: (typeof RANGES)[number]['value'];
  /** The group whose series the chart draws. */
  declare selected: string;
  declare answer: Analytics | null;
  /** The last refresh's failure; the next good refresh clears it. */
  declare loadError: string;
  /** The last action's failure: kept until the next action, not cleared by a refresh. */
  declare actionError: string;
  declare status: string;
  private readonly poller: Poller;

  constructor() {
    super();
    this.groupBy = 'template';
    this.range = '7d';
    this.selected = '';
    this.answer = null;
    this.loadError = '';
    this.actionError = '';
    this.status = '';
    this.poller = new Poller(this, REFRESH_MS, () => this.load());
  }

  private async load(): Promise<void> {
    const range = RANGES.find((r) => r.value === this.range)!;
    const to = new Date();
    const from = new Date(to.getTime() - range.hours * 3_600_000);
    try {
      this.answer = await api.get<Analytics>(
        `/api/admin/analytics${query({ groupBy: this.groupBy, bucket: range.bucket, from: from.toISOString(), to: to.toISOString() })}`,
      );
      if (!this.answer.groups.some((g) => g.key === this.selected))
        this.selected = this.answer.groups[0]?.key ?? '';
      this.loadError = '';
    } catch (err) {
      this.loadError = errorText(err);
    }
  }

  private async rollUpNow(): Promise<void> {
    this.status = 'Counting new engagement…';
    try {
      this.status = await rollUpEngagementNow();
      this.actionError = '';
    } catch (err) {
      this.status = '';
      this.actionError = errorText(err);
    }
    this.poller.refresh();
  }

  private choose(change: () => void): void {
    change();
    this.poller.refresh();
  }

  override render() {
    const a = this.answer;
    const group = a?.groups.find((g) => g.key === this.selected) ?? null;
    return html`
      <h1 tabindex="-1">Analytics</h1>
      ${alertRegion(this.actionError || this.loadError)}
      <form class="row" @submit=${(e: Event) => e.preventDefault()} aria-label="What to show">
        <div class="field">
          <label for="analytics-groupBy">Group by</label>
          <select
            id="analytics-groupBy"
            @change=${(e: Event) => this.choose(() => (this.groupBy = (e.target as HTMLSelectElement).value as typeof this.groupBy))}
          >
            ${GROUPINGS.map((g) => html`<option value=${g.value} ?selected=${g.value === this.groupBy}>${g.label}</option>`)}
          </select>
        </div>
        <div class="field">
          <label for="analytics-range">Range</label>
          <select
            id="analytics-range"
            @change=${(e: Event) => this.choose(() => (this.range = (e.target as HTMLSelectElement).value as typeof this.range))}
          >
            ${RANGES.map((r) => html`<option value=${r.value} ?selected=${r.value === this.range}>${r.label}</option>`)}
          </select>
        </div>
        <div class="actions">
          <button type="button" class="secondary" @click=${this.rollUpNow}>Count new engagement now</button>
          ${statusRegion(this.status)}
        </div>
      </form>
      <p class="muted">
        Counted up to ${formatTime(a?.rolledUpAt)}; first occurrences only (an email opened twice is one
        open).
      </p>
      ${a ? this.funnel(overall(a.groups)) : nothing}
      <section aria-labelledby="analytics-series">
        <h2 id="analytics-series">Over time</h2>
        ${
          a && a.groups.length
            ? html`<div class="field">
                  <label for="analytics-selected">Series of</label>
                  <select
                    id="analytics-selected"
                    @change=${(e: Event) => (this.selected = (e.target as HTMLSelectElement).value)}
                  >
                    ${a.groups.map((g) => html`<option value=${g.key} ?selected=${g.key === this.selected}>${g.key}</option>`)}
                  </select>
                </div>
                <engagement-chart
                  .group=${group && a.bucket ? fillBuckets(group, a.from, a.to, a.bucket) : group}
                ></engagement-chart>`
            : html`<p>Nothing counted in this range yet.</p>`
        }
      </section>
      ${a && a.groups.length ? this.table(a.groups) : nothing}
    `;
  }

  /** Horizontal bars, each kind's share of sent; the numbers are text, the bars decoration. */
  private funnel(total: EngagementCounts) {
    return html`<section aria-labelledby="analytics-funnel">
      <h2 id="analytics-funnel">Funnel</h2>
      <ol class="funnel">
        ${FUNNEL.map((s) => {
          const share = total.sent > 0 ? total[s.key] / total.sent : 0;
          return html`<li>
            <span class="funnel-label">${s.label}</span>
            <span class="funnel-bar" aria-hidden="true"
              ><span style=${`width:${Math.min(100, share * 100)}%;background:${s.stroke}`}></span
            ></span>
            <span class="funnel-value"
              >${total[s.key]}
              <span class="muted">(${percent(total.sent > 0 ? share : null)} of sent)</span></span
            >
          </li>`;
        })}
      </ol>
    </section>`;
  }

  private table(groups: AnalyticsGroup[]) {
    return html`<section aria-labelledby="analytics-groups">
      <h2 id="analytics-groups">
        Per ${GROUPINGS.find((g) => g.value === this.groupBy)!.label.toLowerCase()}
      </h2>
      ${dataTable(
        { labelledBy: 'analytics-groups' },
        [
          { label: 'Key' },
          ...FUNNEL.map((s) => ({ label: s.label, num: true })),
          { label: 'Bounced', num: true },
          { label: 'Open rate', num: true },
          { label: 'Click rate', num: true },
          { label: 'Conversion rate', num: true },
        ],
        groups.map(
          (g) =>
            html`<tr>
              <th scope="row">${g.key}</th>
              ${FUNNEL.map((s) => html`<td class="num">${g.totals[s.key]}</td>`)}
              <td class="num">${g.totals.bounced}</td>
              <td class="num">${percent(g.rates.opened)}</td>
              <td class="num">${percent(g.rates.clicked)}</td>
              <td class="num">${percent(g.rates.converted)}</td>
            </tr>`,
        ),
      )}
    </section>`;
  }
}
customElements.define('analytics-page', AnalyticsPage);

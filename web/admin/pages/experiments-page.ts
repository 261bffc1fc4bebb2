import { html, nothing } from 'lit';
import {
  api,
  formatTime,
  rollUpEngagementNow,
  type Experiment,
  type ExperimentDetail,
  type VariantResult,
} from '../admin-api';
import { dataTable } from '../components/data-table';
import '../components/experiment-form';
import { LightElement } from '../components/light-element';
import { alertRegion, errorText, statusRegion } from '../components/live-regions';
import { Poller } from '../components/poller';
import { routeHref } from '../router';
import { percent } from './analytics-page';

const REFRESH_MS = 3000;

/** What the significance test says about a variant, in words, for the promote button's side. */
export function significanceText(v: VariantResult): string {
  if (v.control) return 'control';
  if (v.pValue === null) return 'no data to compare yet';
  const p = v.pValue < 0.0001 ? 'p < 0.0001' : `p = ${v.pValue.toFixed(4)}`;
  if (v.significant) return `significant at 95% (${p})`;
  const needed = v.sampleSizeNeeded === null ? '' : `; about ${v.sampleSizeNeeded} sent per variant needed`;
  return `not significant yet (${p}${needed})`;
}

function signed(n: number | null): string {
  return n === null ? '—' : `${n > 0 ? '+' : ''}${(n * 100).toFixed(1)}%`;
}

/** Experiments: the list, one experiment's live results with start, stop and promote, and the creation form. */
export class ExperimentsPage extends LightElement {
  static override properties = {
    params: { attribute: false },
    experiments: { state: true },
    detail: { state: true },
    loadError: { state: true },
    actionError: { state: true },
    status: { state: true },
  };
  declare params: URLSearchParams;
  declare experiments: Experiment[];
  declare detail: ExperimentDetail | null;
  /** The last refresh's failure; the next good refresh clears it. */
  declare loadError: string;
  /** The last start/stop/promote/count failure: kept until the next action, not cleared by a refresh. */
  declare actionError: string;
  declare status: string;
  private readonly poller: Poller;

  constructor() {
    super();
    this.params = new URLSearchParams();
    this.experiments = [];
    this.detail = null;
    this.loadError = '';
    this.actionError = '';
    this.status = '';
    this.poller = new Poller(this, REFRESH_MS, () => this.load());
  }

  protected override willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('params') && changed.get('params') !== undefined) this.poller.refresh();
  }

  private async load(): Promise<void> {
    try {
      const id = this.params.get('id');
      const [{ items }, detail] = await Promise.all([
        api.get<{ items: Experiment[] }>('/api/admin/experiments?limit=50'),
        id ? api.get<ExperimentDetail>(`/api/admin/experiments/${encodeURIComponent(id)}`) : null,
      ]);
      this.experiments = items;
      this.detail = detail;
      this.loadError = '';
    } catch (err) {
      this.loadError = errorText(err);
    }
  }

  private async act(action: 'start' | 'stop' | 'promote', winner?: string): Promise<void> {
    const d = this.detail;
    if (!d) return;
    this.status = `${action === 'promote' ? `Promoting ${winner}` : action === 'start' ? 'Starting' : 'Stopping'}…`;
    try {
      const answer = await api.post<ExperimentDetail>(
        `/api/admin/experiments/${d.id}/${action}`,
        action === 'promote' ? { winner } : {},
      );
      this.status =
        action === 'promote'
          ? `Variant ${winner} promoted: its version is now the template's current one.`
          : `${d.name} is ${answer.state}.`;
      this.actionError = '';
    } catch (err) {
      this.status = '';
      this.actionError = errorText(err);
    }
    this.poller.refresh();
  }

  /** Rolls engagement up now, so the results need not wait for the workers' next round. */
  private async countNow(): Promise<void> {
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

  override render() {
    return html`
      <h1 tabindex="-1">Experiments</h1>
      ${statusRegion(this.status)} ${alertRegion(this.actionError || this.loadError)}
      ${this.detail ? this.results(this.detail) : nothing}
      <section aria-labelledby="experiment-list">
        <h2 id="experiment-list">All experiments</h2>
        ${
          this.experiments.length === 0
            ? html`<p>No experiments yet.</p>`
            : dataTable(
                { labelledBy: 'experiment-list' },
                [
                  { label: 'Name' },
                  { label: 'Template' },
                  { label: 'Channel' },
                  { label: 'Metric' },
                  { label: 'State' },
                  { label: 'Created' },
                ],
                this.experiments.map(
                  (x) =>
                    html`<tr>
                      <th scope="row"><a href=${routeHref('experiments', { id: x.id })}>${x.name}</a></th>
                      <td>${x.templateCode}</td>
                      <td>${x.channel ?? 'every channel'}</td>
                      <td>${x.metric}</td>
                      <td><span class=${`state state-${x.state}`}>${x.state}</span></td>
                      <td>${formatTime(x.createdAt)}</td>
                    </tr>`,
                ),
              )
        }
      </section>
      <experiment-form @experiment-created=${this.created}></experiment-form>
    `;
  }

  private created(event: CustomEvent<Experiment>): void {
    location.hash = routeHref('experiments', { id: event.detail.id });
  }

  private results(d: ExperimentDetail) {
    const promotable = d.state === 'running' || d.state === 'stopped';
    return html`<section aria-labelledby="experiment-results">
      <h2 id="experiment-results">Results: ${d.name}</h2>
      <p>
        <span class=${`state state-${d.state}`}>${d.state}</span> · ${d.templateCode} on
        ${d.channel ?? 'every channel'} · metric <strong>${d.metric}</strong> · counted up to
        ${formatTime(d.results.rolledUpAt)}
        ${d.winner ? html` · winner <strong>${d.winner}</strong>` : nothing}
      </p>
      <div class="actions">
        ${d.state === 'draft' ? html`<button type="button" @click=${() => this.act('start')}>Start</button>` : nothing}
        ${d.state === 'running' ? html`<button type="button" class="secondary" @click=${() => this.act('stop')}>Stop</button>` : nothing}
        <button type="button" class="secondary" @click=${this.countNow}>Count new engagement now</button>
      </div>
      ${dataTable(
        { labelledBy: 'experiment-results' },
        [
          { label: 'Variant' },
          { label: 'Version', num: true },
          { label: 'Sent', num: true },
          { label: d.metric[0].toUpperCase() + d.metric.slice(1), num: true },
          { label: 'Rate', num: true },
          { label: 'Lift', num: true },
          { label: '95% CI of the difference', num: true },
          { label: 'Significance' },
          { label: 'Promote' },
        ],
        d.results.variants.map(
          (v) =>
            html`<tr>
              <th scope="row">
                ${v.key}${v.key === d.results.leader ? html` <span class="muted">(leading)</span>` : nothing}
              </th>
              <td class="num">${v.templateVersion}</td>
              <td class="num">${v.sent}</td>
              <td class="num">${v.conversions}</td>
              <td class="num">${percent(v.sent > 0 ? v.rate : null)}</td>
              <td class="num">${signed(v.lift)}</td>
              <td class="num">${v.ci95 ? `${signed(v.ci95[0])} to ${signed(v.ci95[1])}` : '—'}</td>
              <td class=${v.significant ? 'significant' : nothing} id=${`significance-${v.key}`}>
                ${significanceText(v)}
              </td>
              <td>
                ${
                  promotable
                    ? html`<button
                        type="button"
                        aria-describedby=${`significance-${v.key}`}
                        @click=${() => this.act('promote', v.key)}
                      >
                        Promote ${v.key}
                      </button>`
                    : nothing
                }
              </td>
            </tr>`,
        ),
      )}
    </section>`;
  }
}
customElements.define('experiments-page', ExperimentsPage);

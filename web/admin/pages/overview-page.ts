import { html } from 'lit';
import { api, bullBoardUrl, formatTime, type Overview, type QueueCounts } from '../admin-api';
import { dataTable } from '../components/data-table';
import { LightElement } from '../components/light-element';
import { alertRegion, errorText, statusRegion } from '../components/live-regions';
import { Poller } from '../components/poller';
import '../components/rate-chart';
import { routeHref } from '../router';

const MINUTES = 60;
const REFRESH_MS = 5000;
const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const satisfies readonly (keyof QueueCounts)[];

/** Traffic of the last hour, queue depths per channel and recent failures; refreshed every 5 s while shown. */
export class OverviewPage extends LightElement {
  static override properties = {
    overview: { state: true },
    error: { state: true },
    updatedAt: { state: true },
  };
  declare overview: Overview | null;
  declare error: string;
  declare updatedAt: Date | null;

  constructor() {
    super();
    this.overview = null;
    this.error = '';
    this.updatedAt = null;
    new Poller(this, REFRESH_MS, () => this.load());
  }

  private async load(): Promise<void> {
    try {
      this.overview = await api.get<Overview>(`/api/admin/overview?minutes=${MINUTES}`);
      this.updatedAt = new Date();
      this.error = '';
    } catch (err) {
      this.error = errorText(err);
    }
  }

  override render() {
    const o = this.overview;
    return html`
      <h1 tabindex="-1">Overview</h1>
      ${alertRegion(this.error)}
      ${o
        ? html`
            <section aria-labelledby="traffic">
              <h2 id="traffic">Last ${MINUTES} minutes</h2>
              <dl class="totals">
                <div><dt>Events</dt><dd>${o.totals.events}</dd></div>
                <div><dt>Delivered</dt><dd>${o.totals.delivered}</dd></div>
                <div><dt>Failed</dt><dd>${o.totals.failed}</dd></div>
              </dl>
              <rate-chart .minutes=${o.perMinute}></rate-chart>
            </section>
            ${this.queues(o)} ${this.failures(o)}
          `
        : ''}
      ${statusRegion(this.updatedAt ? `Updated ${this.updatedAt.toLocaleTimeString()}` : 'Loading…')}
    `;
  }

  private queues(o: Overview) {
    return html`
      <section aria-labelledby="queues">
        <h2 id="queues">Delivery queues</h2>
        ${dataTable(
          { labelledBy: 'queues' },
          [{ label: 'Queue' }, ...QUEUE_STATES.map((s) => ({ label: s[0].toUpperCase() + s.slice(1), num: true }))],
          o.queues.map(
            (q) => html`<tr>
              <th scope="row"><a href=${bullBoardUrl(q.channel)}>${q.queue}</a></th>
              ${QUEUE_STATES.map((s) => html`<td class="num">${q[s]}</td>`)}
            </tr>`,
          ),
        )}
      </section>
    `;
  }

  private failures(o: Overview) {
    return html`
      <section aria-labelledby="failures">
        <h2 id="failures">Recent failures</h2>
        ${o.recentFailures.length === 0
          ? html`<p>No failures.</p>`
          : html`<ul class="plain-list">
              ${o.recentFailures.map(
                (f) => html`<li>
                  <a href=${routeHref('trace', { q: f.notificationId, id: f.notificationId })}>${f.notificationId}</a>
                  <span class="tag">${f.channel}</span> <span class="muted">${formatTime(f.at)} · ${f.recipientId}</span>
                  ${f.error ? html`<div class="error-text">${f.error}</div>` : ''}
                </li>`,
              )}
            </ul>`}
      </section>
    `;
  }
}
customElements.define('overview-page', OverviewPage);

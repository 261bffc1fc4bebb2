import { html } from 'lit';
import {
  api,
  bullBoardUrl,
  formatTime,
  type Overview,
  type QueueCounts,
  type StuckKind,
  type StuckSample,
  type StuckWork,
} from '../admin-api';
import { dataTable } from '../components/data-table';
import { LightElement } from '../components/light-element';
import { alertRegion, errorText, statusRegion } from '../components/live-regions';
import { Poller } from '../components/poller';
import '../components/rate-chart';
import { routeHref } from '../router';

const MINUTES = 60;
const REFRESH_MS = 5000;
const QUEUE_STATES = [
  'waiting',
  'active',
  'delayed',
  'failed',
] as const satisfies readonly (keyof QueueCounts)[];

/** The stuck-work counts, in the words of docs/operations.md. */
const STUCK_COUNTS = [
  { key: 'pastDeadline', label: 'Past deadline' },
  { key: 'queuedWithoutJob', label: 'Queued without job' },
  { key: 'workflowsWithoutTimer', label: 'Workflows without timer' },
  { key: 'expired', label: 'Expired' },
] as const satisfies readonly { key: keyof StuckWork; label: string }[];

const STUCK_KIND_LABELS: Record<StuckKind, string> = {
  past_deadline: 'past deadline',
  queued_without_job: 'queued without job',
  workflow_without_timer: 'without timer',
};

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
      ${
        o
          ? html`
              <section aria-labelledby="traffic">
                <h2 id="traffic">Last ${MINUTES} minutes</h2>
                <dl class="totals">
                  <div>
                    <dt>Events</dt>
                    <dd>${o.totals.events}</dd>
                  </div>
                  <div>
                    <dt>Delivered</dt>
                    <dd>${o.totals.delivered}</dd>
                  </div>
                  <div>
                    <dt>Failed</dt>
                    <dd>${o.totals.failed}</dd>
                  </div>
                </dl>
                <rate-chart .minutes=${o.perMinute}></rate-chart>
              </section>
              ${this.stuck(o.stuck)} ${this.queues(o)} ${this.failures(o)}
            `
          : ''
      }
      ${statusRegion(this.updatedAt ? `Updated ${this.updatedAt.toLocaleTimeString()}` : 'Loading…')}
    `;
  }

  /** Counts of the latest stuck-work scan; each sample links to its notification's trace (a workflow: the search by its id). */
  private stuck(s: StuckWork | null) {
    return html`
      <section aria-labelledby="stuck">
        <h2 id="stuck">Stuck work</h2>
        ${
          s
            ? html`
                <dl class="totals">
                  ${STUCK_COUNTS.map(
                    ({ key, label }) =>
                      html`<div class=${s[key] ? 'attention' : ''}>
                        <dt>${label}</dt>
                        <dd>${s[key] ?? '?'}</dd>
                      </div>`,
                  )}
                </dl>
                <p class="muted">${scannedNote(s)}</p>
                ${s.errors.map((e) => html`<p class="error-text">Not read (${e.part}): ${e.message}</p>`)}
                ${
                  s.samples.length === 0
                    ? html`<p>Nothing stuck.</p>`
                    : html`<ul class="plain-list">
                        ${s.samples.map((sample) => this.stuckSample(sample))}
                      </ul>`
                }
              `
            : html`<p class="muted">No scan available (Postgres, Redis or Temporal did not answer).</p>`
        }
      </section>
    `;
  }

  private stuckSample(sample: StuckSample) {
    const id = sample.notificationId;
    const href = id ? routeHref('trace', { q: id, id }) : routeHref('trace', { q: sample.workflowId });
    return html`<li>
      <a href=${href}>${id ?? sample.workflowId}</a>
      <span class="tag">${STUCK_KIND_LABELS[sample.kind]}</span
      >${sample.channel ? html` <span class="tag">${sample.channel}</span>` : ''}
      <span class="muted">${formatTime(sample.at)}${sample.eventId ? ` · ${sample.eventId}` : ''}</span>
    </li>`;
  }

  private queues(o: Overview) {
    return html`
      <section aria-labelledby="queues">
        <h2 id="queues">Delivery queues</h2>
        ${dataTable(
          { labelledBy: 'queues' },
          [
            { label: 'Queue' },
            ...QUEUE_STATES.map((s) => ({ label: s[0].toUpperCase() + s.slice(1), num: true })),
          ],
          o.queues.map(
            (q) =>
              html`<tr>
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
        ${
          o.recentFailures.length === 0
            ? html`<p>No failures.</p>`
            : html`<ul class="plain-list">
                ${o.recentFailures.map(
                  (f) =>
                    html`<li>
                      <a href=${routeHref('trace', { q: f.notificationId, id: f.notificationId })}
                        >${f.notificationId}</a
                      >
                      <span class="tag">${f.channel}</span>
                      <span class="muted">${formatTime(f.at)} · ${f.recipientId}</span>
                      ${f.error ? html`<div class="error-text">${f.error}</div>` : ''}
                    </li>`,
                )}
              </ul>`
        }
      </section>
    `;
  }
}
customElements.define('overview-page', OverviewPage);

/** When the scan ran, and whether it examined only part of the work (its counts are then lower bounds). */
function scannedNote(s: StuckWork): string {
  const partial = s.truncated.rows || s.truncated.workflows;
  return `Scanned ${formatTime(s.scannedAt)}${partial ? ' · only part was examined: counts are at least these' : ''}`;
}

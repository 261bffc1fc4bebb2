import { html, nothing } from 'lit';
import { bullBoardUrl, formatTime, type Trace } from '../admin-api';
import { dataTable } from './data-table';
import { LightElement } from './light-element';

/** One notification's trace: its workflows (Temporal Web UI links), channels (bull-board links) and timeline. */
export class TraceView extends LightElement {
  static override properties = { trace: { attribute: false } };
  declare trace: Trace;

  override render() {
    const t = this.trace;
    const n = t.notification ?? {};
    return html`
      <h2 id="trace-title">Notification ${t.notificationId ?? t.workflowId}</h2>
      <dl class="facts">
        <div>
          <dt>State</dt>
          <dd>${t.status?.state ?? String(n.state ?? '—')}</dd>
        </div>
        <div>
          <dt>Recipient</dt>
          <dd>${String(n.recipientId ?? '—')}</dd>
        </div>
        <div>
          <dt>Event</dt>
          <dd>
            ${n.eventType ? html`${String(n.eventType)} <span class="muted">${String(n.eventId)}</span>` : String(n.eventId ?? '—')}
          </dd>
        </div>
        <div>
          <dt>Template</dt>
          <dd>${String(n.templateCode ?? '—')}</dd>
        </div>
      </dl>
      ${this.workflows()} ${this.channels()} ${this.timeline()}
    `;
  }

  private workflows() {
    return html`
      <section aria-labelledby="trace-workflows">
        <h3 id="trace-workflows">Workflows</h3>
        <ul class="plain-list">
          ${this.trace.workflows.map(
            (w) =>
              html`<li>
                <strong>${w.role}</strong> ${w.type} · ${w.status}
                <a href=${w.webUiUrl} target="_blank" rel="noopener noreferrer"
                  >${w.workflowId} in Temporal Web UI<span class="visually-hidden">
                    (opens in a new tab)</span
                  ></a
                >
              </li>`,
          )}
        </ul>
      </section>
    `;
  }

  private channels() {
    const channels = Object.entries(this.trace.channels);
    if (channels.length === 0) return nothing;
    return html`
      <section aria-labelledby="trace-channels">
        <h3 id="trace-channels">Channels</h3>
        ${dataTable(
          { labelledBy: 'trace-channels' },
          [{ label: 'Channel' }, { label: 'State' }, { label: 'Queue job' }, { label: 'Provider answers' }],
          channels.map(
            ([channel, c]) =>
              html`<tr>
                <th scope="row">${channel}</th>
                <td>
                  ${c.status?.state ?? '—'}${c.status?.error ? html`<div class="error-text">${c.status.error}</div>` : nothing}
                </td>
                <td>
                  ${
                    c.job
                      ? html`<a href=${bullBoardUrl(channel, c.job.id)}
                          >${c.job.state}, ${c.job.attemptsMade}
                          attempt${c.job.attemptsMade === 1 ? '' : 's'}<span class="visually-hidden">
                            (job ${c.job.id} in bull-board)</span
                          ></a
                        >`
                      : html`<a href=${bullBoardUrl(channel)}>send-${channel} queue</a>`
                  }
                </td>
                <td>
                  ${
                    c.attempts.length
                      ? html`<ol class="compact">
                          ${c.attempts.map((a) => html`<li>#${String(a.attempt)} ${String(a.provider)}: ${String(a.status)}${a.error ? ` (${String(a.error)})` : ''}</li>`)}
                        </ol>`
                      : '—'
                  }
                </td>
              </tr>`,
          ),
        )}
      </section>
    `;
  }

  private timeline() {
    const entries = [...this.trace.timeline].sort((a, b) => a.at.localeCompare(b.at));
    return html`
      <section aria-labelledby="trace-timeline">
        <h3 id="trace-timeline">Timeline</h3>
        <ol class="timeline">
          ${entries.map(
            (e) =>
              html`<li class=${`source-${e.source}`}>
                <time datetime=${e.at}>${formatTime(e.at)}</time>
                <span class="tag">${e.source}</span>
                <code>${e.kind}</code>${e.channel ? html` <span class="tag">${e.channel}</span>` : nothing}
                <div>${e.summary}</div>
              </li>`,
          )}
        </ol>
      </section>
    `;
  }
}
customElements.define('trace-view', TraceView);

import { html, nothing, type PropertyValues } from 'lit';
import { api, formatTime, type SearchHit, type Trace } from '../admin-api';
import { dataTable } from '../components/data-table';
import { LightElement } from '../components/light-element';
import { alertRegion, errorText, statusRegion } from '../components/live-regions';
import { SearchController } from '../components/search-controller';
import '../components/trace-view';
import { routeHref } from '../router';

/** Finds notifications by event, notification, workflow or user id (`?q=`) and shows one's trace (`&id=`). */
export class TracePage extends LightElement {
  static override properties = {
    params: { attribute: false },
    trace: { state: true },
    status: { state: true },
    error: { state: true },
  };
  declare params: URLSearchParams;
  declare trace: Trace | null;
  declare status: string;
  declare error: string;
  private readonly finder = new SearchController<SearchHit>(
    this,
    'trace',
    (q) => `/api/admin/search?q=${encodeURIComponent(q)}`,
    ['notification', 'notifications'],
  );

  constructor() {
    super();
    this.params = new URLSearchParams();
    this.trace = null;
    this.status = '';
    this.error = '';
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (!changed.has('params')) return;
    this.finder.search(this.params.get('q') ?? '');
    const id = this.params.get('id') ?? '';
    if (id && id !== changed.get('params')?.get('id')) void this.loadTrace(id);
    if (!id) this.trace = null;
  }

  private async loadTrace(id: string): Promise<void> {
    this.status = 'Loading the trace…';
    this.error = '';
    try {
      this.trace = await api.get<Trace>(`/api/notifications/${encodeURIComponent(id)}/trace`);
      this.status = `Trace loaded: ${this.trace.timeline.length} timeline entries.`;
    } catch (err) {
      this.trace = null;
      this.status = '';
      this.error = errorText(err);
    }
  }

  override render() {
    const q = this.params.get('q') ?? '';
    const id = this.params.get('id') ?? '';
    const hits = this.finder.hits;
    return html`
      <h1 tabindex="-1">Trace</h1>
      ${this.finder.form('trace-q', 'Event, notification, workflow or user id', q)}
      ${
        hits
          ? html`<section aria-labelledby="hits-title">
              <h2 id="hits-title">Results</h2>
              ${
                hits.length === 0
                  ? html`<p>Nothing matches “${q}”.</p>`
                  : dataTable(
                      { labelledBy: 'hits-title' },
                      [
                        { label: 'Notification' },
                        { label: 'Event' },
                        { label: 'Recipient' },
                        { label: 'Channels' },
                        { label: 'State' },
                        { label: 'Created' },
                      ],
                      hits.map(
                        (h) =>
                          html`<tr>
                            <th scope="row">
                              <a
                                href=${routeHref('trace', { q, id: h.id })}
                                aria-current=${h.id === id ? 'true' : 'false'}
                                >${h.id}</a
                              >
                            </th>
                            <td>${h.eventType ?? h.templateCode} <span class="muted">${h.eventId}</span></td>
                            <td>${h.recipientId}</td>
                            <td>${h.channels.join(', ') || '—'}</td>
                            <td>${h.state}</td>
                            <td>${formatTime(h.createdAt)}</td>
                          </tr>`,
                      ),
                    )
              }
            </section>`
          : nothing
      }
      ${statusRegion(this.status)} ${alertRegion(this.error)}
      ${this.trace ? html`<trace-view .trace=${this.trace}></trace-view>` : nothing}
    `;
  }
}
customElements.define('trace-page', TracePage);

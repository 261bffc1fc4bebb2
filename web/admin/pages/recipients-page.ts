import { html, nothing, type PropertyValues } from 'lit';
import type { RecipientSummary } from '../admin-api';
import { dataTable } from '../components/data-table';
import { LightElement } from '../components/light-element';
import '../components/preferences-matrix';
import { SearchController } from '../components/search-controller';
import { routeHref } from '../router';

/** Finds recipients (`?q=`) and edits one's preferences (`&id=`). */
export class RecipientsPage extends LightElement {
  static override properties = { params: { attribute: false } };
  declare params: URLSearchParams;
  private readonly finder = new SearchController<RecipientSummary>(
    this,
    'recipients',
    (q) => `/api/admin/recipients?q=${encodeURIComponent(q)}`,
    ['recipient', 'recipients'],
  );

  constructor() {
    super();
    this.params = new URLSearchParams();
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('params')) this.finder.search(this.params.get('q') ?? '');
  }

  override render() {
    const q = this.params.get('q') ?? '';
    const id = this.params.get('id') ?? '';
    const hits = this.finder.hits;
    return html`
      <h1 tabindex="-1">Recipients</h1>
      ${this.finder.form('recipient-q', 'User id, name or email', q)}
      ${
        hits && hits.length
          ? dataTable(
              { label: 'Recipients found' },
              [
                { label: 'User id' },
                { label: 'Name' },
                { label: 'Email' },
                { label: 'Phone' },
                { label: 'Locale' },
                { label: 'Muted' },
              ],
              hits.map(
                (r) =>
                  html`<tr>
                    <th scope="row">
                      <a
                        href=${routeHref('recipients', { q, id: r.id })}
                        aria-current=${r.id === id ? 'true' : 'false'}
                        >${r.id}</a
                      >
                    </th>
                    <td>${r.name ?? '—'}</td>
                    <td>${r.email ?? '—'}</td>
                    <td>${r.phone ?? '—'}</td>
                    <td>${r.locale} <span class="muted">${r.timezone}</span></td>
                    <td>${r.muted ? 'yes' : 'no'}</td>
                  </tr>`,
              ),
            )
          : hits
            ? html`<p>Nothing matches “${q}”.</p>`
            : nothing
      }
      ${id ? html`<preferences-matrix .recipientId=${id}></preferences-matrix>` : nothing}
    `;
  }
}
customElements.define('recipients-page', RecipientsPage);

import { html, type ReactiveController, type ReactiveControllerHost, type TemplateResult } from 'lit';
import { api } from '../admin-api';
import { navigate, type PageName } from '../router';
import { alertRegion, errorText, statusRegion } from './live-regions';

/**
 * The search of a page whose query lives in the URL (`?q=`): runs `GET <url(q)>` (answer `{items}`)
 * when the query changes, and renders the search form with its status and error regions.
 */
export class SearchController<T> implements ReactiveController {
  hits: T[] | null = null;
  status = '';
  error = '';
  private searched = '';

  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly page: PageName,
    private readonly url: (q: string) => string,
    /** e.g. ['notification', 'notifications'] */
    private readonly noun: [string, string],
  ) {
    host.addController(this);
  }

  hostConnected(): void {}

  /** Searches for q unless that was the last search (force: again anyway); empty q clears the hits. */
  search(q: string, force = false): void {
    if (!q) {
      this.hits = null;
      this.searched = '';
      return;
    }
    if (q === this.searched && !force) return;
    this.searched = q;
    void this.run(q);
  }

  private async run(q: string): Promise<void> {
    this.status = 'Searching…';
    this.error = '';
    this.host.requestUpdate();
    try {
      const { items } = await api.get<{ items: T[] }>(this.url(q));
      if (q !== this.searched) return;
      this.hits = items;
      this.status = `${items.length} ${items.length === 1 ? this.noun[0] : this.noun[1]} found.`;
    } catch (err) {
      this.hits = [];
      this.status = '';
      this.error = errorText(err);
    }
    this.host.requestUpdate();
  }

  /** The search form; submitting puts the query in the URL (the same query again searches again). */
  form(inputId: string, label: string, q: string): TemplateResult {
    const submit = (event: SubmitEvent) => {
      event.preventDefault();
      const next = new FormData(event.target as HTMLFormElement).get('q')?.toString().trim() ?? '';
      if (next === q) this.search(next, true);
      navigate(this.page, { q: next });
    };
    return html`
      <form class="toolbar" role="search" @submit=${submit}>
        <label for=${inputId}>${label}</label>
        <input id=${inputId} name="q" type="search" .value=${q} required />
        <button type="submit">Search</button>
      </form>
      ${statusRegion(this.status)} ${alertRegion(this.error)}
    `;
  }
}

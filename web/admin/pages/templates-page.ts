import { html, nothing, type PropertyValues } from 'lit';
import { api, formatTime, type Template } from '../admin-api';
import { dataTable } from '../components/data-table';
import { LightElement } from '../components/light-element';
import { alertRegion, errorText, statusRegion } from '../components/live-regions';
import '../components/template-editor';
import { routeHref } from '../router';

/** The newest version of every template; `?code=&channel=&locale=` opens one in the editor. */
export class TemplatesPage extends LightElement {
  static override properties = {
    params: { attribute: false },
    templates: { state: true },
    filter: { state: true },
    error: { state: true },
    loading: { state: true },
  };
  declare params: URLSearchParams;
  declare templates: Template[];
  declare filter: string;
  declare error: string;
  declare loading: boolean;

  constructor() {
    super();
    this.params = new URLSearchParams();
    this.templates = [];
    this.filter = '';
    this.error = '';
    this.loading = false;
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('params') && !this.params.get('code') && !this.loading) void this.load();
  }

  private async load(): Promise<void> {
    this.loading = true;
    try {
      const { items } = await api.get<{ items: Template[] }>('/api/templates');
      this.templates = [...items].sort((a, b) => a.code.localeCompare(b.code) || a.channel.localeCompare(b.channel) || a.locale.localeCompare(b.locale));
      this.error = '';
    } catch (err) {
      this.error = errorText(err);
    } finally {
      this.loading = false;
    }
  }

  override render() {
    const code = this.params.get('code');
    if (code) {
      return html`
        <h1 tabindex="-1">Template ${code}</h1>
        <p><a href=${routeHref('templates')}>← All templates</a></p>
        <template-editor code=${code} channel=${this.params.get('channel') ?? 'in_app'} locale=${this.params.get('locale') ?? 'en'}></template-editor>
      `;
    }
    const needle = this.filter.trim().toLowerCase();
    const shown = needle ? this.templates.filter((t) => `${t.code} ${t.channel} ${t.locale} ${t.category}`.toLowerCase().includes(needle)) : this.templates;
    return html`
      <h1 tabindex="-1">Templates</h1>
      ${alertRegion(this.error)}
      <div class="toolbar">
        <label for="template-filter">Filter templates</label>
        <input id="template-filter" type="search" .value=${this.filter} @input=${(e: InputEvent) => (this.filter = (e.target as HTMLInputElement).value)} />
      </div>
      ${statusRegion(this.loading ? 'Loading templates…' : `${shown.length} of ${this.templates.length} templates`)}
      ${dataTable(
        { label: 'Templates' },
        [{ label: 'Code' }, { label: 'Channel' }, { label: 'Locale' }, { label: 'Latest version', num: true }, { label: 'Category' }, { label: 'Updated' }],
        shown.map(
          (t) => html`<tr>
            <th scope="row">
              <a href=${routeHref('templates', { code: t.code, channel: t.channel, locale: t.locale })}>${t.code}<span class="visually-hidden"> (${t.channel}, ${t.locale})</span></a>
            </th>
            <td>${t.channel}</td>
            <td>${t.locale}</td>
            <td class="num">${t.version}</td>
            <td>${t.category}</td>
            <td>${formatTime(t.createdAt)}</td>
          </tr>`,
        ),
      )}
      ${!this.loading && shown.length === 0 ? html`<p>No templates match.</p>` : nothing}
    `;
  }
}
customElements.define('templates-page', TemplatesPage);

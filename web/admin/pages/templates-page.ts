import { html, nothing, type PropertyValues } from 'lit';
import { keyed } from 'lit/directives/keyed.js';
import { api, formatTime, type Template } from '../admin-api';
import { dataTable } from '../components/data-table';
import { LightElement } from '../components/light-element';
import { alertRegion, errorText, statusRegion } from '../components/live-regions';
import type { EditorMode } from '../components/template-editor';
import '../components/template-editor';
import { navigate, routeHref } from '../router';

/**
 * The newest version of every template; `?code=&channel=&locale=` opens one in the editor,
 * `?new=template` drafts a new code and `?new=variant&code=&channel=&locale=` another channel or
 * locale of that code, starting from that template.
 */
export class TemplatesPage extends LightElement {
  static override properties = {
    params: { attribute: false },
    templates: { state: true },
    filter: { state: true },
    error: { state: true },
    loading: { state: true },
    notice: { state: true },
    locales: { state: true },
  };
  declare params: URLSearchParams;
  declare templates: Template[];
  declare filter: string;
  declare error: string;
  declare loading: boolean;
  /** Announced on the page a save led to ("Created …"). */
  declare notice: string;
  /** The editor's (code, channel): the locales it exists in, for the locale picker. */
  declare locales: string[];
  private nextNotice = '';

  constructor() {
    super();
    this.params = new URLSearchParams();
    this.templates = [];
    this.filter = '';
    this.error = '';
    this.loading = false;
    this.notice = '';
    this.locales = [];
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (!changed.has('params')) return;
    this.notice = this.nextNotice;
    this.nextNotice = '';
    const mode = this.editorMode();
    if (!mode && !this.loading) void this.load();
    if (mode === 'edit') void this.loadLocales();
  }

  /** The locales of the edited (code, channel), newest version each. */
  private async loadLocales(): Promise<void> {
    const query = new URLSearchParams({
      code: this.params.get('code') ?? '',
      channel: this.params.get('channel') ?? 'in_app',
    });
    try {
      const { items } = await api.get<{ items: Template[] }>(`/api/templates?${query}`);
      this.locales = [...new Set(items.map((t) => t.locale))].sort();
    } catch {
      // The editor shows the API's error for this template; the picker just stays empty.
      this.locales = [];
    }
  }

  private localePicker(code: string, channel: string, current: string) {
    if (this.locales.length === 0) return nothing;
    return html`<nav aria-label="Locales of this template" class="actions">
      Locales:
      ${this.locales.map(
        (locale) =>
          html`<a
            href=${routeHref('templates', { code, channel, locale })}
            aria-current=${locale === current ? 'page' : nothing}
            >${locale}</a
          >`,
      )}
    </nav>`;
  }

  protected override updated(changed: PropertyValues<this>): void {
    // Moving between the list, an editor and a draft keeps the page: its heading takes focus as a new page's would.
    if (changed.has('params') && changed.get('params') !== undefined)
      this.querySelector<HTMLElement>('h1')?.focus();
  }

  private editorMode(): EditorMode | null {
    const creating = this.params.get('new');
    if (creating === 'template') return 'new';
    if (!this.params.get('code')) return null;
    return creating === 'variant' ? 'variant' : 'edit';
  }

  private onCreated(event: CustomEvent<Template>): void {
    const { code, channel, locale, version } = event.detail;
    this.nextNotice = `Created ${code} (${channel}, ${locale}), version ${version}.`;
    navigate('templates', { code, channel, locale });
  }

  private async load(): Promise<void> {
    this.loading = true;
    try {
      const { items } = await api.get<{ items: Template[] }>('/api/templates');
      this.templates = [...items].sort(
        (a, b) =>
          a.code.localeCompare(b.code) ||
          a.channel.localeCompare(b.channel) ||
          a.locale.localeCompare(b.locale),
      );
      this.error = '';
    } catch (err) {
      this.error = errorText(err);
    } finally {
      this.loading = false;
    }
  }

  override render() {
    const mode = this.editorMode();
    if (mode) {
      const code = this.params.get('code') ?? '';
      const channel = this.params.get('channel') ?? 'in_app';
      const locale = this.params.get('locale') ?? 'en';
      const heading =
        mode === 'new' ? 'New template' : mode === 'variant' ? `New variant of ${code}` : `Template ${code}`;
      return html`
        <h1 tabindex="-1">${heading}</h1>
        ${statusRegion(this.notice)}
        <p class="actions">
          <a href=${routeHref('templates')}>← All templates</a>
          ${mode === 'edit' ? html`<a href=${routeHref('templates', { new: 'variant', code, channel, locale })}>Add a channel or locale</a>` : nothing}
        </p>
        ${mode === 'edit' ? this.localePicker(code, channel, locale) : nothing}
        ${keyed(
          // A fresh editor per template or draft: nothing of the previous one (preview, errors) carries over.
          `${mode} ${code} ${channel} ${locale}`,
          html`<template-editor
            mode=${mode}
            code=${code}
            channel=${channel}
            locale=${locale}
            @template-created=${this.onCreated}
          ></template-editor>`,
        )}
      `;
    }
    const needle = this.filter.trim().toLowerCase();
    const shown = needle
      ? this.templates.filter((t) =>
          `${t.code} ${t.channel} ${t.locale} ${t.category}`.toLowerCase().includes(needle),
        )
      : this.templates;
    return html`
      <h1 tabindex="-1">Templates</h1>
      ${alertRegion(this.error)}
      <div class="toolbar">
        <label for="template-filter">Filter templates</label>
        <input
          id="template-filter"
          type="search"
          .value=${this.filter}
          @input=${(e: InputEvent) => (this.filter = (e.target as HTMLInputElement).value)}
        />
        <a href=${routeHref('templates', { new: 'template' })}>New template</a>
      </div>
      ${statusRegion(this.loading ? 'Loading templates…' : `${shown.length} of ${this.templates.length} templates`)}
      ${dataTable(
        { label: 'Templates' },
        [
          { label: 'Code' },
          { label: 'Channel' },
          { label: 'Locale' },
          { label: 'Latest version', num: true },
          { label: 'Category' },
          { label: 'Updated' },
        ],
        shown.map(
          (t) =>
            html`<tr>
              <th scope="row">
                <a href=${routeHref('templates', { code: t.code, channel: t.channel, locale: t.locale })}
                  >${t.code}<span class="visually-hidden"> (${t.channel}, ${t.locale})</span></a
                >
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

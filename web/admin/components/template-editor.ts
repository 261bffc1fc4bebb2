import { html, nothing, type PropertyValues } from 'lit';
import { HttpError } from '../../shared/api-client';
import { api, formatTime, query, type Template, type TemplatePreview } from '../admin-api';
import { dataTable } from './data-table';
import { LightElement } from './light-element';
import { alertRegion, errorText, statusRegion } from './live-regions';
import { sampleVariables } from './sample-variables';

const PREVIEW_DELAY_MS = 300;
/** Fields in reading order (stored JSON comes back sorted by name); others follow alphabetically. */
const FIELD_ORDER = ['subject', 'title', 'body', 'text', 'html', 'actionText', 'actionUrl'];
const fieldRank = (field: string) => (FIELD_ORDER.includes(field) ? FIELD_ORDER.indexOf(field) : FIELD_ORDER.length);

function orderedFields(fields: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).sort(([a], [b]) => fieldRank(a) - fieldRank(b) || a.localeCompare(b)));
}
const VARIABLES = 'variables';

/** The API names the offending input as `fields.<name>` or `variables.<name>`; errors keyed by textarea. */
function errorsByInput(err: unknown): Map<string, string> {
  const byInput = new Map<string, string>();
  if (!(err instanceof HttpError)) return byInput;
  for (const name of err.fields) {
    const [head, field] = name.split('.', 2);
    if (head === 'fields' && field) byInput.set(field, err.message);
    else if (head === 'variables') byInput.set(VARIABLES, err.message);
  }
  return byInput;
}

/**
 * One template (code, channel, locale): a textarea per field, a live preview rendered by the API with
 * sample variables (debounced while typing), the version history and "Save as new version".
 * Validation errors show next to the field the API names.
 */
export class TemplateEditor extends LightElement {
  static override properties = {
    code: {},
    channel: {},
    locale: {},
    versions: { state: true },
    draft: { state: true },
    variablesText: { state: true },
    preview: { state: true },
    inputErrors: { state: true },
    formError: { state: true },
    status: { state: true },
    previewStatus: { state: true },
    saving: { state: true },
  };
  declare code: string;
  declare channel: string;
  declare locale: string;
  declare versions: Template[];
  declare draft: Record<string, string>;
  declare variablesText: string;
  declare preview: TemplatePreview | null;
  /** Textarea name (a field, or "variables") -> error message. */
  declare inputErrors: Map<string, string>;
  declare formError: string;
  declare status: string;
  declare previewStatus: string;
  declare saving: boolean;
  private previewTimer: ReturnType<typeof setTimeout> | undefined;
  /** Only the answer to the newest preview request is shown. */
  private previewSeq = 0;

  constructor() {
    super();
    this.code = '';
    this.channel = '';
    this.locale = '';
    this.versions = [];
    this.draft = {};
    this.variablesText = '{}';
    this.preview = null;
    this.inputErrors = new Map();
    this.formError = '';
    this.status = '';
    this.previewStatus = '';
    this.saving = false;
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('code') || changed.has('channel') || changed.has('locale')) void this.load();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearTimeout(this.previewTimer);
  }

  private async load(): Promise<void> {
    this.status = 'Loading…';
    try {
      const { items } = await api.get<{ items: Template[] }>(`/api/templates${query({ versions: 'all', code: this.code, channel: this.channel, locale: this.locale })}`);
      this.versions = [...items].sort((a, b) => b.version - a.version);
      const latest = this.versions[0];
      if (!latest) {
        this.formError = `No template ${this.code} (${this.channel}, ${this.locale}).`;
        this.status = '';
        return;
      }
      this.status = '';
      this.variablesText = JSON.stringify(sampleVariables(latest.fields), null, 2);
      this.useFields(latest.fields);
    } catch (err) {
      this.status = '';
      this.formError = errorText(err);
    }
  }

  private useFields(fields: Record<string, string>): void {
    this.draft = orderedFields(fields);
    this.inputErrors = new Map();
    this.formError = '';
    void this.renderPreview();
  }

  private onFieldInput(field: string, value: string): void {
    this.draft = { ...this.draft, [field]: value };
    this.schedulePreview();
  }

  private onVariablesInput(value: string): void {
    this.variablesText = value;
    this.schedulePreview();
  }

  private schedulePreview(): void {
    clearTimeout(this.previewTimer);
    this.previewTimer = setTimeout(() => void this.renderPreview(), PREVIEW_DELAY_MS);
  }

  private parsedVariables(): Record<string, unknown> | null {
    try {
      const value: unknown = JSON.parse(this.variablesText || '{}');
      if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // reported below
    }
    this.inputErrors = new Map([[VARIABLES, 'Sample variables must be a JSON object, e.g. {"name": "Ada"}.']]);
    return null;
  }

  private async renderPreview(): Promise<void> {
    const variables = this.parsedVariables();
    if (!variables) return;
    const seq = ++this.previewSeq;
    this.previewStatus = 'Rendering preview…';
    try {
      const preview = await api.post<TemplatePreview>(`/api/templates/${encodeURIComponent(this.code)}/preview`, {
        channel: this.channel,
        locale: this.locale,
        fields: this.draft,
        variables,
      });
      if (seq !== this.previewSeq) return;
      this.preview = preview;
      this.inputErrors = new Map();
      this.formError = '';
      this.previewStatus = 'Preview up to date.';
    } catch (err) {
      if (seq !== this.previewSeq) return;
      this.showError(err);
      this.previewStatus = 'The preview could not be rendered.';
    }
  }

  private showError(err: unknown): void {
    this.inputErrors = errorsByInput(err);
    // An error naming no textarea (or a network failure) shows above the form.
    this.formError = this.inputErrors.size ? '' : errorText(err);
  }

  private async save(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    this.saving = true;
    this.status = 'Saving…';
    try {
      const created = await api.post<Template>(`/api/templates/${encodeURIComponent(this.code)}/versions`, {
        channel: this.channel,
        locale: this.locale,
        fields: this.draft,
      });
      this.versions = [created, ...this.versions.filter((v) => v.id !== created.id)];
      this.inputErrors = new Map();
      this.formError = '';
      this.status = `Saved as version ${created.version}.`;
    } catch (err) {
      this.showError(err);
      this.status = 'Not saved.';
    } finally {
      this.saving = false;
    }
  }

  override render() {
    const latest = this.versions[0];
    return html`
      <h2 id="editor-title">${this.code} · ${this.channel} · ${this.locale}${latest ? html` <span class="muted">(latest v${latest.version}, ${latest.category})</span>` : nothing}</h2>
      ${alertRegion(this.formError)}
      <div class="editor">
        <form class="stack" @submit=${this.save} aria-labelledby="editor-title">
          ${Object.entries(this.draft).map(([field, source]) => this.textarea(field, field, source, (v) => this.onFieldInput(field, v)))}
          ${this.textarea(VARIABLES, 'Sample variables (JSON)', this.variablesText, (v) => this.onVariablesInput(v))}
          <div class="actions">
            <button type="submit" ?disabled=${this.saving || !latest}>Save as new version</button>
            ${statusRegion(this.status)}
          </div>
        </form>
        <section class="preview" aria-labelledby="preview-title">
          <h3 id="preview-title">Preview</h3>
          ${statusRegion(this.previewStatus)}
          ${this.preview
            ? html`<dl>
                ${Object.entries(orderedFields(this.preview.rendered)).map(([field, text]) => html`<dt>${field}</dt><dd>${renderedField(field, text)}</dd>`)}
              </dl>`
            : nothing}
        </section>
      </div>
      ${this.history()}
    `;
  }

  private textarea(name: string, label: string, value: string, onInput: (value: string) => void) {
    const id = `tpl-${name}`;
    const error = this.inputErrors.get(name);
    const rows = Math.min(12, Math.max(2, value.split('\n').length + 1));
    return html`<div class="field">
      <label for=${id}>${label}</label>
      <textarea
        id=${id}
        rows=${rows}
        spellcheck="false"
        .value=${value}
        aria-invalid=${error ? 'true' : 'false'}
        aria-describedby=${error ? `${id}-error` : nothing}
        @input=${(e: InputEvent) => onInput((e.target as HTMLTextAreaElement).value)}
      ></textarea>
      ${error ? html`<p class="field-error" id=${`${id}-error`}>${error}</p>` : nothing}
    </div>`;
  }

  private history() {
    return html`
      <section aria-labelledby="history-title">
        <h3 id="history-title">Version history</h3>
        ${dataTable(
          { labelledBy: 'history-title' },
          [{ label: 'Version' }, { label: 'Created' }, { label: 'Fields' }, { label: 'Action', hidden: true }],
          this.versions.map(
            (v) => html`<tr>
              <th scope="row">v${v.version}</th>
              <td>${formatTime(v.createdAt)}</td>
              <td>${Object.keys(orderedFields(v.fields)).join(', ')}</td>
              <td><button type="button" class="secondary" @click=${() => this.useFields(v.fields)}>Edit from v${v.version}</button></td>
            </tr>`,
          ),
        )}
      </section>
    `;
  }
}
customElements.define('template-editor', TemplateEditor);

/**
 * An email's HTML is shown as the mail client would draw it, in a sandboxed frame: no script runs, no
 * form submits, and it cannot reach this page (a unique origin); it inherits the page's CSP, so remote
 * images stay unloaded. Other fields are text.
 */
function renderedField(field: string, text: string) {
  if (field !== 'html') return html`<pre>${text}</pre>`;
  return html`<iframe class="html-preview" sandbox="" title="Email HTML as rendered" .srcdoc=${text}></iframe>`;
}


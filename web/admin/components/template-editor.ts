import { html, nothing, type PropertyValues } from 'lit';
import { repeat } from 'lit/directives/repeat.js';
import { HttpError } from '../../shared/api-client';
import { CATEGORIES } from '../../../src/domain/event-catalog';
import {
  REQUIRED_TEMPLATE_FIELDS,
  TEMPLATED_CHANNELS,
  type TemplatedChannel,
} from '../../../src/templates/template-fields';
import { api, formatTime, query, type Template, type TemplatePreview } from '../admin-api';
import { dataTable } from './data-table';
import { LightElement } from './light-element';
import { alertRegion, errorText, statusRegion } from './live-regions';
import { sampleVariables } from './sample-variables';

const PREVIEW_DELAY_MS = 300;
/** Fields in reading order (stored JSON comes back sorted by name); others follow alphabetically. */
const FIELD_ORDER = ['subject', 'title', 'body', 'text', 'html', 'actionText', 'actionUrl'];
const fieldRank = (field: string) =>
  FIELD_ORDER.includes(field) ? FIELD_ORDER.indexOf(field) : FIELD_ORDER.length;

function orderedFields(fields: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(fields).sort(([a], [b]) => fieldRank(a) - fieldRank(b) || a.localeCompare(b)),
  );
}
const VARIABLES = 'variables';
/** Inputs the API may name besides `fields.<name>`: the route's code, the body's channel, locale and category. */
const IDENTITY = ['code', 'channel', 'locale', 'category'] as const;
type IdentityInput = (typeof IDENTITY)[number];

/** Fields the delivery providers read beyond the required ones (in-app action link, push click URL). */
const OPTIONAL_FIELDS: Record<TemplatedChannel, string[]> = {
  in_app: ['actionUrl', 'actionText'],
  email: [],
  sms: [],
  push: ['url'],
};

/** Error keys: `fields.<name>` for a field's textarea, else the API's name (variables, code, locale, ...). */
const fieldKey = (field: string) => `fields.${field}`;

function errorsByInput(err: unknown): Map<string, string> {
  const byInput = new Map<string, string>();
  if (!(err instanceof HttpError)) return byInput;
  for (const name of err.fields) {
    const [head, field] = name.split('.', 2);
    if (head === 'fields' && field) byInput.set(fieldKey(field), err.message);
    else if (head === VARIABLES || (IDENTITY as readonly string[]).includes(head))
      byInput.set(head, err.message);
  }
  return byInput;
}

/**
 * The channel's required fields (empty) first; what the operator wrote stays, fields left empty that
 * the new channel does not need go (an email draft switched to sms keeps no empty subject).
 */
function fieldsForChannel(fields: Record<string, string>, channel: TemplatedChannel): Record<string, string> {
  const required = REQUIRED_TEMPLATE_FIELDS[channel];
  const kept = Object.entries(fields).filter(([name, source]) => source !== '' || required.includes(name));
  return orderedFields({
    ...Object.fromEntries(required.map((name) => [name, ''])),
    ...Object.fromEntries(kept),
  });
}

/**
 * edit: versions of a stored (code, channel, locale); new: a template with a new code; variant: another
 * channel or locale of `code`, drafted from the (code, channel, locale) the editor was opened on.
 */
export type EditorMode = 'edit' | 'new' | 'variant';

export interface TemplateIdentity {
  code: string;
  channel: string;
  locale: string;
  category: string;
}

/**
 * One template (code, channel, locale): a textarea per field, a live preview rendered by the API with
 * sample variables (debounced while typing), the version history and "Save as new version". In the
 * new and variant modes it edits a draft with no saved version yet: the identity is typed, the first
 * save creates version 1 and fires `template-created` (detail: the stored Template).
 * Validation errors show next to the input the API names.
 */
export class TemplateEditor extends LightElement {
  static override properties = {
    mode: {},
    code: {},
    channel: {},
    locale: {},
    identity: { state: true },
    newField: { state: true },
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
  declare mode: EditorMode;
  /** edit: the template; variant: the one to start from; new: unused. */
  declare code: string;
  declare channel: string;
  declare locale: string;
  /** What previews and saves address; typed by the operator in the new and variant modes. */
  declare identity: TemplateIdentity;
  declare newField: string;
  declare versions: Template[];
  declare draft: Record<string, string>;
  declare variablesText: string;
  declare preview: TemplatePreview | null;
  /** Input key (see errorsByInput) -> error message. */
  declare inputErrors: Map<string, string>;
  declare formError: string;
  declare status: string;
  declare previewStatus: string;
  declare saving: boolean;
  private previewTimer: ReturnType<typeof setTimeout> | undefined;
  /** Only the answer to the newest preview request is shown. */
  private previewSeq = 0;
  /** Until the operator types their own, sample variables follow the tags the draft uses. */
  private variablesEdited = false;

  constructor() {
    super();
    this.mode = 'edit';
    this.code = '';
    this.channel = '';
    this.locale = '';
    this.identity = { code: '', channel: 'in_app', locale: 'en', category: '' };
    this.newField = '';
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
    if (!(changed.has('mode') || changed.has('code') || changed.has('channel') || changed.has('locale')))
      return;
    this.versions = [];
    this.preview = null;
    this.variablesEdited = false;
    if (this.mode === 'new') {
      this.identity = { code: '', channel: 'in_app', locale: 'en', category: '' };
      this.useFields(fieldsForChannel({}, 'in_app'));
    } else {
      this.identity = { code: this.code, channel: this.channel, locale: this.locale, category: '' };
      void this.load();
    }
  }

  private get creating(): boolean {
    return this.mode !== 'edit';
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearTimeout(this.previewTimer);
  }

  private async load(): Promise<void> {
    this.status = 'Loading…';
    try {
      const { items } = await api.get<{ items: Template[] }>(
        `/api/templates${query({ versions: 'all', code: this.code, channel: this.channel, locale: this.locale })}`,
      );
      this.versions = [...items].sort((a, b) => b.version - a.version);
      const latest = this.versions[0];
      if (!latest) {
        this.formError = `No template ${this.code} (${this.channel}, ${this.locale}).`;
        this.status = '';
        return;
      }
      this.status = '';
      this.identity = {
        code: latest.code,
        channel: latest.channel,
        locale: latest.locale,
        category: latest.category,
      };
      // A variant starts as a draft of this one's newest fields; its history is not the variant's.
      if (this.mode === 'variant') this.versions = [];
      this.useFields(latest.fields);
    } catch (err) {
      this.status = '';
      this.formError = errorText(err);
    }
  }

  private useFields(fields: Record<string, string>): void {
    this.setDraft(orderedFields(fields));
    this.inputErrors = new Map();
    this.formError = '';
    void this.renderPreview();
  }

  private setDraft(fields: Record<string, string>): void {
    this.draft = fields;
    if (!this.variablesEdited) this.variablesText = JSON.stringify(sampleVariables(fields), null, 2);
  }

  private onFieldInput(field: string, value: string): void {
    this.setDraft({ ...this.draft, [field]: value });
    this.schedulePreview();
  }

  private onVariablesInput(value: string): void {
    this.variablesEdited = true;
    this.variablesText = value;
    this.schedulePreview();
  }

  private onIdentityInput(input: IdentityInput, value: string): void {
    this.identity = { ...this.identity, [input]: value };
    if (input === 'channel' && (TEMPLATED_CHANNELS as string[]).includes(value))
      this.setDraft(fieldsForChannel(this.draft, value as TemplatedChannel));
    this.schedulePreview();
  }

  private requiredFields(): string[] {
    return REQUIRED_TEMPLATE_FIELDS[this.identity.channel as TemplatedChannel] ?? [];
  }

  private addField(name: string): void {
    const field = name.trim();
    if (!field) return;
    // An existing name is not overwritten: its textarea takes focus instead.
    if (!(field in this.draft)) this.setDraft(orderedFields({ ...this.draft, [field]: '' }));
    this.newField = '';
    this.schedulePreview();
    void this.updateComplete.then(() =>
      this.querySelector<HTMLElement>(`#tpl-${CSS.escape(field)}`)?.focus(),
    );
  }

  private removeField(field: string): void {
    const { [field]: _removed, ...rest } = this.draft;
    this.setDraft(rest);
    this.schedulePreview();
    // The removed button had focus: keep it in the form, on the control that adds fields.
    void this.updateComplete.then(() => this.querySelector<HTMLElement>('#tpl-id-new-field')?.focus());
  }

  private schedulePreview(): void {
    clearTimeout(this.previewTimer);
    this.previewTimer = setTimeout(() => void this.renderPreview(), PREVIEW_DELAY_MS);
  }

  private parsedVariables(): Record<string, unknown> | null {
    try {
      const value: unknown = JSON.parse(this.variablesText || '{}');
      if (value && typeof value === 'object' && !Array.isArray(value))
        return value as Record<string, unknown>;
    } catch {
      // reported below
    }
    this.inputErrors = new Map([
      [VARIABLES, 'Sample variables must be a JSON object, e.g. {"name": "Ada"}.'],
    ]);
    return null;
  }

  private async renderPreview(): Promise<void> {
    const variables = this.parsedVariables();
    if (!variables) return;
    const seq = ++this.previewSeq;
    const { code, channel, locale } = this.identity;
    // The preview route is per code: a draft without one has nothing to ask yet.
    if (!code) {
      this.preview = null;
      this.previewStatus = 'Enter a code to see the preview.';
      return;
    }
    this.previewStatus = 'Rendering preview…';
    try {
      const preview = await api.post<TemplatePreview>(`/api/templates/${encodeURIComponent(code)}/preview`, {
        channel,
        // Rendering does not depend on the locale: an empty one is reported when saving, not while drafting.
        locale: locale || undefined,
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
    clearTimeout(this.previewTimer);
    this.saving = true;
    this.status = 'Saving…';
    const { code, channel, locale, category } = this.identity;
    try {
      const created = await api.post<Template>(`/api/templates/${encodeURIComponent(code)}/versions`, {
        channel,
        locale,
        // Only a new code takes one; versions and variants keep the code's category (the API's default).
        ...(this.mode === 'new' && category ? { category } : {}),
        fields: this.draft,
        // The version this change was made on (0: a new one): the API answers 409 rather than stack it
        // on a version saved meanwhile by someone else, or append to a template that exists already.
        baseVersion: this.creating ? 0 : (this.versions[0]?.version ?? 0),
      });
      this.inputErrors = new Map();
      this.formError = '';
      if (this.creating) {
        this.status = `Created version ${created.version}.`;
        // Not once the operator has left: the page would navigate back to the new template.
        if (this.isConnected)
          this.dispatchEvent(
            new CustomEvent<Template>('template-created', { detail: created, bubbles: true }),
          );
        return;
      }
      this.versions = [created, ...this.versions.filter((v) => v.id !== created.id)];
      this.status = `Saved as version ${created.version}.`;
    } catch (err) {
      this.showError(err);
      this.status = 'Not saved.';
      // Keyboard and screen reader users land on what to fix.
      void this.updateComplete.then(() => this.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus());
    } finally {
      this.saving = false;
    }
  }

  override render() {
    const latest = this.versions[0];
    const { code, channel, locale } = this.identity;
    const title = html`${code || 'new code'} · ${channel} ·
    ${locale || '(no locale)'}${
      this.creating
        ? html` <span class="muted">(draft, not saved yet)</span>`
        : latest
          ? html` <span class="muted">(latest v${latest.version}, ${latest.category})</span>`
          : nothing
    }`;
    return html`
      <h2 id="editor-title">${title}</h2>
      ${alertRegion(this.formError)}
      <div class="editor">
        <form class="stack" @submit=${this.save} aria-labelledby="editor-title" novalidate>
          ${this.creating ? this.identityInputs() : nothing}
          ${repeat(
            // Keyed by field: a textarea keeps its focus when a channel change adds fields before it.
            Object.entries(this.draft),
            ([field]) => field,
            ([field, source]) => this.textarea(field, source),
          )}
          ${this.fieldAdder()}
          ${this.control(
            VARIABLES,
            'tpl-sample-variables',
            'Sample variables (JSON)',
            (attrs) =>
              html`<textarea
                id="tpl-sample-variables"
                rows=${rows(this.variablesText)}
                spellcheck="false"
                .value=${this.variablesText}
                aria-invalid=${attrs.invalid}
                aria-describedby=${attrs.describedBy}
                @input=${(e: InputEvent) => this.onVariablesInput((e.target as HTMLTextAreaElement).value)}
              ></textarea>`,
          )}
          <div class="actions">
            <button type="submit" ?disabled=${this.saving || (!this.creating && !latest)}>
              ${this.mode === 'new' ? 'Create template' : this.mode === 'variant' ? 'Create variant' : 'Save as new version'}
            </button>
            ${statusRegion(this.status)}
          </div>
        </form>
        <section class="preview" aria-labelledby="preview-title">
          <h3 id="preview-title">Preview</h3>
          ${statusRegion(this.previewStatus)}
          ${
            this.preview
              ? html`<dl>
                  ${Object.entries(orderedFields(this.preview.rendered)).map(
                    ([field, text]) =>
                      html`<dt>${field}</dt>
                        <dd>${renderedField(field, text)}</dd>`,
                  )}
                </dl>`
              : nothing
          }
        </section>
      </div>
      ${this.creating ? nothing : this.history()}
    `;
  }

  /**
   * A labelled input with the API's error for `key` below it, tied by aria-describedby; `extra` sits
   * beside the label (a field's Remove button).
   */
  private control(
    key: string,
    id: string,
    label: string,
    input: (attrs: { invalid: 'true' | 'false'; describedBy: string | typeof nothing }) => unknown,
    extra: unknown = nothing,
  ) {
    const error = this.inputErrors.get(key);
    return html`<div class="field">
      <div class="field-label"><label for=${id}>${label}</label>${extra}</div>
      ${input({ invalid: error ? 'true' : 'false', describedBy: error ? `${id}-error` : nothing })}
      ${error ? html`<p class="field-error" id=${`${id}-error`}>${error}</p>` : nothing}
    </div>`;
  }

  /** Code (new only), channel, locale and category (new only; a variant has its code's). */
  private identityInputs() {
    const { code, channel, locale, category } = this.identity;
    const onInput = (input: IdentityInput) => (e: Event) =>
      this.onIdentityInput(input, (e.target as HTMLInputElement | HTMLSelectElement).value);
    return html`<fieldset>
      <legend>Template</legend>
      <div class="row">
        ${
          this.mode === 'new'
            ? this.control(
                'code',
                'tpl-id-code',
                'Code',
                (a) =>
                  html`<input
                    id="tpl-id-code"
                    autocomplete="off"
                    autocapitalize="off"
                    spellcheck="false"
                    .value=${code}
                    aria-invalid=${a.invalid}
                    aria-describedby=${a.describedBy}
                    @input=${onInput('code')}
                  />`,
              )
            : nothing
        }
        ${this.control(
          'channel',
          'tpl-id-channel',
          'Channel',
          (a) =>
            html`<select
              id="tpl-id-channel"
              aria-invalid=${a.invalid}
              aria-describedby=${a.describedBy}
              @change=${onInput('channel')}
            >
              ${TEMPLATED_CHANNELS.map((c) => html`<option value=${c} ?selected=${c === channel}>${c}</option>`)}
            </select>`,
        )}
        ${this.control(
          'locale',
          'tpl-id-locale',
          'Locale',
          (a) =>
            html`<input
              id="tpl-id-locale"
              autocomplete="off"
              autocapitalize="off"
              spellcheck="false"
              .value=${locale}
              aria-invalid=${a.invalid}
              aria-describedby=${a.describedBy}
              @input=${onInput('locale')}
            />`,
        )}
        ${
          this.mode === 'new'
            ? this.control(
                'category',
                'tpl-id-category',
                'Category',
                (a) =>
                  html`<select
                    id="tpl-id-category"
                    aria-invalid=${a.invalid}
                    aria-describedby=${a.describedBy}
                    @change=${onInput('category')}
                  >
                    <option value="" ?selected=${!category}>Choose…</option>
                    ${CATEGORIES.map((c) => html`<option value=${c} ?selected=${c === category}>${c}</option>`)}
                  </select>`,
              )
            : html`<p class="muted">Category: ${category || '…'} (the code's)</p>`
        }
      </div>
    </fieldset>`;
  }

  private textarea(field: string, value: string) {
    const id = `tpl-${field}`;
    const removable = !this.requiredFields().includes(field);
    const remove = removable
      ? html`<button type="button" class="secondary small" @click=${() => this.removeField(field)}>
          Remove<span class="visually-hidden"> field ${field}</span>
        </button>`
      : nothing;
    return this.control(
      fieldKey(field),
      id,
      field,
      (a) =>
        html`<textarea
          id=${id}
          rows=${rows(value)}
          spellcheck="false"
          .value=${value}
          aria-invalid=${a.invalid}
          aria-describedby=${a.describedBy}
          @input=${(e: InputEvent) => this.onFieldInput(field, (e.target as HTMLTextAreaElement).value)}
        ></textarea>`,
      remove,
    );
  }

  /** The channel's optional fields one click away, any other name typed (the API checks names). */
  private fieldAdder() {
    const suggested = (OPTIONAL_FIELDS[this.identity.channel as TemplatedChannel] ?? []).filter(
      (f) => !(f in this.draft),
    );
    const onKeydown = (e: KeyboardEvent) => {
      // Enter adds the field instead of submitting the form.
      if (e.key !== 'Enter') return;
      e.preventDefault();
      this.addField(this.newField);
    };
    return html`<fieldset class="add-field">
      <legend>More fields</legend>
      ${suggested.length ? html`<div class="actions">${suggested.map((f) => html`<button type="button" class="secondary" @click=${() => this.addField(f)}>Add ${f}</button>`)}</div>` : nothing}
      <div class="actions">
        <label for="tpl-id-new-field">Field name</label>
        <input
          id="tpl-id-new-field"
          autocomplete="off"
          spellcheck="false"
          .value=${this.newField}
          @input=${(e: InputEvent) => (this.newField = (e.target as HTMLInputElement).value)}
          @keydown=${onKeydown}
        />
        <button type="button" class="secondary" @click=${() => this.addField(this.newField)}>
          Add field
        </button>
      </div>
    </fieldset>`;
  }

  private history() {
    return html`
      <section aria-labelledby="history-title">
        <h3 id="history-title">Version history</h3>
        ${dataTable(
          { labelledBy: 'history-title' },
          [
            { label: 'Version' },
            { label: 'Created' },
            { label: 'Fields' },
            { label: 'Action', hidden: true },
          ],
          this.versions.map(
            (v) =>
              html`<tr>
                <th scope="row">v${v.version}</th>
                <td>${formatTime(v.createdAt)}</td>
                <td>${Object.keys(orderedFields(v.fields)).join(', ')}</td>
                <td>
                  <button type="button" class="secondary" @click=${() => this.useFields(v.fields)}>
                    Edit from v${v.version}
                  </button>
                </td>
              </tr>`,
          ),
        )}
      </section>
    `;
  }
}
customElements.define('template-editor', TemplateEditor);

const rows = (value: string) => Math.min(12, Math.max(2, value.split('\n').length + 1));

/**
 * An email's HTML is shown as the mail client would draw it, in a sandboxed frame: no script runs, no
 * form submits, and it cannot reach this page (a unique origin); it inherits the page's CSP, so remote
 * images stay unloaded. Other fields are text.
 */
function renderedField(field: string, text: string) {
  if (field !== 'html') return html`<pre>${text}</pre>`;
  return html`<iframe
    class="html-preview"
    sandbox=""
    title="Email HTML as rendered"
    .srcdoc=${text}
  ></iframe>`;
}

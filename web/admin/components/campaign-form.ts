import { html, nothing } from 'lit';
import { CHANNELS } from '../../../src/domain/channels';
import { api, type Template } from '../admin-api';
import { LightElement } from './light-element';
import { alertRegion, errorText, inputErrorsOf, statusRegion } from './live-regions';
import { sampleVariables } from './sample-variables';

const CAMPAIGN_CATEGORY = 'marketing';
const PRIORITIES = ['low', 'normal', 'high'];

/** Comma, space or newline separated values. */
function list(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Schedules a campaign (POST /api/campaigns): a marketing template, its variables, the audience (roles
 * and/or user ids), channels (none ticked: the template's), priority and an optional start time.
 * Fires `campaign-created` with the new id.
 */
export class CampaignForm extends LightElement {
  static override properties = {
    templates: { state: true },
    templateCode: { state: true },
    variablesText: { state: true },
    inputErrors: { state: true },
    error: { state: true },
    status: { state: true },
    busy: { state: true },
  };
  declare templates: Template[];
  declare templateCode: string;
  declare variablesText: string;
  /** Input name (name, templateCode, segment, variables, channels, priority, scheduledAt) -> message. */
  declare inputErrors: Map<string, string>;
  declare error: string;
  declare status: string;
  declare busy: boolean;

  constructor() {
    super();
    this.templates = [];
    this.templateCode = '';
    this.variablesText = '{}';
    this.inputErrors = new Map();
    this.error = '';
    this.status = '';
    this.busy = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.loadTemplates();
  }

  private async loadTemplates(): Promise<void> {
    try {
      const { items } = await api.get<{ items: Template[] }>('/api/templates');
      this.templates = items.filter((t) => t.category === CAMPAIGN_CATEGORY);
      const first = this.templates[0];
      if (first && !this.templateCode) this.chooseTemplate(first.code);
    } catch (err) {
      this.error = errorText(err);
    }
  }

  private chooseTemplate(code: string): void {
    this.templateCode = code;
    const fields = Object.assign(
      {},
      ...this.templates.filter((t) => t.code === code).map((t) => t.fields),
    ) as Record<string, string>;
    this.variablesText = JSON.stringify(sampleVariables(fields), null, 2);
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const data = new FormData(form);
    const errors = new Map<string, string>();
    let variables: unknown = {};
    try {
      variables = JSON.parse(this.variablesText || '{}');
    } catch {
      errors.set('variables', 'Variables must be a JSON object.');
    }
    const roles = list(String(data.get('roles') ?? ''));
    const userIds = list(String(data.get('userIds') ?? ''));
    if (!roles.length && !userIds.length) errors.set('segment', 'Name roles or user ids (or both).');
    const when = String(data.get('scheduledAt') ?? '');
    const channels = data.getAll('channels').map(String);
    this.inputErrors = errors;
    if (errors.size) {
      this.error = 'Check the marked fields.';
      return;
    }
    this.busy = true;
    this.error = '';
    this.status = 'Creating the campaign…';
    try {
      const created = await api.post<{ id: string }>('/api/campaigns', {
        name: String(data.get('name') ?? ''),
        templateCode: this.templateCode,
        variables,
        segment: { ...(roles.length ? { roles } : {}), ...(userIds.length ? { userIds } : {}) },
        channels: channels.length ? channels : null,
        priority: String(data.get('priority') ?? 'low'),
        // datetime-local is the browser's local time; the API wants an offset.
        ...(when ? { scheduledAt: new Date(when).toISOString() } : {}),
      });
      this.status = 'Campaign created.';
      form.reset();
      this.chooseTemplate(this.templateCode);
      this.dispatchEvent(new CustomEvent('campaign-created', { detail: created.id, bubbles: true }));
    } catch (err) {
      this.status = '';
      this.error = errorText(err);
      this.inputErrors = inputErrorsOf(err);
    } finally {
      this.busy = false;
    }
  }

  override render() {
    const codes = [...new Set(this.templates.map((t) => t.code))].sort();
    return html`
      <form class="stack" @submit=${this.submit} aria-labelledby="new-campaign" novalidate>
        <h2 id="new-campaign">New campaign</h2>
        ${alertRegion(this.error)}
        ${this.field('name', 'Name', html`<input id="campaign-name" name="name" required maxlength="200" />`)}
        ${this.field(
          'templateCode',
          'Template (marketing)',
          html`<select
            id="campaign-templateCode"
            .value=${this.templateCode}
            @change=${(e: Event) => this.chooseTemplate((e.target as HTMLSelectElement).value)}
          >
            ${codes.map((c) => html`<option value=${c} ?selected=${c === this.templateCode}>${c}</option>`)}
          </select>`,
        )}
        ${this.field(
          'variables',
          'Variables (JSON)',
          html`<textarea
            id="campaign-variables"
            rows="4"
            spellcheck="false"
            .value=${this.variablesText}
            @input=${(e: InputEvent) => (this.variablesText = (e.target as HTMLTextAreaElement).value)}
          ></textarea>`,
        )}
        <fieldset>
          <legend>Audience</legend>
          ${this.field('segment', 'Roles (comma separated)', html`<input id="campaign-segment" name="roles" autocomplete="off" />`)}
          <div class="field">
            <label for="campaign-userIds">User ids (comma separated)</label>
            <input id="campaign-userIds" name="userIds" autocomplete="off" />
          </div>
        </fieldset>
        <fieldset>
          <legend>Channels <span class="muted">(none ticked: the template's channels)</span></legend>
          ${CHANNELS.map((c) => html`<label class="inline"><input type="checkbox" name="channels" value=${c} /> ${c}</label>`)}
          ${this.errorFor('channels')}
        </fieldset>
        <div class="row">
          ${this.field(
            'priority',
            'Priority',
            html`<select id="campaign-priority" name="priority">
              ${PRIORITIES.map((p) => html`<option value=${p}>${p}</option>`)}
            </select>`,
          )}
          ${this.field('scheduledAt', 'Send at (empty: now)', html`<input id="campaign-scheduledAt" name="scheduledAt" type="datetime-local" />`)}
        </div>
        <div class="actions">
          <button type="submit" ?disabled=${this.busy || !this.templateCode}>Create campaign</button>
          ${statusRegion(this.status)}
        </div>
      </form>
    `;
  }

  /** A labelled control with its error below; ids are `campaign-<name>`. */
  private field(name: string, label: string, control: unknown) {
    return html`<div class="field">
      <label for=${`campaign-${name}`}>${label}</label>
      ${control} ${this.errorFor(name)}
    </div>`;
  }

  private errorFor(name: string) {
    const error = this.inputErrors.get(name);
    return error ? html`<p class="field-error" id=${`campaign-${name}-error`}>${error}</p>` : nothing;
  }

  protected override updated(): void {
    // Ties each control to its error message (aria-describedby) after every render.
    for (const control of this.querySelectorAll<HTMLElement>(
      '[id^="campaign-"]:is(input, select, textarea)',
    )) {
      const name = control.id.slice('campaign-'.length);
      const error = this.inputErrors.has(name);
      if (error) {
        control.setAttribute('aria-invalid', 'true');
        control.setAttribute('aria-describedby', `campaign-${name}-error`);
      } else {
        control.removeAttribute('aria-invalid');
        control.removeAttribute('aria-describedby');
      }
    }
  }
}
customElements.define('campaign-form', CampaignForm);

import { html, nothing } from 'lit';
import { CHANNELS } from '../../../src/domain/channels';
import { api, type Experiment, type Template } from '../admin-api';
import { LightElement } from './light-element';
import { alertRegion, errorText, inputErrorsOf, statusRegion } from './live-regions';

const METRICS = ['opened', 'clicked', 'converted', 'delivered'] as const;

/** "A 1 50" lines -> variants; a weight left out is 1. Numbers the API checks are passed as typed. */
function parseVariants(text: string): { key: string; templateVersion: number; weight?: number }[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(/[\s,]+/))
    .filter((parts) => parts[0])
    .map(([key, version, weight]) => ({
      key,
      templateVersion: Number(version),
      ...(weight ? { weight: Number(weight) } : {}),
    }));
}

/** Creates an experiment (POST /api/admin/experiments, a draft); fires `experiment-created` with it. */
export class ExperimentForm extends LightElement {
  static override properties = {
    codes: { state: true },
    inputErrors: { state: true },
    error: { state: true },
    status: { state: true },
    busy: { state: true },
  };
  declare codes: string[];
  /** Input name (name, templateCode, channel, metric, variants) -> message. */
  declare inputErrors: Map<string, string>;
  declare error: string;
  declare status: string;
  declare busy: boolean;

  constructor() {
    super();
    this.codes = [];
    this.inputErrors = new Map();
    this.error = '';
    this.status = '';
    this.busy = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void api
      .get<{ items: Template[] }>('/api/templates')
      .then(({ items }) => (this.codes = [...new Set(items.map((t) => t.code))].sort()))
      .catch((err: unknown) => (this.error = errorText(err)));
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const data = new FormData(form);
    const channel = String(data.get('channel') ?? '');
    this.busy = true;
    this.error = '';
    this.inputErrors = new Map();
    this.status = 'Creating the experiment…';
    try {
      const created = await api.post<Experiment>('/api/admin/experiments', {
        name: String(data.get('name') ?? ''),
        templateCode: String(data.get('templateCode') ?? ''),
        channel: channel || null,
        metric: String(data.get('metric') ?? ''),
        variants: parseVariants(String(data.get('variants') ?? '')),
      });
      this.status = `Experiment ${created.name} created as a draft.`;
      form.reset();
      this.dispatchEvent(new CustomEvent('experiment-created', { detail: created, bubbles: true }));
    } catch (err) {
      this.status = '';
      this.error = errorText(err);
      this.inputErrors = inputErrorsOf(err);
    } finally {
      this.busy = false;
    }
  }

  override render() {
    return html`
      <form class="stack" @submit=${this.submit} aria-labelledby="new-experiment" novalidate>
        <h2 id="new-experiment">New experiment</h2>
        ${alertRegion(this.error)}
        ${this.field('name', 'Name', html`<input id="experiment-name" name="name" required maxlength="200" />`)}
        <div class="row">
          ${this.field(
            'templateCode',
            'Template',
            html`<select id="experiment-templateCode" name="templateCode">
              ${this.codes.map((c) => html`<option value=${c}>${c}</option>`)}
            </select>`,
          )}
          ${this.field(
            'channel',
            'Channel',
            html`<select id="experiment-channel" name="channel">
              <option value="">every channel</option>
              ${CHANNELS.map((c) => html`<option value=${c} ?selected=${c === 'email'}>${c}</option>`)}
            </select>`,
          )}
          ${this.field(
            'metric',
            'Metric',
            html`<select id="experiment-metric" name="metric">
              ${METRICS.map((m) => html`<option value=${m}>${m}</option>`)}
            </select>`,
          )}
        </div>
        ${this.field(
          'variants',
          'Variants: one per line, key, template version, weight (the first is the control)',
          html`<textarea id="experiment-variants" name="variants" rows="3" spellcheck="false">
A 1 1
B 2 1</textarea>`,
        )}
        <div class="actions">
          <button type="submit" ?disabled=${this.busy}>Create experiment</button>
          ${statusRegion(this.status)}
        </div>
      </form>
    `;
  }

  /** A labelled control with its error below; ids are `experiment-<name>`. */
  private field(name: string, label: string, control: unknown) {
    const error = this.inputErrors.get(name);
    return html`<div class="field">
      <label for=${`experiment-${name}`}>${label}</label>
      ${control}
      ${error ? html`<p class="field-error" id=${`experiment-${name}-error`}>${error}</p>` : nothing}
    </div>`;
  }

  protected override updated(): void {
    for (const control of this.querySelectorAll<HTMLElement>(
      '[id^="experiment-"]:is(input, select, textarea)',
    )) {
      const name = control.id.slice('experiment-'.length);
      if (this.inputErrors.has(name)) {
        control.setAttribute('aria-invalid', 'true');
        control.setAttribute('aria-describedby', `experiment-${name}-error`);
      } else {
        control.removeAttribute('aria-invalid');
        control.removeAttribute('aria-describedby');
      }
    }
  }
}
customElements.define('experiment-form', ExperimentForm);

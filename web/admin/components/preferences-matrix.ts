import { html, type PropertyValues } from 'lit';
import { api, type Preferences } from '../admin-api';
import { dataTable } from './data-table';
import { LightElement } from './light-element';
import { alertRegion, errorText, statusRegion } from './live-regions';

/**
 * A recipient's preferences as a category × channel grid of checkboxes (mandatory cells ticked and
 * disabled) plus the global mute. Each change is saved at once with PUT, only the changed cell sent.
 */
export class PreferencesMatrix extends LightElement {
  static override properties = {
    recipientId: {},
    preferences: { state: true },
    status: { state: true },
    error: { state: true },
  };
  declare recipientId: string;
  declare preferences: Preferences | null;
  declare status: string;
  declare error: string;

  constructor() {
    super();
    this.recipientId = '';
    this.preferences = null;
    this.status = '';
    this.error = '';
  }

  private get url(): string {
    return `/api/admin/recipients/${encodeURIComponent(this.recipientId)}/preferences`;
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('recipientId') && this.recipientId) void this.load();
  }

  private async load(): Promise<void> {
    this.status = 'Loading preferences…';
    try {
      this.preferences = await api.get<Preferences>(this.url);
      this.status = '';
      this.error = '';
    } catch (err) {
      this.preferences = null;
      this.status = '';
      this.error = errorText(err);
    }
  }

  private async save(change: Partial<Pick<Preferences, 'muted' | 'channels'>>, what: string): Promise<void> {
    this.status = `Saving ${what}…`;
    try {
      this.preferences = await api.put<Preferences>(this.url, change);
      this.status = `Saved: ${what}.`;
      this.error = '';
    } catch (err) {
      this.status = '';
      this.error = errorText(err);
      // The checkbox shows what the server holds, not the refused click.
      this.requestUpdate();
    }
  }

  override render() {
    const p = this.preferences;
    if (!p) return html`${statusRegion(this.status)}${alertRegion(this.error)}`;
    const categories = Object.keys(p.channels).sort();
    const channels = [...new Set(categories.flatMap((c) => Object.keys(p.channels[c])))];
    return html`
      <h2 id="prefs-title">Preferences of ${this.recipientId}</h2>
      <label class="inline">
        <input
          type="checkbox"
          .checked=${p.muted}
          @change=${(e: Event) => this.save({ muted: (e.target as HTMLInputElement).checked }, (e.target as HTMLInputElement).checked ? 'muted' : 'unmuted')}
        />
        Muted (every channel that is not mandatory off)
      </label>
      ${p.quietHours ? html`<p>Quiet hours ${p.quietHours.start}–${p.quietHours.end} (${p.quietHours.timezone})</p>` : html`<p>No quiet hours.</p>`}
      <div class="matrix">
        ${dataTable(
          { labelledBy: 'prefs-title' },
          [{ label: 'Category' }, ...channels.map((c) => ({ label: c }))],
          categories.map(
            (category) =>
              html`<tr>
                <th scope="row">${category}</th>
                ${channels.map((channel) => this.cell(p, category, channel))}
              </tr>`,
          ),
          'Channels per category (mandatory cells cannot be switched off)',
        )}
      </div>
      ${statusRegion(this.status)} ${alertRegion(this.error)}
    `;
  }

  private cell(p: Preferences, category: string, channel: string) {
    const mandatory = p.mandatory[category]?.includes(channel) ?? false;
    const enabled = p.channels[category]?.[channel];
    if (enabled === undefined) return html`<td>—</td>`;
    const label = `${category} by ${channel}${mandatory ? ' (mandatory)' : ''}`;
    return html`<td>
      <input
        type="checkbox"
        aria-label=${label}
        .checked=${mandatory || enabled}
        ?disabled=${mandatory}
        @change=${(e: Event) => {
          const on = (e.target as HTMLInputElement).checked;
          void this.save(
            { channels: { [category]: { [channel]: on } } },
            `${category} by ${channel} ${on ? 'on' : 'off'}`,
          );
        }}
      />
    </td>`;
  }
}
customElements.define('preferences-matrix', PreferencesMatrix);

import { LitElement, css, html, nothing } from 'lit';
import { HttpError } from '../shared/api-client';
import { defineElement } from './define-element';
import { changedDigests, renderDigests, type DigestSetting, type DigestSettings } from './digest-settings';
import type { Preferences, QuietHours } from './feed-types';
import { channelLabel, humanize } from './labels';
import type { NotificationStore } from './notification-store';
import { theme } from './theme';

type Status = { kind: 'ok' | 'error'; text: string } | null;

const DEFAULT_QUIET_HOURS = { start: '22:00', end: '07:00' };

/** The browser's time zones (Chrome, Firefox, Safari); a text field where the list is missing. */
function timeZones(): string[] | null {
  const intl = Intl as typeof Intl & { supportedValuesOf?: (key: 'timeZone') => string[] };
  return intl.supportedValuesOf ? intl.supportedValuesOf('timeZone') : null;
}

/**
 * Preferences (GET/PUT /api/preferences): which category reaches the shopper on which channel
 * (mandatory cells stay on), quiet hours and mute. Edits are a draft until "Save preferences".
 */
export class NotificationPreferences extends LitElement {
  static override properties = {
    store: { attribute: false },
    draft: { state: true },
    status: { state: true },
    loadError: { state: true },
    saving: { state: true },
    digests: { state: true },
  };
  declare store: NotificationStore | null;
  declare draft: Preferences | null;
  declare status: Status;
  declare loadError: string | null;
  declare saving: boolean;
  /** Daily digests (GET/PUT /api/preferences/digests); null while loading or when they could not be read. */
  declare digests: DigestSettings | null;
  private loadedDigests: DigestSettings = {};
  /** The preferences as last read or saved: consent goes to the API only where the draft differs. */
  private loaded: Preferences | null = null;

  constructor() {
    super();
    this.store = null;
    this.draft = null;
    this.status = null;
    this.loadError = null;
    this.saving = false;
    this.digests = null;
  }

  override willUpdate(changed: Map<PropertyKey, unknown>): void {
    if (changed.has('store') && this.store) void this.load();
  }

  private async load(): Promise<void> {
    this.draft = null;
    this.loadError = null;
    try {
      const client = this.store!.client;
      const [preferences, digests] = await Promise.all([
        client.get<Preferences>('/api/preferences'),
        // Digests are an extra: without them the rest of the preferences still work.
        client.get<DigestSettings>('/api/preferences/digests').catch(() => null),
      ]);
      this.draft = this.loaded = preferences;
      this.digests = digests;
      this.loadedDigests = digests ?? {};
    } catch (err) {
      this.loadError =
        err instanceof HttpError && err.status === 404
          ? 'You have no preferences to set yet: they appear with your first notification.'
          : `Your preferences could not be loaded: ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  override render() {
    if (this.loadError) return html`<p class="notice" role="alert">${this.loadError}</p>`;
    const draft = this.draft;
    if (!draft) return html`<p class="muted">Loading preferences…</p>`;
    return html`
      <form @submit=${this.save}>
        ${renderConsent(draft, (category, granted) => this.editConsent(category, granted))}
        ${this.renderMatrix(draft)}
        <fieldset>
          <legend>Mute</legend>
          <label class="check">
            <input
              type="checkbox"
              .checked=${draft.muted}
              aria-describedby="mute-hint"
              @change=${(e: Event) => this.edit({ muted: checked(e) })}
            />
            Mute all notifications
          </label>
          <p id="mute-hint" class="hint muted">Messages you cannot switch off (see above) still arrive.</p>
        </fieldset>
        ${this.renderQuietHours(draft.quietHours)}
        ${renderDigests(this.digests, (category, setting) => this.editDigest(category, setting))}
        <div class="save">
          <button class="primary" type="submit" ?disabled=${this.saving}>Save preferences</button>
          <p role="status" class=${this.status?.kind === 'error' ? 'error' : 'ok'}>
            ${this.status?.text ?? ''}
          </p>
        </div>
      </form>
    `;
  }

  private renderMatrix(draft: Preferences) {
    const categories = Object.keys(draft.channels);
    const channels = [...new Set(categories.flatMap((category) => Object.keys(draft.channels[category])))];
    const required = categories.filter((category) => draft.mandatory[category]?.length);
    return html`
      <fieldset>
        <legend>What reaches you where</legend>
        <div class="matrix">
          <table>
            <thead>
              <tr>
                <td></td>
                ${channels.map((channel) => html`<th scope="col">${channelLabel(channel)}</th>`)}
              </tr>
            </thead>
            <tbody>
              ${categories.map(
                (category) => html`
                  <tr>
                    <th scope="row">${humanize(category)}</th>
                    ${channels.map((channel) => {
                      const locked = draft.mandatory[category]?.includes(channel) ?? false;
                      return html`<td>
                        <input
                          type="checkbox"
                          aria-label=${`${humanize(category)}: ${channelLabel(channel)}`}
                          aria-describedby=${locked ? 'mandatory-note' : nothing}
                          .checked=${locked || draft.channels[category][channel]}
                          ?disabled=${locked}
                          @change=${(e: Event) => this.editCell(category, channel, checked(e))}
                        />
                      </td>`;
                    })}
                  </tr>
                `,
              )}
            </tbody>
          </table>
        </div>
        ${
          required.length
            ? html`<p id="mandatory-note" class="hint muted">
                Always on:
                ${required.map((category) => `${humanize(category).toLowerCase()} (${draft.mandatory[category].map(channelLabel).join(', ')})`).join('; ')}.
                They concern your orders and payments, so they cannot be switched off.
              </p>`
            : nothing
        }
      </fieldset>
    `;
  }

  private renderQuietHours(quiet: QuietHours | null) {
    const zones = timeZones();
    return html`
      <fieldset>
        <legend>Quiet hours</legend>
        <p class="hint muted">During quiet hours notifications wait until the end, except urgent ones.</p>
        ${
          quiet
            ? html`
                <div class="quiet">
                  <label
                    >From
                    <input
                      type="time"
                      required
                      .value=${quiet.start}
                      @change=${(e: Event) => this.editQuiet({ start: value(e) })}
                  /></label>
                  <label
                    >Until
                    <input
                      type="time"
                      required
                      .value=${quiet.end}
                      @change=${(e: Event) => this.editQuiet({ end: value(e) })}
                  /></label>
                  <label
                    >Time zone
                    ${
                      zones
                        ? html`<select @change=${(e: Event) => this.editQuiet({ timezone: value(e) })}>
                            ${[...new Set([quiet.timezone, ...zones])].map((zone) => html`<option .selected=${zone === quiet.timezone}>${zone}</option>`)}
                          </select>`
                        : html`<input
                            type="text"
                            required
                            .value=${quiet.timezone}
                            @change=${(e: Event) => this.editQuiet({ timezone: value(e) })}
                          />`
                    }
                  </label>
                </div>
                <button type="button" @click=${() => this.edit({ quietHours: null })}>
                  Remove quiet hours
                </button>
              `
            : html`<button type="button" @click=${this.addQuietHours}>Add quiet hours</button>`
        }
      </fieldset>
    `;
  }

  private addQuietHours(): void {
    this.edit({
      quietHours: { ...DEFAULT_QUIET_HOURS, timezone: Intl.DateTimeFormat().resolvedOptions().timeZone },
    });
  }

  private edit(change: Partial<Preferences>): void {
    this.draft = { ...this.draft!, ...change };
    this.status = null;
  }

  private editQuiet(change: Partial<QuietHours>): void {
    this.edit({ quietHours: { ...this.draft!.quietHours!, ...change } });
  }

  private editConsent(category: string, granted: boolean): void {
    this.edit({
      consent: { ...this.draft!.consent, [category]: { ...this.draft!.consent[category], granted } },
    });
  }

  private editDigest(category: string, setting: DigestSetting): void {
    this.digests = { ...this.digests, [category]: setting };
    this.status = null;
  }

  private editCell(category: string, channel: string, enabled: boolean): void {
    const channels = {
      ...this.draft!.channels,
      [category]: { ...this.draft!.channels[category], [channel]: enabled },
    };
    this.edit({ channels });
  }

  private async save(event: Event): Promise<void> {
    event.preventDefault();
    const draft = this.draft!;
    // Mandatory cells are not ours to send: the API refuses switching them off.
    const channels = Object.fromEntries(
      Object.entries(draft.channels).map(([category, cells]) => [
        category,
        Object.fromEntries(
          Object.entries(cells).filter(([channel]) => !draft.mandatory[category]?.includes(channel)),
        ),
      ]),
    );
    this.saving = true;
    this.status = null;
    try {
      this.draft = this.loaded = await this.store!.client.put<Preferences>('/api/preferences', {
        muted: draft.muted,
        quietHours: draft.quietHours,
        channels,
        // Opt-ins given here are recorded as given in the notification center (docs/consent.md).
        // Only what changed: saving other settings records no consent decision.
        consent: Object.fromEntries(
          Object.entries(draft.consent)
            .filter(([c, v]) => this.loaded?.consent[c]?.granted !== v.granted)
            .map(([c, v]) => [c, v.granted]),
        ),
        consentSource: 'inbox',
      });
      await this.saveDigests();
      this.status = { kind: 'ok', text: 'Preferences saved.' };
    } catch (err) {
      this.status = {
        kind: 'error',
        text: `Preferences not saved: ${err instanceof Error ? err.message : String(err)}`,
      };
    } finally {
      this.saving = false;
    }
  }

  /** Only the digests that changed go to the API. */
  private async saveDigests(): Promise<void> {
    const changed = changedDigests(this.loadedDigests, this.digests ?? {});
    if (Object.keys(changed).length === 0) return;
    this.digests = this.loadedDigests = await this.store!.client.put<DigestSettings>(
      '/api/preferences/digests',
      changed,
    );
  }

  static override styles = [
    theme,
    css`
      :host {
        display: block;
      }
      fieldset {
        border: 1px solid var(--nc-border, #d1d5db);
        border-radius: var(--nc-radius, 8px);
        margin: 0 0 0.75rem;
        padding: 0.5rem 0.75rem 0.75rem;
      }
      legend {
        font-weight: 600;
        padding: 0 0.25rem;
      }
      .matrix {
        overflow-x: auto;
      }
      table {
        border-collapse: collapse;
        width: 100%;
      }
      th,
      td {
        padding: 0.3rem 0.25rem;
        text-align: center;
      }
      th[scope='row'] {
        text-align: left;
        font-weight: normal;
      }
      th[scope='col'] {
        font-size: 0.875rem;
      }
      input[type='checkbox'] {
        width: 1.1rem;
        height: 1.1rem;
        accent-color: var(--nc-accent, #1d4ed8);
      }
      .hint {
        font-size: 0.875rem;
        margin: 0.5rem 0 0;
      }
      .check {
        display: flex;
        align-items: center;
        gap: 0.5rem;
      }
      .quiet {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem 1rem;
        margin: 0.5rem 0;
      }
      .digest {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 0.25rem 1rem;
        margin: 0.25rem 0;
      }
      .quiet label {
        display: flex;
        flex-direction: column;
        font-size: 0.875rem;
      }
      input,
      select {
        font: inherit;
        max-width: 100%;
      }
      .save {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 0.75rem;
      }
      .save p {
        margin: 0;
      }
      .error {
        color: var(--nc-badge, #b91c1c);
      }
      .notice {
        padding: 0.5rem;
        border-left: 3px solid var(--nc-badge, #b91c1c);
      }
    `,
  ];
}
defineElement('notification-preferences', NotificationPreferences);

/** The opt-ins of categories that need one (marketing): nothing of them arrives on any channel without it. */
function renderConsent(draft: Preferences, edit: (category: string, granted: boolean) => void) {
  const categories = Object.keys(draft.consent ?? {});
  if (categories.length === 0) return nothing;
  return html`
    <fieldset>
      <legend>Offers and news</legend>
      ${categories.map(
        (category) => html`
          <label class="check">
            <input
              type="checkbox"
              .checked=${draft.consent[category].granted}
              aria-describedby="consent-hint"
              @change=${(e: Event) => edit(category, checked(e))}
            />
            Yes, send me ${humanize(category).toLowerCase()} messages
          </label>
        `,
      )}
      <p id="consent-hint" class="hint muted">
        Only with your yes; the table below picks where they reach you. You can withdraw it here at any time.
      </p>
    </fieldset>
  `;
}

function checked(event: Event): boolean {
  return (event.target as HTMLInputElement).checked;
}

function value(event: Event): string {
  return (event.target as HTMLInputElement | HTMLSelectElement).value;
}

declare global {
  interface HTMLElementTagNameMap {
    'notification-preferences': NotificationPreferences;
  }
}

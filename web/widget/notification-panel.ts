import { LitElement, css, html, nothing } from 'lit';
import { defineElement } from './define-element';
import './notification-list';
import './notification-preferences';
import type { NotificationStore } from './notification-store';
import { StoreSubscription } from './store-subscription';
import { theme } from './theme';

const TABS = [
  { id: 'feed', label: 'Notifications' },
  { id: 'preferences', label: 'Preferences' },
] as const;
type TabId = (typeof TABS)[number]['id'];

/**
 * The notification center's body: the feed and the preferences as tabs. Rendered inside the bell's
 * popover and, full-page, by /inbox/. `announce` puts new notifications in a polite live region
 * (off while the panel is hidden: the bell announces then).
 */
export class NotificationPanel extends LitElement {
  static override properties = {
    store: { attribute: false },
    announce: { type: Boolean },
    tab: { state: true },
  };
  declare store: NotificationStore | null;
  declare announce: boolean;
  declare tab: TabId;
  /** The preferences form loads on first view and then stays (keeping an unsaved draft across tabs). */
  private preferencesShown = false;

  constructor() {
    super();
    this.store = null;
    this.announce = true;
    this.tab = 'feed';
    new StoreSubscription(this);
  }

  /** Shows a tab: 'feed' or 'preferences'. */
  select(tab: TabId): void {
    this.tab = tab;
  }

  override render() {
    if (this.tab === 'preferences') this.preferencesShown = true;
    return html`
      <div role="tablist" aria-label="Notification center" @keydown=${this.onTabKey}>
        ${TABS.map(
          ({ id, label }) =>
            html`<button
              type="button"
              role="tab"
              id=${`tab-${id}`}
              aria-controls=${`tabpanel-${id}`}
              aria-selected=${this.tab === id ? 'true' : 'false'}
              tabindex=${this.tab === id ? 0 : -1}
              @click=${() => this.select(id)}
            >
              ${label}${id === 'feed' ? this.renderUnreadBadge() : nothing}
            </button>`,
        )}
      </div>
      <div role="tabpanel" id="tabpanel-feed" aria-labelledby="tab-feed" ?hidden=${this.tab !== 'feed'}>
        <notification-list .store=${this.store}></notification-list>
      </div>
      <div
        role="tabpanel"
        id="tabpanel-preferences"
        aria-labelledby="tab-preferences"
        ?hidden=${this.tab !== 'preferences'}
      >
        ${this.preferencesShown ? html`<notification-preferences .store=${this.store}></notification-preferences>` : nothing}
      </div>
      <div class="visually-hidden" role="status" aria-live="polite">
        ${this.announce ? (this.store?.announcement ?? '') : ''}
      </div>
    `;
  }

  private renderUnreadBadge() {
    const count = this.store?.unreadCount ?? 0;
    if (!count) return nothing;
    return html` <span class="badge"
      ><span aria-hidden="true">${count > 99 ? '99+' : count}</span
      ><span class="visually-hidden">, ${count} unread</span></span
    >`;
  }

  /** Arrow keys, Home and End move between tabs (WAI-ARIA tabs pattern, automatic activation). */
  private onTabKey(event: KeyboardEvent): void {
    const index = TABS.findIndex(({ id }) => id === this.tab);
    const next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: TABS.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    const tab = TABS[(next + TABS.length) % TABS.length].id;
    this.select(tab);
    void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>(`#tab-${tab}`)?.focus());
  }

  static override styles = [
    theme,
    css`
      :host {
        display: block;
      }
      [role='tablist'] {
        display: flex;
        gap: 0.25rem;
        border-bottom: 1px solid var(--nc-border, #d1d5db);
        margin-bottom: 0.5rem;
      }
      [role='tab'] {
        border: none;
        border-bottom: 3px solid transparent;
        border-radius: 0;
        color: var(--nc-text, #1f2937);
        background: none;
        padding: 0.5rem 0.75rem;
      }
      [role='tab'][aria-selected='true'] {
        border-bottom-color: var(--nc-accent, #1d4ed8);
        color: var(--nc-accent, #1d4ed8);
        font-weight: 600;
      }
      .badge {
        margin-left: 0.25rem;
      }
    `,
  ];
}
defineElement('notification-panel', NotificationPanel);

declare global {
  interface HTMLElementTagNameMap {
    'notification-panel': NotificationPanel;
  }
}

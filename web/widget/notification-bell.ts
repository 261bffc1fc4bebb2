import { LitElement, css, html, nothing, svg } from 'lit';
import { ApiClient } from '../shared/api-client';
import { defineElement } from './define-element';
import './notification-panel';
import { NotificationStore, STORE_EVENTS } from './notification-store';
import { defaultApiBase } from './script-origin';
import { StoreSubscription } from './store-subscription';
import { theme } from './theme';

const BELL_ICON = svg`<path d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z"/>`;

/**
 * <notification-bell token="<jwt>" api-base="https://notify.example" open>: a bell with the unread
 * count that opens the shopper's notification center in a popover. Without `token` it rides the
 * same-origin session cookie. Re-fires the store's events (notification-received, unread-change,
 * session-expired) from itself, bubbling out of the shadow root.
 */
export class NotificationBell extends LitElement {
  static override properties = {
    token: { type: String },
    apiBase: { type: String, attribute: 'api-base' },
    linkBase: { type: String, attribute: 'link-base' },
    open: { type: Boolean, reflect: true },
    store: { state: true },
  };
  declare token: string | null;
  declare apiBase: string | null;
  /** Where relative action links point; default: the page the bell is on. */
  declare linkBase: string | null;
  declare open: boolean;
  declare store: NotificationStore | null;
  /** Set when the user opened the panel: focus then moves in (not when it starts open). */
  private focusPanel = false;

  constructor() {
    super();
    this.token = null;
    this.apiBase = null;
    this.linkBase = null;
    this.open = false;
    this.store = null;
    new StoreSubscription(this);
  }

  override connectedCallback(): void {
    super.connectedCallback();
    document.addEventListener('click', this.onDocumentClick);
    this.requestUpdate(); // back in the page: willUpdate starts a store again
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    document.removeEventListener('click', this.onDocumentClick);
    this.replaceStore(null);
  }

  override willUpdate(changed: Map<PropertyKey, unknown>): void {
    if (!this.isConnected) return;
    if (!this.store || changed.has('token') || changed.has('apiBase') || changed.has('linkBase')) {
      this.replaceStore(
        new NotificationStore(
          new ApiClient({ base: this.apiBase || defaultApiBase(), token: this.token || null }),
          this.linkBase || null,
        ),
      );
    }
  }

  override updated(changed: Map<PropertyKey, unknown>): void {
    if (changed.has('open') && this.open && this.focusPanel) {
      this.focusPanel = false;
      this.renderRoot.querySelector<HTMLElement>('#panel')?.focus();
    }
  }

  /** Opens or closes the popover, as the bell button does. */
  toggle(force = !this.open): void {
    this.focusPanel = force;
    this.open = force;
  }

  override render() {
    const count = this.store?.unreadCount ?? 0;
    return html`
      <button
        type="button"
        class="bell"
        aria-expanded=${this.open ? 'true' : 'false'}
        aria-controls="panel"
        aria-label=${`Notifications, ${count} unread`}
        @click=${() => this.toggle()}
        @keydown=${this.onKeydown}
      >
        <svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false">
          ${BELL_ICON}
        </svg>
        ${count > 0 ? html`<span class="badge" aria-hidden="true">${count > 99 ? '99+' : count}</span>` : nothing}
      </button>
      ${this.open ? nothing : html`<div class="visually-hidden" role="status" aria-live="polite">${this.store?.announcement ?? ''}</div>`}
      <div
        id="panel"
        class="panel"
        role="dialog"
        aria-labelledby="panel-title"
        tabindex="-1"
        ?hidden=${!this.open}
        @keydown=${this.onKeydown}
      >
        <div class="header">
          <h2 id="panel-title">Notifications</h2>
          <button
            type="button"
            class="close"
            aria-label="Close notifications"
            @click=${this.closeAndFocusBell}
          >
            <span aria-hidden="true">✕</span>
          </button>
        </div>
        <notification-panel .store=${this.store} ?announce=${this.open}></notification-panel>
      </div>
    `;
  }

  private onKeydown(event: KeyboardEvent): void {
    if (event.key !== 'Escape' || !this.open) return;
    event.stopPropagation();
    this.closeAndFocusBell();
  }

  private closeAndFocusBell(): void {
    this.toggle(false);
    this.renderRoot.querySelector<HTMLElement>('.bell')?.focus();
  }

  /** A click elsewhere on the page closes the popover (focus stays where the user clicked). */
  private readonly onDocumentClick = (event: MouseEvent) => {
    if (this.open && !event.composedPath().includes(this)) this.toggle(false);
  };

  private replaceStore(store: NotificationStore | null): void {
    if (this.store) {
      this.store.stop();
      for (const type of STORE_EVENTS) this.store.removeEventListener(type, this.refire);
    }
    this.store = store;
    if (store) {
      for (const type of STORE_EVENTS) store.addEventListener(type, this.refire);
      store.start();
    }
  }

  private readonly refire = (event: Event) => {
    this.dispatchEvent(
      new CustomEvent(event.type, { detail: (event as CustomEvent).detail, bubbles: true, composed: true }),
    );
  };

  static override styles = [
    theme,
    css`
      :host {
        position: relative;
        display: inline-block;
      }
      .bell {
        position: relative;
        display: inline-flex;
        align-items: center;
        justify-content: center;
        width: 2.75rem;
        height: 2.75rem;
        padding: 0;
        border: none;
        border-radius: 50%;
        background: transparent;
        color: inherit;
      }
      .bell svg {
        fill: currentColor;
      }
      .bell .badge {
        position: absolute;
        top: 0.1rem;
        right: 0.1rem;
      }
      .panel {
        position: absolute;
        top: calc(100% + 0.25rem);
        right: 0;
        z-index: var(--nc-z-index, 1000);
        box-sizing: border-box;
        width: min(var(--nc-panel-width, 24rem), calc(100vw - 1rem));
        max-height: var(--nc-panel-height, 70vh);
        overflow-y: auto;
        padding: 0.5rem 0.75rem;
        background: var(--nc-surface, #ffffff);
        border: 1px solid var(--nc-border, #d1d5db);
        border-radius: var(--nc-radius, 8px);
        box-shadow: 0 8px 24px rgb(0 0 0 / 0.15);
        text-align: left;
      }
      /* Focus lands on the dialog itself so it is announced; it is no control, so no ring. */
      .panel:focus {
        outline: none;
      }
      .header {
        display: flex;
        align-items: center;
        justify-content: space-between;
      }
      h2 {
        font-size: 1.125rem;
        margin: 0.25rem 0;
      }
      .close {
        border: none;
        color: var(--nc-text, #1f2937);
        font-size: 1.1rem;
        line-height: 1;
        padding: 0.5rem;
      }
      /* A phone: the panel takes the whole screen. */
      @media (max-width: 480px) {
        .panel {
          position: fixed;
          inset: 0;
          width: 100%;
          max-height: none;
          border: none;
          border-radius: 0;
        }
      }
    `,
  ];
}
defineElement('notification-bell', NotificationBell);

declare global {
  interface HTMLElementTagNameMap {
    'notification-bell': NotificationBell;
  }
}

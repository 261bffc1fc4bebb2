import { LitElement, css, html, nothing } from 'lit';
import { defineElement } from './define-element';
import type { FeedItem } from './feed-types';
import { fullTime, relativeTime, unreadLabel } from './labels';
import type { NotificationStore } from './notification-store';
import { safeHref } from './safe-link';
import { StoreSubscription } from './store-subscription';
import { theme } from './theme';

/** Relative times ("5 minutes ago") are redrawn this often. */
const CLOCK_MS = 60_000;

/** The feed: newest first, mark one or all read, load older pages, and the stream's state. */
export class NotificationList extends LitElement {
  static override properties = { store: { attribute: false } };
  declare store: NotificationStore | null;
  private clock: ReturnType<typeof setInterval> | undefined;

  constructor() {
    super();
    this.store = null;
    new StoreSubscription(this);
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this.clock = setInterval(() => this.requestUpdate(), CLOCK_MS);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearInterval(this.clock);
  }

  override render() {
    const store = this.store;
    if (!store) return nothing;
    if (store.stream === 'expired') {
      return html`<p class="notice" role="alert">
        Your session has expired. Sign in again to see your notifications.
      </p>`;
    }
    return html`
      <div class="toolbar">
        <span class="muted">${unreadLabel(store.unreadCount)}</span>
        <button type="button" ?disabled=${store.unreadCount === 0} @click=${() => store.markAllRead()}>
          Mark all as read
        </button>
      </div>
      ${store.error ? html`<p class="notice" role="alert">${store.error}</p>` : nothing}
      ${store.stream === 'reconnecting' ? html`<p class="muted status">Reconnecting for live updates…</p>` : nothing}
      ${!store.loaded && store.loading ? html`<p class="muted status">Loading…</p>` : nothing}
      ${store.loaded && store.items.length === 0 ? html`<p class="muted status">No notifications yet.</p>` : nothing}
      <ul aria-label="Notifications">
        ${store.items.map((item) => this.renderItem(item))}
      </ul>
      ${
        store.hasMore
          ? html`<div class="more">
              <button type="button" ?disabled=${store.loading} @click=${() => store.loadMore()}>
                Load more
              </button>
            </div>`
          : nothing
      }
    `;
  }

  private renderItem(item: FeedItem) {
    const href = safeHref(item.actionUrl, this.store?.linkBase);
    const title = item.title ?? 'Notification';
    return html`
      <li class=${item.read ? 'item' : 'item unread'} id=${`item-${item.id}`} tabindex="-1">
        <span class="marker" aria-hidden="true"></span>
        <div class="content">
          <p class="title">
            ${item.read ? nothing : html`<span class="visually-hidden">Unread: </span>`}<strong
              >${title}</strong
            >
          </p>
          ${item.body ? html`<p class="body">${item.body}</p>` : nothing}
          <p class="meta muted">
            <time datetime=${item.createdAt} title=${fullTime(item.createdAt)}
              >${relativeTime(item.createdAt)}</time
            >
          </p>
          <div class="actions">
            ${href ? html`<a href=${href} rel="noopener">${item.actionText ?? 'Open'}</a>` : nothing}
            ${
              item.read
                ? nothing
                : html`<button
                    type="button"
                    aria-label=${`Mark as read: ${title}`}
                    @click=${() => this.markRead(item)}
                  >
                    Mark as read
                  </button>`
            }
          </div>
        </div>
      </li>
    `;
  }

  /** The button disappears once read: keep keyboard focus on its item instead of losing it. */
  private async markRead(item: FeedItem): Promise<void> {
    const done = this.store?.markRead(item.id);
    await this.updateComplete;
    this.renderRoot.querySelector<HTMLElement>(`#item-${CSS.escape(item.id)}`)?.focus();
    await done;
  }

  static override styles = [
    theme,
    css`
      :host {
        display: block;
      }
      .toolbar {
        display: flex;
        align-items: center;
        justify-content: space-between;
        gap: 0.5rem;
        padding: 0.5rem 0;
      }
      ul {
        list-style: none;
        margin: 0;
        padding: 0;
      }
      .item {
        display: flex;
        gap: 0.5rem;
        padding: 0.75rem 0.5rem;
        border-top: 1px solid var(--nc-border, #d1d5db);
      }
      .item.unread {
        background: var(--nc-unread-surface, #eff6ff);
      }
      .marker {
        flex: none;
        width: 0.5rem;
        height: 0.5rem;
        margin-top: 0.45rem;
        border-radius: 50%;
      }
      .unread .marker {
        background: var(--nc-accent, #1d4ed8);
      }
      .content {
        flex: 1;
        min-width: 0;
      }
      p {
        margin: 0 0 0.25rem;
        overflow-wrap: anywhere;
      }
      .meta {
        font-size: 0.875rem;
      }
      .actions {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 0.75rem;
      }
      .notice {
        padding: 0.5rem;
        border-left: 3px solid var(--nc-badge, #b91c1c);
      }
      .status {
        padding: 0.5rem 0;
      }
      .more {
        padding: 0.75rem 0;
        text-align: center;
      }
    `,
  ];
}
defineElement('notification-list', NotificationList);

declare global {
  interface HTMLElementTagNameMap {
    'notification-list': NotificationList;
  }
}

import { LitElement, css, html, nothing } from 'lit';
import { ApiClient, type Session } from '../shared/api-client';
import { unreadLabel } from '../widget/labels';
import '../widget/notification-panel';
import { NotificationStore } from '../widget/notification-store';
import { StoreSubscription } from '../widget/store-subscription';
import { theme } from '../widget/theme';
import './sign-in-view';

/**
 * /inbox/: the shopper's notification center full-page, on the session cookie. The same panel as the
 * widget's popover; a sign-in view while signed out (GET /api/session is 401).
 */
export class InboxApp extends LitElement {
  static override properties = {
    session: { state: true },
    checked: { state: true },
    notice: { state: true },
  };
  declare session: Session | null;
  /** GET /api/session answered (until then nothing is shown). */
  declare checked: boolean;
  declare notice: string;
  store: NotificationStore | null = null;
  private readonly client = new ApiClient();

  constructor() {
    super();
    this.session = null;
    this.checked = false;
    this.notice = '';
    new StoreSubscription(this);
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.checkSession();
  }

  /** Enters the signed-in view when the cookie session is still valid. */
  private async checkSession(): Promise<void> {
    try {
      this.enter(await this.client.session());
    } catch (err) {
      this.notice = `The notification service does not answer: ${err instanceof Error ? err.message : String(err)}`;
    }
    this.checked = true;
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.store?.stop();
  }

  private enter(session: Session | null): void {
    this.store?.stop();
    this.store = null;
    if (session && session.kind !== 'user') {
      this.notice = 'This session was opened with an API key; the notification center needs a shopper token.';
      session = null;
    }
    this.session = session;
    if (!session) return;
    this.notice = '';
    this.store = new NotificationStore(this.client, shopUrl());
    this.store.addEventListener('session-expired', () => {
      this.notice = 'Your session has expired. Sign in again.';
      this.enter(null);
    });
    this.store.start();
  }

  private async signOut(): Promise<void> {
    try {
      await this.client.signOut();
    } finally {
      this.notice = 'You are signed out.';
      this.enter(null);
    }
  }

  override render() {
    if (!this.checked) return nothing;
    if (!this.session || !this.store) {
      return html`<inbox-sign-in
        .client=${this.client}
        .notice=${this.notice}
        @signed-in=${(e: CustomEvent<Session>) => this.enter(e.detail)}
      ></inbox-sign-in>`;
    }
    return html`
      <header>
        <div>
          <h1>Your notifications</h1>
          <p class="muted">Signed in as ${this.session.subject} · ${unreadLabel(this.store.unreadCount)}</p>
        </div>
        <button type="button" @click=${this.signOut}>Sign out</button>
      </header>
      <main>
        <notification-panel .store=${this.store}></notification-panel>
      </main>
    `;
  }

  static override styles = [
    theme,
    css`
      :host {
        display: block;
        max-width: 48rem;
        margin: 0 auto;
        padding: 1rem;
      }
      header {
        display: flex;
        flex-wrap: wrap;
        align-items: flex-start;
        justify-content: space-between;
        gap: 0.5rem;
      }
      h1 {
        font-size: 1.5rem;
        margin: 0 0 0.25rem;
      }
      header p {
        margin: 0 0 1rem;
      }
    `,
  ];
}
customElements.define('inbox-app', InboxApp);

/** The shop's URL, which the API writes into the page from SHOP_URL: action links are the shop's. */
function shopUrl(): string | null {
  return document.querySelector<HTMLMetaElement>('meta[name="shop-url"]')?.content || null;
}

import { LitElement, css, html, nothing } from 'lit';
import type { DevUser } from '../../src/api/contract-types';
import { HttpError, type ApiClient, type Session } from '../shared/api-client';
import { theme } from '../widget/theme';

/**
 * Signing in to /inbox/: paste a shopper JWT (POST /api/session), or under `npm run dev` pick a demo
 * user (POST /api/dev/session). Fires `signed-in` with the Session as detail.
 */
export class InboxSignIn extends LitElement {
  static override properties = {
    client: { attribute: false },
    notice: { type: String },
    devUsers: { state: true },
    error: { state: true },
    busy: { state: true },
  };
  declare client: ApiClient | null;
  /** Why the shopper is here again (e.g. the session expired). */
  declare notice: string;
  declare devUsers: DevUser[];
  declare error: string;
  declare busy: boolean;

  constructor() {
    super();
    this.client = null;
    this.notice = '';
    this.devUsers = [];
    this.error = '';
    this.busy = false;
  }

  override firstUpdated(): void {
    void this.loadDevUsers();
  }

  /** Only answers 200 in dev mode; anything else means there are no demo users to offer. */
  private async loadDevUsers(): Promise<void> {
    try {
      this.devUsers = (await this.client!.get<{ items: DevUser[] }>('/api/dev/users')).items;
    } catch {
      this.devUsers = [];
    }
  }

  override render() {
    return html`
      <main>
        <h1>Sign in to your notifications</h1>
        ${this.notice ? html`<p class="notice">${this.notice}</p>` : nothing}
        <form @submit=${this.signInWithToken}>
          <label for="token">Access token (JWT)</label>
          <textarea
            id="token"
            name="token"
            rows="5"
            required
            spellcheck="false"
            autocomplete="off"
            aria-describedby="token-hint"
          ></textarea>
          <p id="token-hint" class="muted">The token your shop signed you in with.</p>
          <button class="primary" type="submit" ?disabled=${this.busy}>Sign in</button>
        </form>
        ${
          this.devUsers.length
            ? html`<section aria-labelledby="demo-title">
                <h2 id="demo-title">Demo users</h2>
                <p class="muted">Development mode: sign in as one of the demo recipients.</p>
                <ul>
                  ${this.devUsers.map(
                    (user) =>
                      html`<li>
                        <button
                          type="button"
                          ?disabled=${this.busy}
                          @click=${() => this.signInAsDevUser(user.id)}
                        >
                          Sign in as ${user.name}
                        </button>
                        <span class="muted">${user.id}</span>
                      </li>`,
                  )}
                </ul>
              </section>`
            : nothing
        }
        <p role="alert" class="error">${this.error}</p>
      </main>
    `;
  }

  private async signInWithToken(event: Event): Promise<void> {
    event.preventDefault();
    const token = (this.renderRoot.querySelector('textarea') as HTMLTextAreaElement).value.trim();
    await this.attempt(() => this.client!.signIn({ token }));
  }

  private async signInAsDevUser(userId: string): Promise<void> {
    // The dev route opens the session; GET /api/session then hands the client its CSRF token.
    await this.attempt(async () => {
      await this.client!.post('/api/dev/session', { userId });
      const session = await this.client!.session();
      if (!session) throw new Error('the demo session did not open');
      return session;
    });
  }

  private async attempt(signIn: () => Promise<Session>): Promise<void> {
    this.busy = true;
    this.error = '';
    try {
      const session = await signIn();
      this.dispatchEvent(new CustomEvent('signed-in', { detail: session }));
    } catch (err) {
      this.error = `Sign-in failed: ${err instanceof HttpError || err instanceof Error ? err.message : String(err)}`;
    } finally {
      this.busy = false;
    }
  }

  static override styles = [
    theme,
    css`
      :host {
        display: block;
      }
      main {
        max-width: 36rem;
        margin: 2rem auto;
        padding: 0 1rem;
      }
      form {
        display: flex;
        flex-direction: column;
        gap: 0.5rem;
        align-items: flex-start;
      }
      textarea {
        box-sizing: border-box;
        width: 100%;
        font:
          0.875rem ui-monospace,
          monospace;
      }
      ul {
        list-style: none;
        padding: 0;
        display: flex;
        flex-direction: column;
        gap: 0.5rem;
      }
      .error {
        color: var(--nc-badge, #b91c1c);
      }
      .notice {
        padding: 0.5rem;
        border-left: 3px solid var(--nc-accent, #1d4ed8);
      }
      p {
        margin: 0;
      }
    `,
  ];
}
customElements.define('inbox-sign-in', InboxSignIn);

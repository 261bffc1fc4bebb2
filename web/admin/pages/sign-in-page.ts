import { html } from 'lit';
import type { Session } from '../../shared/api-client';
import { api } from '../admin-api';
import { LightElement } from '../components/light-element';
import { alertRegion, errorText, statusRegion } from '../components/live-regions';

type Credential = 'adminKey' | 'token';

/** Opens an operator session with an admin API key or an admin JWT; fires `signed-in` with the session. */
export class SignInPage extends LightElement {
  static override properties = {
    notice: {},
    credential: { state: true },
    error: { state: true },
    busy: { state: true },
  };
  /** Why the form shows (e.g. the session ended). */
  declare notice: string;
  declare credential: Credential;
  declare error: string;
  declare busy: boolean;

  constructor() {
    super();
    this.notice = '';
    this.credential = 'adminKey';
    this.error = '';
    this.busy = false;
  }

  override render() {
    const label = this.credential === 'adminKey' ? 'Admin API key' : 'Admin token (JWT)';
    return html`
      <main id="main" class="sign-in">
        <h1>Notifications admin</h1>
        <form @submit=${this.submit} novalidate>
          ${this.notice ? html`<p>${this.notice}</p>` : ''}
          <fieldset>
            <legend>Sign in with</legend>
            ${this.choice('adminKey', 'API key')} ${this.choice('token', 'Token (JWT)')}
          </fieldset>
          <label for="credential">${label}</label>
          <input id="credential" name="credential" type="password" autocomplete="current-password" required />
          <button type="submit" ?disabled=${this.busy}>Sign in</button>
          ${statusRegion(this.busy ? 'Signing in…' : '')} ${alertRegion(this.error)}
        </form>
      </main>
    `;
  }

  private choice(value: Credential, text: string) {
    return html`<label class="inline"
      ><input
        type="radio"
        name="kind"
        .value=${value}
        .checked=${this.credential === value}
        @change=${() => (this.credential = value)}
      />
      ${text}</label
    >`;
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const input = this.querySelector<HTMLInputElement>('#credential')!;
    const secret = input.value.trim();
    if (!secret) {
      this.error = 'Enter the credential first.';
      input.focus();
      return;
    }
    this.busy = true;
    this.error = '';
    try {
      const session: Session = await api.signIn(
        this.credential === 'adminKey' ? { adminKey: secret } : { token: secret },
      );
      if (!session.admin) {
        // A shopper's token opens a session too, but not one for this dashboard.
        await api.signOut().catch(() => undefined);
        throw new Error('This credential has no operator rights.');
      }
      input.value = '';
      this.dispatchEvent(new CustomEvent<Session>('signed-in', { detail: session, bubbles: true }));
    } catch (err) {
      this.error = errorText(err);
      input.focus();
    } finally {
      this.busy = false;
    }
  }
}
customElements.define('sign-in-page', SignInPage);

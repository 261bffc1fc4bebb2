import { html, type TemplateResult } from 'lit';
import type { Session } from '../shared/api-client';
import { api, SESSION_ENDED_EVENT } from './admin-api';
import { LightElement } from './components/light-element';
import { alertRegion, errorText, statusRegion } from './components/live-regions';
import { currentRoute, PAGES, routeHref, type Route } from './router';
import './pages/sign-in-page';
import './pages/overview-page';
import './pages/templates-page';
import './pages/trace-page';
import './pages/campaigns-page';
import './pages/experiments-page';
import './pages/analytics-page';
import './pages/failed-jobs-page';
import './pages/recipients-page';

/**
 * The dashboard shell: checks the cookie session, shows the sign-in form until an operator session
 * exists, then the navigation and the page the hash names (one element per page, so leaving a page
 * disconnects it and stops its timers).
 */
export class AdminApp extends LightElement {
  static override properties = {
    session: { state: true },
    checked: { state: true },
    route: { state: true },
    notice: { state: true },
    error: { state: true },
  };
  declare session: Session | null;
  declare checked: boolean;
  declare route: Route;
  declare notice: string;
  declare error: string;

  constructor() {
    super();
    this.session = null;
    this.checked = false;
    this.route = currentRoute();
    this.notice = '';
    this.error = '';
  }

  override connectedCallback(): void {
    super.connectedCallback();
    window.addEventListener('hashchange', this.onHashChange);
    window.addEventListener(SESSION_ENDED_EVENT, this.onSessionEnded);
    void this.checkSession();
  }

  override disconnectedCallback(): void {
    window.removeEventListener('hashchange', this.onHashChange);
    window.removeEventListener(SESSION_ENDED_EVENT, this.onSessionEnded);
    super.disconnectedCallback();
  }

  private readonly onHashChange = (): void => {
    const previous = this.route.page;
    this.route = currentRoute();
    // A new page: its heading takes focus, so screen readers announce where the link led.
    if (this.route.page !== previous)
      void this.updateComplete.then(() => this.querySelector<HTMLElement>('#main h1')?.focus());
  };

  private readonly onSessionEnded = (): void => {
    if (!this.session) return;
    this.session = null;
    this.notice = 'Your session ended. Sign in again.';
  };

  private async checkSession(): Promise<void> {
    try {
      const session = await api.session();
      this.session = session?.admin ? session : null;
      if (session && !session.admin)
        this.notice = 'This browser is signed in without operator rights. Sign in as an operator.';
    } catch (err) {
      this.error = errorText(err);
    } finally {
      this.checked = true;
    }
  }

  private signedIn(event: CustomEvent<Session>): void {
    this.session = event.detail;
    this.notice = '';
  }

  private async signOut(): Promise<void> {
    try {
      await api.signOut();
      this.session = null;
      this.notice = 'Signed out.';
    } catch (err) {
      this.error = errorText(err);
    }
  }

  override render() {
    if (!this.checked)
      return html`<main id="main" class="sign-in">
        ${statusRegion('Checking your session…')}${alertRegion(this.error)}
      </main>`;
    if (!this.session)
      return html`<sign-in-page .notice=${this.notice} @signed-in=${this.signedIn}></sign-in-page>`;
    return html`
      <a class="skip-link" href="#main" @click=${this.skipToMain}>Skip to content</a>
      <div class="layout">
        <header class="top">
          <p class="brand">Notifications admin</p>
          <nav aria-label="Dashboard">
            <ul>
              ${PAGES.map(
                (p) =>
                  html`<li>
                    <a href=${routeHref(p.name)} aria-current=${this.route.page === p.name ? 'page' : 'false'}
                      >${p.label}</a
                    >
                  </li>`,
              )}
            </ul>
          </nav>
          <div class="account">
            <p>Signed in as <strong>${this.session.subject}</strong></p>
            <button type="button" class="secondary" @click=${this.signOut}>Sign out</button>
            ${alertRegion(this.error)}
          </div>
        </header>
        <main id="main">${this.page()}</main>
      </div>
    `;
  }

  private skipToMain(event: Event): void {
    // The hash is the router's: move focus without changing it.
    event.preventDefault();
    this.querySelector<HTMLElement>('#main h1')?.focus();
  }

  private page(): TemplateResult {
    const params = this.route.params;
    switch (this.route.page) {
      case 'overview':
        return html`<overview-page></overview-page>`;
      case 'templates':
        return html`<templates-page .params=${params}></templates-page>`;
      case 'trace':
        return html`<trace-page .params=${params}></trace-page>`;
      case 'campaigns':
        return html`<campaigns-page></campaigns-page>`;
      case 'experiments':
        return html`<experiments-page .params=${params}></experiments-page>`;
      case 'analytics':
        return html`<analytics-page></analytics-page>`;
      case 'failed':
        return html`<failed-jobs-page .params=${params}></failed-jobs-page>`;
      case 'recipients':
        return html`<recipients-page .params=${params}></recipients-page>`;
    }
  }
}
customElements.define('admin-app', AdminApp);

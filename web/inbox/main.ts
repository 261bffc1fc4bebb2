import { LitElement, html } from 'lit';
import '../widget/notification-center';

class InboxApp extends LitElement {
  override render() {
    return html`<main><h1>Your notifications</h1></main>`;
  }
}
customElements.define('inbox-app', InboxApp);

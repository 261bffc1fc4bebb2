import { LitElement, html } from 'lit';

/** Placeholder: the bell arrives with the notification center. */
class NotificationBell extends LitElement {
  override render() {
    return html`<button type="button" aria-label="Notifications">🔔</button>`;
  }
}
if (!customElements.get('notification-bell')) customElements.define('notification-bell', NotificationBell);

import 'uplot/dist/uPlot.min.css';
import { LitElement, html } from 'lit';

/** Placeholder shell; the pages arrive with the dashboard. */
class AdminApp extends LitElement {
  override render() {
    return html`<main><h1>Notifications admin</h1></main>`;
  }
}
customElements.define('admin-app', AdminApp);

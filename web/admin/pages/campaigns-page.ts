import { html, nothing } from 'lit';
import { api, formatTime, type Campaign, type CampaignDetail } from '../admin-api';
import '../components/campaign-form';
import { dataTable } from '../components/data-table';
import { LightElement } from '../components/light-element';
import { alertRegion, errorText, statusRegion } from '../components/live-regions';
import { Poller } from '../components/poller';

const REFRESH_MS = 3000;
const LIVE_STATES = new Set(['scheduled', 'running']);

/** Started and targeted recipients: the workflow's live progress while it runs, else the stored row. */
function progressOf(c: Campaign, detail: CampaignDetail | undefined): { started: number; targeted: number } {
  const live = detail?.progress;
  return live
    ? { started: live.started, targeted: live.targeted }
    : { started: detail?.started ?? c.started, targeted: detail?.targeted ?? c.targeted };
}

/** Campaigns newest first with live progress (polled while any is scheduled or running), creation and cancel. */
export class CampaignsPage extends LightElement {
  static override properties = {
    campaigns: { state: true },
    details: { state: true },
    loadError: { state: true },
    actionError: { state: true },
    status: { state: true },
  };
  declare campaigns: Campaign[];
  /** Live detail of the campaigns still scheduled or running, by id. */
  declare details: Map<string, CampaignDetail>;
  /** The last refresh's failure; the next good refresh clears it. */
  declare loadError: string;
  /** The last action's failure: kept until the next action, not cleared by a refresh. */
  declare actionError: string;
  declare status: string;
  private readonly poller: Poller;

  constructor() {
    super();
    this.campaigns = [];
    this.details = new Map();
    this.loadError = '';
    this.actionError = '';
    this.status = '';
    this.poller = new Poller(this, REFRESH_MS, () => this.load());
  }

  private async load(): Promise<void> {
    try {
      const { items } = await api.get<{ items: Campaign[] }>('/api/campaigns?limit=50');
      const live = items.filter((c) => LIVE_STATES.has(c.state));
      const details = await Promise.all(live.map((c) => api.get<CampaignDetail>(`/api/campaigns/${c.id}`)));
      // The detail is read after the list: its state is the newer one.
      const byId = new Map(details.map((d) => [d.id, d]));
      this.campaigns = items.map((c) => byId.get(c.id) ?? c);
      this.details = byId;
      this.loadError = '';
    } catch (err) {
      this.loadError = errorText(err);
    }
  }

  private async cancel(c: Campaign): Promise<void> {
    this.status = `Cancelling ${c.name}…`;
    try {
      const answer = await api.post<CampaignDetail>(`/api/campaigns/${c.id}/cancel`, {});
      this.status = answer.state === 'cancelled' ? `${c.name} cancelled.` : `Cancel of ${c.name} requested.`;
      this.actionError = '';
    } catch (err) {
      this.status = '';
      this.actionError = errorText(err);
    }
    this.poller.refresh();
  }

  private created(): void {
    this.status = 'Campaign created.';
    this.poller.refresh();
  }

  override render() {
    return html`
      <h1 tabindex="-1">Campaigns</h1>
      ${statusRegion(this.status)} ${alertRegion(this.actionError || this.loadError)}
      <section aria-labelledby="campaign-list">
        <h2 id="campaign-list">All campaigns</h2>
        ${
          this.campaigns.length === 0
            ? html`<p>No campaigns yet.</p>`
            : dataTable(
                { labelledBy: 'campaign-list' },
                [
                  { label: 'Name' },
                  { label: 'Template' },
                  { label: 'State' },
                  { label: 'Send at' },
                  { label: 'Progress' },
                  { label: 'Action', hidden: true },
                ],
                this.campaigns.map((c) => this.row(c)),
              )
        }
      </section>
      <campaign-form @campaign-created=${this.created}></campaign-form>
    `;
  }

  private row(c: Campaign) {
    const { started, targeted } = progressOf(c, this.details.get(c.id));
    const done = c.state === 'completed';
    return html`<tr>
      <th scope="row">${c.name}</th>
      <td>${c.templateCode}</td>
      <td><span class=${`state state-${c.state}`}>${c.state}</span></td>
      <td>${formatTime(c.scheduledAt)}</td>
      <td>
        <progress
          max=${done ? Math.max(targeted, 1) : targeted || 1}
          .value=${done ? Math.max(targeted, 1) : started}
          aria-label=${`Progress of ${c.name}`}
        ></progress>
        <span class="muted">${started} of ${targeted} started</span>
      </td>
      <td>
        ${
          LIVE_STATES.has(c.state)
            ? html`<button type="button" class="danger" @click=${() => this.cancel(c)}>
                Cancel<span class="visually-hidden"> ${c.name}</span>
              </button>`
            : nothing
        }
      </td>
    </tr>`;
  }
}
customElements.define('campaigns-page', CampaignsPage);

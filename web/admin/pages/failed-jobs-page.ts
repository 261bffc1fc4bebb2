import { html, nothing, type PropertyValues } from 'lit';
import { CHANNELS } from '../../../src/domain/channels';
import { api, bullBoardUrl, formatTime, query, type FailedJob } from '../admin-api';
import { dataTable } from '../components/data-table';
import { LightElement } from '../components/light-element';
import { alertRegion, errorText, statusRegion } from '../components/live-regions';
import { navigate, routeHref } from '../router';

/** Send jobs that used up their retries (or were refused for good), per channel, with retry. */
export class FailedJobsPage extends LightElement {
  static override properties = {
    params: { attribute: false },
    jobs: { state: true },
    status: { state: true },
    error: { state: true },
    busy: { state: true },
    resetAttempts: { state: true },
  };
  declare params: URLSearchParams;
  declare jobs: FailedJob[] | null;
  declare status: string;
  declare error: string;
  declare busy: boolean;
  /** Retried jobs get the channel's full retry budget again instead of one more attempt. */
  declare resetAttempts: boolean;

  constructor() {
    super();
    this.params = new URLSearchParams();
    this.jobs = null;
    this.status = '';
    this.error = '';
    this.busy = false;
    this.resetAttempts = false;
  }

  private get channel(): string {
    return this.params.get('channel') ?? '';
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('params')) void this.load();
  }

  private async load(): Promise<void> {
    try {
      const { items } = await api.get<{ items: FailedJob[] }>(
        `/api/admin/failed-jobs${query({ channel: this.channel })}`,
      );
      this.jobs = items;
      this.error = '';
    } catch (err) {
      this.jobs = [];
      this.error = errorText(err);
    }
  }

  /** One job (jobId) or every failed job of a channel. */
  private async retry(channel: string, jobId?: string): Promise<void> {
    this.busy = true;
    this.status = jobId ? `Retrying ${jobId}…` : `Retrying every failed ${channel} job…`;
    try {
      const answer = await api.post<{ retried: FailedJob[] }>('/api/admin/failed-jobs/retry', {
        channel,
        ...(jobId ? { jobId } : {}),
        resetAttempts: this.resetAttempts,
      });
      const count = answer.retried.length;
      this.status = `${count} job${count === 1 ? '' : 's'} moved back to the queue.`;
      this.error = '';
    } catch (err) {
      this.status = '';
      this.error = errorText(err);
    } finally {
      this.busy = false;
    }
    await this.load();
  }

  override render() {
    const jobs = this.jobs ?? [];
    return html`
      <h1 tabindex="-1">Failed jobs</h1>
      <div class="toolbar">
        <label for="failed-channel">Channel</label>
        <select
          id="failed-channel"
          @change=${(e: Event) => navigate('failed', { channel: (e.target as HTMLSelectElement).value })}
        >
          <option value="" ?selected=${!this.channel}>All channels</option>
          ${CHANNELS.map((c) => html`<option value=${c} ?selected=${c === this.channel}>${c}</option>`)}
        </select>
        <button type="button" class="secondary" @click=${() => this.load()}>Refresh</button>
        <label class="inline"
          ><input
            type="checkbox"
            .checked=${this.resetAttempts}
            @change=${(e: Event) => (this.resetAttempts = (e.target as HTMLInputElement).checked)}
          />
          Retry with the full retry budget</label
        >
        ${
          this.channel
            ? html`<button
                  type="button"
                  ?disabled=${this.busy || jobs.length === 0}
                  @click=${() => this.retry(this.channel)}
                >
                  Retry all failed ${this.channel} jobs
                </button>
                <a href=${bullBoardUrl(this.channel)}>send-${this.channel} in bull-board</a>`
            : nothing
        }
      </div>
      ${statusRegion(this.jobs === null ? 'Loading…' : this.status || `${jobs.length} failed job${jobs.length === 1 ? '' : 's'}.`)}
      ${alertRegion(this.error)}
      ${
        jobs.length
          ? dataTable(
              { label: 'Failed jobs' },
              [
                { label: 'Job' },
                { label: 'Channel' },
                { label: 'Notification' },
                { label: 'Attempts', num: true },
                { label: 'Reason' },
                { label: 'Failed at' },
                { label: 'Action', hidden: true },
              ],
              jobs.map(
                (j) =>
                  html`<tr>
                    <th scope="row"><a href=${bullBoardUrl(j.channel, j.jobId)}>${j.jobId}</a></th>
                    <td>${j.channel}</td>
                    <td>
                      <a href=${routeHref('trace', { q: j.notificationId, id: j.notificationId })}
                        >Trace<span class="visually-hidden"> of ${j.notificationId}</span></a
                      >
                    </td>
                    <td class="num">${j.attemptsMade}</td>
                    <td class="error-text">${j.failedReason}</td>
                    <td>${formatTime(j.failedAt)}</td>
                    <td>
                      <button
                        type="button"
                        ?disabled=${this.busy}
                        @click=${() => this.retry(j.channel, j.jobId)}
                      >
                        Retry<span class="visually-hidden"> ${j.jobId}</span>
                      </button>
                    </td>
                  </tr>`,
              ),
            )
          : nothing
      }
    `;
  }
}
customElements.define('failed-jobs-page', FailedJobsPage);

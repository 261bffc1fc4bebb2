/**
 * The dashboard's side of the HTTP API (docs/contracts.md#browser-surfaces): one cookie-session client
 * and the shapes of the routes the pages read. A 401 on any call but the session's own means the
 * session ended (expired, signed out elsewhere): the app then shows the sign-in form again.
 */
import { ApiClient, HttpError } from '../shared/api-client';

export const SESSION_ENDED_EVENT = 'admin-session-ended';

class AdminClient extends ApiClient {
  override async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    try {
      return await super.request<T>(method, path, body);
    } catch (err) {
      if (err instanceof HttpError && err.status === 401 && path !== '/api/session')
        window.dispatchEvent(new Event(SESSION_ENDED_EVENT));
      throw err;
    }
  }
}

export const api = new AdminClient();

/** Query string from the defined, non-empty values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params))
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

// The answers' shapes: one source with the server's response schemas (src/api/contract-types.ts).
export type {
  AnalyticsGroupView as AnalyticsGroup,
  AnalyticsView as Analytics,
  EngagementCounts,
  ExperimentDetailView as ExperimentDetail,
  ExperimentView as Experiment,
  VariantResultView as VariantResult,
  CampaignDetailView as CampaignDetail,
  CampaignView as Campaign,
  FailedJob,
  Overview,
  OverviewMinute,
  PreferencesView as Preferences,
  QueueCounts,
  RecipientSummary,
  SearchHit,
  StuckKind,
  StuckSample,
  StuckWork,
  TemplatePreviewView as TemplatePreview,
  TemplateView as Template,
  Trace,
} from '../../src/api/contract-types';

/** bull-board's page of a channel's queue (src/api/routes/admin-queues.ts), optionally one job. */
export function bullBoardUrl(channel: string, jobId?: string): string {
  const queue = `/admin/queues/queue/send-${encodeURIComponent(channel)}`;
  return jobId ? `${queue}/${encodeURIComponent(jobId)}` : queue;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/**
 * Rolls engagement up now (POST /api/admin/analytics/rollup), so the analytics and experiment results need
 * not wait for the workers' next round; answers the sentence the pages show.
 */
export async function rollUpEngagementNow(): Promise<string> {
  const { rows } = await api.post<{ rows: number }>('/api/admin/analytics/rollup', {});
  return `Counted ${rows} new engagement ${rows === 1 ? 'event' : 'events'}.`;
}

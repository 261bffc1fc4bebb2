/**
 * The dashboard's side of the HTTP API (docs/contracts.md#browser-surfaces): one cookie-session client
 * and the shapes of the routes the pages read. A 401 on any call but the session's own means the
 * session ended (expired, signed out elsewhere): the app then shows the sign-in form again.
 */
import { ApiClient, HttpError } from '../shared/api-client';
import type { Channel } from '../../src/domain/channels';

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

export interface Template {
  id: string;
  code: string;
  channel: Channel;
  locale: string;
  version: number;
  category: string;
  fields: Record<string, string>;
  createdAt: string;
}

export interface TemplatePreview {
  version: number | null;
  rendered: Record<string, string>;
}

export interface QueueCounts {
  channel: Channel;
  /** BullMQ queue name, e.g. send-email */
  queue: string;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
  paused: number;
}

export interface OverviewMinute {
  /** Start of the minute (ISO 8601). */
  at: string;
  events: number;
  delivered: number;
  failed: number;
}

export interface RecentFailure {
  notificationId: string;
  eventId: string;
  recipientId: string;
  channel: Channel;
  error: string | null;
  at: string;
}

export type StuckKind = 'past_deadline' | 'queued_without_job' | 'workflow_without_timer';

/** One piece of stuck work (docs/contracts.md, "Stuck work"). */
export interface StuckSample {
  kind: StuckKind;
  workflowId: string;
  eventId?: string;
  notificationId?: string;
  channel?: Channel;
  /** The deadline, the row's last change, or the workflow's start. */
  at: string;
}

/** The latest stuck-work scan; a count is null when its part could not be read. */
export interface StuckWork {
  scannedAt: string;
  pastDeadline: number | null;
  queuedWithoutJob: number | null;
  workflowsWithoutTimer: number | null;
  expired: number | null;
  truncated: { rows: boolean; workflows: boolean };
  samples: StuckSample[];
  errors: { part: string; message: string }[];
}

/** GET /api/admin/overview */
export interface Overview {
  from: string;
  to: string;
  /** Every minute of the window, oldest first. */
  perMinute: OverviewMinute[];
  totals: { events: number; delivered: number; failed: number };
  queues: QueueCounts[];
  recentFailures: RecentFailure[];
  /** null when no scan could run. */
  stuck: StuckWork | null;
}

/** GET /api/admin/search items */
export interface SearchHit {
  /** The notification id. */
  id: string;
  workflowId: string;
  eventId: string;
  eventType: string | null;
  recipientId: string;
  state: string;
  channels: Channel[];
  templateCode: string;
  createdAt: string;
}

export interface FailedJob {
  channel: Channel;
  jobId: string;
  notificationId: string;
  attemptsMade: number;
  failedReason: string;
  failedAt: string | null;
}

/** GET /api/admin/recipients items */
export interface RecipientSummary {
  id: string;
  name: string | null;
  email: string | null;
  phone: string | null;
  timezone: string;
  locale: string;
  muted: boolean;
  createdAt: string;
}

export interface Preferences {
  muted: boolean;
  quietHours: { start: string; end: string; timezone: string } | null;
  /** category -> channel -> enabled */
  channels: Record<string, Record<string, boolean>>;
  /** category -> channels that cannot be switched off */
  mandatory: Record<string, string[]>;
}

export type CampaignState = 'scheduled' | 'running' | 'completed' | 'cancelled';

export interface Campaign {
  id: string;
  name: string;
  templateCode: string;
  segment: { roles?: string[]; userIds?: string[] };
  channels: Channel[] | null;
  priority: string;
  scheduledAt: string;
  state: CampaignState;
  targeted: number;
  started: number;
  workflowId: string;
  createdAt: string;
}

export interface CampaignDetail extends Campaign {
  workflow: { status: string } | null;
  progress: { state: CampaignState; targeted: number; started: number; cancelReason?: string } | null;
  notifications: Record<string, number>;
}

export interface TraceEntry {
  at: string;
  source: 'temporal' | 'postgres' | 'bullmq';
  kind: string;
  summary: string;
  workflowId?: string;
  channel?: string;
}

export interface Trace {
  notificationId: string | null;
  workflowId: string;
  notification: Record<string, unknown> | null;
  status: { state: string } | null;
  workflows: {
    role: string;
    workflowId: string;
    runId: string;
    type: string;
    status: string;
    startTime: string;
    closeTime: string | null;
    webUiUrl: string;
  }[];
  channels: Record<
    string,
    {
      status: { state: string; attempts?: number; error?: string | null } | null;
      job: { id: string; state: string; attemptsMade: number; failedReason: string | null } | null;
      attempts: {
        attempt?: unknown;
        status?: unknown;
        provider?: unknown;
        error?: unknown;
        durationMs?: unknown;
        providerMessageId?: unknown;
      }[];
    }
  >;
  timeline: TraceEntry[];
}

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

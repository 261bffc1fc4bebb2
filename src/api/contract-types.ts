/**
 * The answers of the HTTP API as plain TypeScript types: the one source both the server and the browser
 * builds (web/) read. Types only — no zod, no fastify — so web/ imports them with `import type`, which
 * esbuild erases. The server's response schemas are declared with `answerSchema<T>()` (src/api/schemas.ts),
 * which compiles only while a schema's output and its type here are the same: neither can drift alone.
 * Field meanings are described on the schemas (the OpenAPI document at /docs).
 */
import type { Channel } from '../domain/channels';
import type { ChannelStatus, NotificationState, NotificationStatus } from '../domain/notification-status';

export type { ChannelStatus, NotificationStatus };

/** True when A and B are the same type (each assignable to the other). */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

// --- Browser sessions: src/api/routes/session.ts, dev-session.ts ---

/** What GET/POST /api/session answer. */
export interface SessionView {
  kind: 'key' | 'user';
  /** The key's name or the user id (JWT subject). */
  subject: string;
  admin: boolean;
  csrfToken: string;
  expiresAt: string;
}

/** A demo recipient as GET /api/dev/users lists them (dev mode only). */
export interface DevUser {
  id: string;
  name: string;
}

// --- Shoppers: src/api/routes/notification-center.ts, notification-stream.ts, preferences.ts ---

/** One item of GET /api/notifications. */
export interface FeedItemView {
  id: string;
  title: string | null;
  body: string | null;
  actionUrl: string | null;
  actionText: string | null;
  category: string;
  eventType: string | null;
  templateCode: string;
  priority: string;
  createdAt: string;
  deliveredAt: string;
  readAt: string | null;
  read: boolean;
}

/** GET /api/notifications */
export interface FeedPageView {
  items: FeedItemView[];
  nextCursor: string | null;
}

/** What `event: notification` of /api/notifications/stream carries. */
export type LiveNotification = Pick<
  FeedItemView,
  'id' | 'title' | 'body' | 'actionUrl' | 'actionText' | 'createdAt'
>;

export interface QuietHoursView {
  start: string;
  end: string;
  timezone: string;
}

/** GET /api/me/preferences, and a recipient's preferences on the dashboard. */
export interface PreferencesView {
  muted: boolean;
  quietHours: QuietHoursView | null;
  /** category -> channel -> enabled */
  channels: Record<string, Record<string, boolean>>;
  /** category -> channels that cannot be switched off */
  mandatory: Record<string, string[]>;
  /** category -> opt-in, for the categories that need one (docs/consent.md) */
  consent: Record<string, { granted: boolean; at: string | null; source: string | null }>;
  /** newest consent changes first: opt-ins, opt-outs, unsubscribes by link or SMS STOP */
  consentHistory: ConsentEventView[];
}

export interface ConsentEventView {
  action: 'opt-in' | 'opt-out' | 'unsubscribe' | 'resubscribe';
  category: string;
  channel: 'in_app' | 'email' | 'sms' | 'push' | 'webhook' | null;
  source: string;
  notificationId: string | null;
  at: string;
}

// --- Operators: templates and campaigns ---

export interface TemplateView {
  id: string;
  code: string;
  channel: string;
  locale: string;
  version: number;
  category: string;
  fields: Record<string, string>;
  createdAt: string;
}

/** POST /api/templates/{code}/preview */
export interface TemplatePreviewView {
  code: string;
  channel: string;
  locale: string;
  version: number | null;
  rendered: Record<string, string>;
}

/** CAMPAIGN_STATES of src/domain/campaign.ts (that module's zod stays out of the browser build). */
export type CampaignState = 'scheduled' | 'running' | 'completed' | 'cancelled';

/** The campaignWorkflow's progress as the API shows it. */
export interface CampaignProgressView {
  campaignId: string;
  state: CampaignState;
  scheduledAt: string;
  targeted: number;
  started: number;
  afterUserId: string | null;
  runs: number;
  cancelReason?: string;
}

export interface CampaignView {
  id: string;
  name: string;
  templateCode: string;
  segment: { roles?: string[]; userIds?: string[] };
  variables: Record<string, unknown>;
  channels: string[] | null;
  priority: string;
  scheduledAt: string;
  state: CampaignState;
  targeted: number;
  started: number;
  workflowId: string;
  createdAt: string;
  updatedAt: string;
}

/** GET /api/campaigns/{id} */
export interface CampaignDetailView extends CampaignView {
  workflow: { status: string } | null;
  progress: CampaignProgressView | null;
  notifications: Record<string, number>;
}

// --- Operators: the dashboard's overview, search, failed jobs, recipients ---

export interface OverviewMinute {
  /** Start of the minute (ISO 8601). */
  at: string;
  events: number;
  delivered: number;
  failed: number;
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
  state: NotificationState;
  channels: Channel[];
  templateCode: string;
  createdAt: string;
}

/** GET /api/admin/failed-jobs items */
export interface FailedJob {
  channel: Channel;
  jobId: string;
  notificationId: string;
  workflowId: string | null;
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

// --- Operators: a notification's trace (src/api/routes/trace.ts) ---

export interface TraceEntry {
  at: string;
  source: 'temporal' | 'postgres' | 'bullmq';
  kind: string;
  summary: string;
  workflowId?: string;
  channel?: string;
  detail?: Record<string, unknown>;
}

export interface TraceWorkflow {
  role: 'event' | 'campaign' | 'notification' | 'journey';
  workflowId: string;
  runId: string;
  type: string;
  status: string;
  startTime: string;
  closeTime: string | null;
  webUiUrl: string;
}

export interface TraceJob {
  id: string;
  state: string;
  attemptsMade: number;
  failedReason: string | null;
  addedAt: string;
  processedAt: string | null;
  finishedAt: string | null;
}

export interface TraceChannel {
  status: ChannelStatus | null;
  job: TraceJob | null;
  sendRecord: Record<string, unknown> | null;
  attempts: Record<string, unknown>[];
}

/** GET /api/notifications/{id}/trace */
export interface Trace {
  notificationId: string | null;
  workflowId: string;
  event: Record<string, unknown> | null;
  notification: Record<string, unknown> | null;
  status: NotificationStatus | null;
  workflows: TraceWorkflow[];
  states: { state: string; at: string }[];
  channels: Record<string, TraceChannel>;
  timeline: TraceEntry[];
}

// --- Experiments and analytics: src/api/routes/experiments.ts, analytics.ts (docs/experiments.md, docs/analytics.md) ---

export interface ExperimentVariantView {
  key: string;
  templateVersion: number;
  weight: number;
}

/** One experiment as GET /api/admin/experiments lists it. */
export interface ExperimentView {
  id: string;
  name: string;
  templateCode: string;
  channel: Channel | null;
  campaignId: string | null;
  variants: ExperimentVariantView[];
  metric: 'delivered' | 'opened' | 'clicked' | 'converted';
  windowStart: string | null;
  windowEnd: string | null;
  state: 'draft' | 'running' | 'stopped' | 'promoted';
  winner: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A variant's counts, and its comparison with the control (the first variant). */
export interface VariantResultView {
  key: string;
  templateVersion: number;
  control: boolean;
  sent: number;
  conversions: number;
  rate: number;
  difference: number | null;
  lift: number | null;
  z: number | null;
  pValue: number | null;
  ci95: [number, number] | null;
  sampleSizeNeeded: number | null;
  significant: boolean;
}

export interface ExperimentResultsView {
  metric: ExperimentView['metric'];
  /** When the rollup last ran (counts include engagement up to then). */
  rolledUpAt: string | null;
  variants: VariantResultView[];
  /** The variant with the highest rate (null before any send). */
  leader: string | null;
}

/** GET /api/admin/experiments/{id} */
export interface ExperimentDetailView extends ExperimentView {
  results: ExperimentResultsView;
}

export interface EngagementCounts {
  sent: number;
  delivered: number;
  undelivered: number;
  bounced: number;
  complained: number;
  opened: number;
  clicked: number;
  read: number;
  converted: number;
}

export interface EngagementRates {
  delivered: number | null;
  bounced: number | null;
  opened: number | null;
  clicked: number | null;
  converted: number | null;
}

export interface AnalyticsGroupView {
  key: string;
  totals: EngagementCounts;
  rates: EngagementRates;
  series: ({ bucket: string } & EngagementCounts)[];
}

/** GET /api/admin/analytics */
export interface AnalyticsView {
  from: string;
  to: string;
  groupBy: 'template' | 'campaign' | 'channel' | 'variant';
  bucket: 'hour' | 'day' | null;
  rolledUpAt: string | null;
  groups: AnalyticsGroupView[];
}

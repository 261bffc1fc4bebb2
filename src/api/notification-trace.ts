import { Campaign, type DeliveryAttempt, type Notification, type SendRecord } from '../db/entities';
import type { SendQueues } from '../delivery/send-queues';
import { CHANNELS, sendJobId, type Channel } from '../domain/channels';
import { isWaitingState } from '../domain/notification-lifecycle';
import type { NotificationState, NotificationStatus } from '../domain/notification-status';
import { CAMPAIGN_EVENT_TYPE } from '../domain/workflow-ids';
import { release0Subject } from '../release-0/notification-trace';
import { isLeanRow } from '../release-0/notification-owner';
import type { TraceJob } from './contract-types';
import type { NotificationRef } from './notification-lookup';
import { describeOrNull, statusFromRow } from './notification-status';
import { campaignView, readCampaignHistories } from './trace-campaign';
import { linkOrderJourney } from './trace-journey';
import {
  closedEntry,
  decode,
  eventTime,
  fetchHistory,
  firstInput,
  signalEntry,
  timerEntry,
  workflowView,
  type EntryFn,
  type History,
  type HistoryEvent,
  type TraceEntry,
  type TraceLog,
  type TraceSources,
  type TraceSubject,
  type TraceWorkflow,
} from './trace-history';
import { consentTraceEntries } from './trace-consent';
import { engagementTraceEntries } from './trace-engagement';

export type { TraceEntry, TraceSources, TraceWorkflow } from './trace-history';

export type { TraceJob };

export interface TraceChannel {
  status: NonNullable<NotificationStatus['channels'][Channel]> | null;
  /** Null once BullMQ removed the finished job (retention) or before the hand-off. */
  job: TraceJob | null;
  sendRecord: {
    status: string;
    providerMessageId: string | null;
    claimedAt: string | null;
    sentAt: string | null;
  } | null;
  attempts: {
    attempt: number;
    status: string;
    provider: string;
    providerMessageId: string | null;
    error: string | null;
    startedAt: string;
    finishedAt: string;
    durationMs: number;
  }[];
}

export interface NotificationTrace {
  notificationId: string | null;
  /** The workflow that owns the notification (its event's or campaign's; release 0: its own). */
  workflowId: string;
  event: Record<string, unknown> | null;
  notification: Record<string, unknown> | null;
  status: NotificationStatus | null;
  workflows: TraceWorkflow[];
  states: { state: string; at: string }[];
  channels: Partial<Record<Channel, TraceChannel>>;
  timeline: TraceEntry[];
}

const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

/**
 * One notification's story in one answer: the business event (or campaign), the workflows that
 * handled it (with Web UI links), each state change, each channel's BullMQ job, send record and
 * delivery attempts, merged into a timeline ordered by time.
 *
 * Lean notifications are owned by their event or campaign workflow and live in Postgres: channel
 * status comes from `channel_states`, states from the event workflow's step markers and the row.
 * Release-0 notifications are read from their own workflow (src/release-0/notification-trace.ts).
 */
export async function buildNotificationTrace(
  ref: NotificationRef,
  sources: TraceSources,
): Promise<NotificationTrace> {
  const log: TraceLog = { timeline: [], workflows: [], observed: [] };
  const stored =
    ref.notification ?? (ref.description ? await sources.repository.findByWorkflowId(ref.workflowId) : null);
  const subject = isLeanRow(stored) ? leanSubject(stored) : await release0Subject(ref, stored, sources, log);
  const owner = await readOwner(subject, sources, log);
  const notification = subject.notification;
  await linkOrderJourney(notification?.data ?? owner.event?.data, sources, log.workflows);
  const channels = notification
    ? await readDeliveries(notification, subject, owner, sources, log)
    : channelsOfStatus(subject.status);
  log.timeline.sort((a, b) => a.at.localeCompare(b.at));
  return {
    notificationId: notification?.id ?? subject.status?.notificationId ?? null,
    workflowId: subject.workflowId,
    event: owner.event ?? subject.event,
    notification: notification ? notificationView(notification) : null,
    status: subject.status,
    workflows: log.workflows,
    states: stateChanges(log.observed),
    channels,
    timeline: log.timeline,
  };
}

/** A lean notification: its row says it all, its event or campaign workflow owns it. */
function leanSubject(row: Notification): TraceSubject {
  return {
    notification: row,
    status: statusFromRow(row),
    workflowId: row.workflowId,
    ownerId: row.workflowId,
    eventId: row.eventId,
    userId: row.recipientId,
    childWorkflowId: '',
    event: null,
    lean: true,
  };
}

/** What the owning workflow tells: the event (or campaign) and, for a campaign, its quiet-hours dispatches. */
interface OwnerFacts {
  event: Record<string, unknown> | null;
  campaign: boolean;
  dispatches: string[];
}

/** The owning workflow (event-<id>, followup-..., campaign-<id>, or a release-0 parent) and its history. */
async function readOwner(subject: TraceSubject, sources: TraceSources, log: TraceLog): Promise<OwnerFacts> {
  const { ownerId, notification } = subject;
  const description = ownerId ? await describeOrNull(sources.temporal, ownerId) : null;
  const campaign =
    description?.type === 'campaignWorkflow' || notification?.eventType === CAMPAIGN_EVENT_TYPE;
  if (!ownerId || !description) return { event: null, campaign, dispatches: [] };
  log.workflows.unshift(workflowView(campaign ? 'campaign' : 'event', description, sources));
  if (campaign) {
    const row = await sources.em.findOne(Campaign, { id: ownerId.replace(/^campaign-/, '') });
    const event = row ? campaignView(row, subject.eventId ?? null) : null;
    const dispatches = await readCampaignHistories(sources.temporal, description, notification, log.timeline);
    return { event, campaign, dispatches };
  }
  const history = await fetchHistory(sources.temporal, ownerId, description.runId);
  readEventHistory(history, ownerId, subject, log);
  return { event: (firstInput(history) as Record<string, unknown> | null) ?? null, campaign, dispatches: [] };
}

/** The stored notification and its deliveries: each channel's job, send record and attempts. */
async function readDeliveries(
  notification: Notification,
  subject: TraceSubject,
  owner: OwnerFacts,
  sources: TraceSources,
  log: TraceLog,
): Promise<Partial<Record<Channel, TraceChannel>>> {
  readNotificationRow(notification, log.timeline);
  const [attempts, sendRecords, consentEntries, engagementEntries] = await Promise.all([
    sources.repository.deliveryAttempts(notification.id),
    sources.repository.sendRecords(notification.id),
    consentTraceEntries(sources.em, notification.id),
    engagementTraceEntries(sources.em, notification.id),
  ]);
  log.timeline.push(...consentEntries, ...engagementEntries);
  const used = new Set<Channel>([
    ...notification.channels,
    ...(Object.keys(subject.status?.channels ?? {}) as Channel[]),
    ...attempts.map((a) => a.channel),
    ...sendRecords.map((r) => r.channel),
  ]);
  const channels: Partial<Record<Channel, TraceChannel>> = {};
  for (const channel of CHANNELS.filter((c) => used.has(c))) {
    channels[channel] = await channelView(
      channel,
      notification.id,
      subject.status,
      attempts,
      sendRecords,
      sources.queues,
      log.timeline,
    );
  }
  if (subject.lean) {
    leanStates(notification, {
      campaign: owner.campaign,
      dispatches: owner.dispatches,
      handedOffAt: firstOf([
        ...Object.values(channels).map((c) => c?.job?.addedAt),
        ...attempts.map((a) => a.startedAt.toISOString()),
      ]),
      settledAt: lastOf(attempts.map((a) => a.finishedAt.toISOString())),
      observed: log.observed,
    });
  }
  return channels;
}

/** Without a stored notification: the channels its status names, nothing delivered yet. */
function channelsOfStatus(status: NotificationStatus | null): Partial<Record<Channel, TraceChannel>> {
  const channels: Partial<Record<Channel, TraceChannel>> = {};
  for (const [channel, channelStatus] of Object.entries(status?.channels ?? {})) {
    channels[channel as Channel] = {
      status: channelStatus ?? null,
      job: null,
      sendRecord: null,
      attempts: [],
    };
  }
  return channels;
}

/**
 * The state changes of a lean notification that the event history does not show: for campaigns
 * (whose bulk activities report counts, not recipients) the first state is derived from the row, its
 * hand-off and the campaign's quiet-hours dispatches; the last state is the row's.
 */
function leanStates(
  n: Notification,
  facts: {
    campaign: boolean;
    dispatches: string[];
    handedOffAt: string | null;
    settledAt: string | null;
    observed: { state: string; at: string }[];
  },
): void {
  const created = n.createdAt.toISOString();
  if (facts.campaign) {
    // Campaign notifications are never scheduled (no delay): they go out at once or wait for quiet hours.
    const rendered = Object.keys(n.channelStates ?? {}).length > 0;
    const dispatchedAt = facts.handedOffAt
      ? lastOf(facts.dispatches.filter((d) => d > created && d <= facts.handedOffAt!))
      : null;
    if (!rendered || dispatchedAt) {
      facts.observed.push({ state: 'waiting_quiet_hours', at: created });
      if (dispatchedAt)
        facts.observed.push({ state: n.state === 'suppressed' ? 'suppressed' : 'sending', at: dispatchedAt });
    } else {
      facts.observed.push({ state: n.state === 'suppressed' ? 'suppressed' : 'sending', at: created });
    }
  } else if (!facts.observed.some((o) => o.at <= created)) {
    // Before the first step marker: the state the row was stored in is the first one any step reported.
    const first = [...facts.observed].sort((a, b) => a.at.localeCompare(b.at))[0];
    if (first) facts.observed.push({ state: first.state, at: created });
  }
  const settled = !isWaitingState(n.state) && n.state !== 'sending';
  const at =
    settled && n.state !== 'cancelled' && facts.settledAt ? facts.settledAt : n.updatedAt.toISOString();
  facts.observed.push({ state: n.state, at });
}

/** Observations in time order, each change once. */
function stateChanges(observed: { state: string; at: string }[]): { state: string; at: string }[] {
  const out: { state: string; at: string }[] = [];
  for (const o of [...observed].sort((a, b) => a.at.localeCompare(b.at))) {
    if (out[out.length - 1]?.state !== o.state) out.push(o);
  }
  return out;
}

interface RecipientStep {
  userId: string;
  state: NotificationState;
  notificationId?: string;
  sendAt?: string;
  error?: string;
  channels?: unknown;
}

/**
 * The event workflow's history. Its steps are local activities, recorded as `MarkerRecorded` events
 * whose details hold the step (`data`: activity type) and its result (`result`): each step that
 * reports this recipient adds its state (lean notifications only). Steps about other recipients only
 * (further pages) are left out. Release-0 event workflows start a child per recipient instead: that
 * child is named.
 */
function readEventHistory(history: History, workflowId: string, subject: TraceSubject, log: TraceLog): void {
  const activities = new Map<string, string>();
  const entry: EntryFn = (at, kind, summary, detail) =>
    log.timeline.push({ at, source: 'temporal', kind, summary, workflowId, ...(detail ? { detail } : {}) });
  const userId = subject.userId ?? null;
  const states = subject.lean ? log.observed : null;
  let workflowTime = '';
  for (const event of history.events ?? []) {
    const at = eventTime(event);
    if (event.workflowTaskStartedEventAttributes) workflowTime = at;
    if (event.markerRecordedEventAttributes?.markerName === LOCAL_ACTIVITY_MARKER) {
      stepEntry(event, at, userId, entry, states);
    } else if (event.timerStartedEventAttributes) {
      timerEntry(event, at, workflowTime, entry);
    } else if (!eventActivityEntry(event, at, activities, entry)) {
      eventLifeEntry(event, at, subject.childWorkflowId, entry);
    }
  }
}

/** A step (local activity marker) that reports this recipient, or no recipient at all. */
function stepEntry(
  event: HistoryEvent,
  at: string,
  userId: string | null,
  entry: EntryFn,
  states: { state: string; at: string }[] | null,
): void {
  const marker = event.markerRecordedEventAttributes!;
  const data = decode(marker.details?.data?.payloads?.[0]) as
    { activity_type?: string; activityType?: string; attempt?: number } | undefined;
  const step = data?.activity_type ?? data?.activityType ?? 'local activity';
  if (marker.failure) {
    entry(at, 'step.failed', `${step} failed: ${marker.failure.message ?? ''}`);
    return;
  }
  const recipients = recipientsOf(decode(marker.details?.result?.payloads?.[0]));
  const mine = recipients?.find((r) => r.userId === userId);
  if (recipients && recipients.length > 0 && !mine) return;
  entry(
    at,
    'step',
    mine
      ? `${step}: ${mine.state}${mine.sendAt ? ` until ${mine.sendAt}` : ''}${mine.error ? ` (${mine.error})` : ''}`
      : step,
    {
      step,
      ...(data?.attempt && data.attempt > 1 ? { attempt: data.attempt } : {}),
      ...(mine ? { recipient: mine } : {}),
    },
  );
  if (mine && states) states.push({ state: mine.state, at });
}

/** Activities of a (release-0) event workflow: scheduled and completed; true when `event` was one. */
function eventActivityEntry(
  event: HistoryEvent,
  at: string,
  activities: Map<string, string>,
  entry: EntryFn,
): boolean {
  if (event.activityTaskScheduledEventAttributes) {
    const name = event.activityTaskScheduledEventAttributes.activityType?.name ?? 'activity';
    activities.set(String(event.eventId), name);
    entry(at, 'activity.scheduled', `${name} scheduled`);
    return true;
  }
  if (event.activityTaskCompletedEventAttributes) {
    entry(
      at,
      'activity.completed',
      `${activities.get(String(event.activityTaskCompletedEventAttributes.scheduledEventId)) ?? 'activity'} completed`,
    );
    return true;
  }
  return false;
}

/** Start, timer fired, signals, updates, children and the close of an event workflow. */
function eventLifeEntry(event: HistoryEvent, at: string, childWorkflowId: string, entry: EntryFn): void {
  if (event.workflowExecutionStartedEventAttributes) {
    entry(at, 'workflow.started', 'event workflow started');
  } else if (event.timerFiredEventAttributes) {
    entry(at, 'timer.fired', 'wait over');
  } else if (event.workflowExecutionSignaledEventAttributes) {
    signalEntry(event, at, entry);
  } else if (event.workflowExecutionUpdateAcceptedEventAttributes) {
    const input = event.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest?.input;
    entry(at, 'update', `update ${input?.name ?? ''}`, {
      name: input?.name,
      input: decode(input?.args?.payloads?.[0]),
    });
  } else if (event.startChildWorkflowExecutionInitiatedEventAttributes) {
    const child = event.startChildWorkflowExecutionInitiatedEventAttributes.workflowId ?? '';
    // A release-0 event starts one child per recipient: only this one's; follow-ups are named too.
    if (child === childWorkflowId || child.startsWith('followup-'))
      entry(at, 'child.started', `started ${child}`);
  } else if (event.workflowExecutionCompletedEventAttributes) {
    entry(at, 'workflow.completed', 'event workflow completed');
  } else {
    closedEntry(event, at, 'event workflow', entry);
  }
}

/** The recipients a step reports: openEvent, admitRecipients, dispatchDue, reconcileEvent ({ recipients }), controlRecipients ([...]). */
function recipientsOf(result: unknown): RecipientStep[] | null {
  const list = Array.isArray(result)
    ? result
    : (result as { recipients?: unknown } | null | undefined)?.recipients;
  return Array.isArray(list)
    ? (list.filter((r) => r && typeof r === 'object' && typeof r.userId === 'string') as RecipientStep[])
    : null;
}

function readNotificationRow(n: Notification, timeline: TraceEntry[]): void {
  const entry = (at: Date, kind: string, summary: string, channel?: Channel) =>
    timeline.push({
      at: at.toISOString(),
      source: 'postgres',
      kind,
      summary,
      ...(channel ? { channel } : {}),
    });
  entry(
    n.createdAt,
    'notification.stored',
    `notification stored: ${n.state} (template ${n.templateCode}, channels ${n.channels.join(', ') || 'none yet'})`,
  );
  if (n.deliveredAt)
    entry(n.deliveredAt, 'notification.delivered', 'visible in the notification center', 'in_app');
  if (n.readAt) entry(n.readAt, 'notification.read', 'read by the recipient', 'in_app');
}

async function channelView(
  channel: Channel,
  notificationId: string,
  status: NotificationStatus | null,
  attempts: DeliveryAttempt[],
  sendRecords: SendRecord[],
  queues: SendQueues,
  timeline: TraceEntry[],
): Promise<TraceChannel> {
  const job = await jobView(channel, notificationId, queues, timeline);
  const mine = attempts.filter((a) => a.channel === channel);
  for (const a of mine) {
    timeline.push({
      at: a.finishedAt.toISOString(),
      source: 'postgres',
      kind: 'attempt',
      summary: `attempt ${a.attempt} via ${a.provider}: ${a.status}${a.error ? ` (${a.error})` : ''}`,
      channel,
      detail: { durationMs: a.durationMs, providerMessageId: a.providerMessageId },
    });
  }
  const record = sendRecords.find((r) => r.channel === channel);
  return {
    status: status?.channels[channel] ?? null,
    job,
    sendRecord: record
      ? {
          status: record.status,
          providerMessageId: record.providerMessageId,
          claimedAt: record.claimedAt?.toISOString() ?? null,
          sentAt: record.sentAt?.toISOString() ?? null,
        }
      : null,
    attempts: mine.map((a) => ({
      attempt: a.attempt,
      status: a.status,
      provider: a.provider,
      providerMessageId: a.providerMessageId,
      error: a.error,
      startedAt: a.startedAt.toISOString(),
      finishedAt: a.finishedAt.toISOString(),
      durationMs: a.durationMs,
    })),
  };
}

/** The channel's BullMQ job and its timeline entries; null once BullMQ removed it or before the hand-off. */
async function jobView(
  channel: Channel,
  notificationId: string,
  queues: SendQueues,
  timeline: TraceEntry[],
): Promise<TraceJob | null> {
  const jobId = sendJobId(notificationId, channel);
  const found = await queues.queue(channel).getJob(jobId);
  if (!found) return null;
  const job: TraceJob = {
    id: jobId,
    state: await found.getState(),
    attemptsMade: found.attemptsMade,
    failedReason: found.failedReason ?? null,
    addedAt: new Date(found.timestamp).toISOString(),
    processedAt: found.processedOn ? new Date(found.processedOn).toISOString() : null,
    finishedAt: found.finishedOn ? new Date(found.finishedOn).toISOString() : null,
  };
  const entry = (at: string, kind: string, summary: string) =>
    timeline.push({ at, source: 'bullmq', kind, summary, channel, detail: { jobId } });
  entry(job.addedAt, 'job.added', `job added to send-${channel}`);
  if (job.processedAt)
    entry(job.processedAt, 'job.processing', `job picked up (attempt ${Math.max(job.attemptsMade, 1)})`);
  if (job.finishedAt)
    entry(
      job.finishedAt,
      `job.${job.state}`,
      `job ${job.state}${job.failedReason ? `: ${job.failedReason}` : ''}`,
    );
  return job;
}

function notificationView(n: Notification): Record<string, unknown> {
  return {
    id: n.id,
    eventId: n.eventId,
    eventType: n.eventType,
    recipientId: n.recipientId,
    templateCode: n.templateCode,
    templateVersions: n.templateVersions,
    category: n.category,
    priority: n.priority,
    state: n.state,
    channels: n.channels,
    workflowId: n.workflowId,
    lifecycle: n.lifecycle,
    sendAt: n.sendAt ? new Date(n.sendAt).toISOString() : null,
    title: n.title,
    body: n.body,
    error: n.error,
    createdAt: n.createdAt.toISOString(),
    updatedAt: n.updatedAt.toISOString(),
    deliveredAt: n.deliveredAt?.toISOString() ?? null,
    readAt: n.readAt?.toISOString() ?? null,
  };
}

function firstOf(times: (string | null | undefined)[]): string | null {
  const present = times.filter((t): t is string => !!t).sort();
  return present[0] ?? null;
}

function lastOf(times: (string | null | undefined)[]): string | null {
  const present = times.filter((t): t is string => !!t).sort();
  return present[present.length - 1] ?? null;
}

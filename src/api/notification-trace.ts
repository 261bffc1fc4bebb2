import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client, WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { NotificationClient } from '../client/notification-client';
import { Campaign, type DeliveryAttempt, type Notification, type SendRecord } from '../db/entities';
import type { NotificationRepository } from '../db/repositories/notification-repository';
import type { SendQueues } from '../delivery/send-queues';
import { CHANNELS, sendJobId, type Channel } from '../domain/channels';
import { isWaitingState } from '../domain/notification-lifecycle';
import type { NotificationState, NotificationStatus } from '../domain/notification-status';
import { CAMPAIGN_EVENT_TYPE, eventWorkflowId, notificationWorkflowId } from '../domain/workflow-ids';
import {
  describeOrNull,
  notificationStatus,
  statusFromRow,
  type NotificationRef,
} from './notification-lookup';
import { decodeHistoryPayloads } from '../temporal/payload-codec';

export interface TraceEntry {
  at: string;
  source: 'temporal' | 'postgres' | 'bullmq';
  /** e.g. workflow.started, step, state, activity.completed, signal, update, job.added, attempt, notification.read */
  kind: string;
  summary: string;
  workflowId?: string;
  channel?: Channel;
  detail?: Record<string, unknown>;
}

export interface TraceWorkflow {
  /** event: the event (or follow-up) workflow that owns it; campaign: its campaign's; notification: a release-0 notification workflow. */
  role: 'event' | 'campaign' | 'notification';
  workflowId: string;
  runId: string;
  type: string;
  status: string;
  startTime: string;
  closeTime: string | null;
  /** The run's history in the Temporal Web UI. */
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

export interface TraceSources {
  temporal: Client;
  notifications: NotificationClient;
  repository: NotificationRepository;
  /** For the campaign row of a campaign notification. */
  em: EntityManager;
  queues: SendQueues;
  temporalUiUrl: string;
  namespace: string;
}

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

/** Campaign runs walked back through continue-as-new, at most. */
const MAX_CAMPAIGN_RUNS = 50;
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

/**
 * One notification's story in one answer: the business event (or campaign), the workflows that
 * handled it (with Web UI links), each state change, each channel's BullMQ job, send record and
 * delivery attempts, merged into a timeline ordered by time.
 *
 * Lean notifications (lifecycle 2) are owned by their event or campaign workflow and live in
 * Postgres: channel status comes from `channel_states`, states from the event workflow's step markers
 * and the row. Release-0 notifications (lifecycle 1) are read from their own workflow as before.
 */
export async function buildNotificationTrace(
  ref: NotificationRef,
  sources: TraceSources,
): Promise<NotificationTrace> {
  const timeline: TraceEntry[] = [];
  const workflows: TraceWorkflow[] = [];
  const observed: { state: string; at: string }[] = [];

  let notification =
    ref.notification ?? (ref.description ? await sources.repository.findByWorkflowId(ref.workflowId) : null);
  const lean = notification?.lifecycle === 2;

  // Release 0: the notification's own workflow (its id is the ref's, or the row's).
  let status: NotificationStatus | null = null;
  let request: Record<string, unknown> | null = null;
  let releaseZeroDescription: WorkflowExecutionDescription | null = null;
  if (!lean) {
    const workflowId = notification?.workflowId ?? ref.workflowId;
    releaseZeroDescription =
      ref.description?.workflowId === workflowId
        ? ref.description
        : await describeOrNull(sources.temporal, workflowId);
    if (releaseZeroDescription?.type === 'notificationWorkflow') {
      workflows.push(workflowView('notification', releaseZeroDescription, sources));
      const history = await decodeHistoryPayloads(
        await sources.temporal.workflow.getHandle(workflowId, releaseZeroDescription.runId).fetchHistory(),
        sources.temporal,
      );
      request = (firstInput(history) as Record<string, unknown> | null) ?? null;
      readNotificationHistory(history, workflowId, timeline, observed);
      status = await notificationStatus(
        sources.temporal,
        sources.notifications,
        workflowId,
        notification,
        releaseZeroDescription,
      ).catch(() => null);
      notification ??= status?.notificationId
        ? await sources.repository.findById(status.notificationId)
        : null;
    } else {
      releaseZeroDescription = null;
    }
  }
  if (notification && lean) status = statusFromRow(notification);

  // The owning workflow: the row's (event-<id>, followup-..., campaign-<id>), else the release-0 parent.
  const eventId = notification?.eventId ?? (request?.eventId as string | undefined);
  const ownerId = lean
    ? notification!.workflowId
    : (releaseZeroDescription?.parentExecution?.workflowId ??
      (typeof releaseZeroDescription?.searchAttributes?.NotificationEventId?.[0] === 'string'
        ? eventWorkflowId(releaseZeroDescription.searchAttributes.NotificationEventId[0])
        : eventId
          ? eventWorkflowId(eventId)
          : null));
  const ownerDescription = ownerId ? await describeOrNull(sources.temporal, ownerId) : null;
  let event: Record<string, unknown> | null = null;
  const userId = notification?.recipientId ?? (request?.userId as string | undefined);
  const releaseZeroId =
    releaseZeroDescription?.workflowId ?? (eventId && userId ? notificationWorkflowId(eventId, userId) : '');
  const campaign =
    ownerDescription?.type === 'campaignWorkflow' || notification?.eventType === CAMPAIGN_EVENT_TYPE;
  let dispatches: string[] = [];
  if (ownerId && ownerDescription) {
    workflows.unshift(workflowView(campaign ? 'campaign' : 'event', ownerDescription, sources));
    if (campaign) {
      const campaignId = ownerId.replace(/^campaign-/, '');
      const row = await sources.em.findOne(Campaign, { id: campaignId });
      event = row ? campaignView(row, notification?.eventId ?? eventId ?? null) : null;
      dispatches = await readCampaignHistories(sources.temporal, ownerDescription, notification, timeline);
    } else {
      const history = await decodeHistoryPayloads(
        await sources.temporal.workflow.getHandle(ownerId, ownerDescription.runId).fetchHistory(),
        sources.temporal,
      );
      event = (firstInput(history) as Record<string, unknown> | null) ?? null;
      readEventHistory(history, ownerId, userId ?? null, releaseZeroId, timeline, lean ? observed : null);
    }
  }
  if (!event && request) {
    event = {
      id: request.eventId,
      type: request.eventType,
      templateCode: request.templateCode,
      userId: request.userId,
      data: request.data,
      options: request.options,
    };
  }

  // The stored notification and its deliveries.
  const channels: Partial<Record<Channel, TraceChannel>> = {};
  if (notification) {
    readNotificationRow(notification, timeline);
    const [attempts, sendRecords] = await Promise.all([
      sources.repository.deliveryAttempts(notification.id),
      sources.repository.sendRecords(notification.id),
    ]);
    const used = new Set<Channel>([
      ...notification.channels,
      ...(Object.keys(status?.channels ?? {}) as Channel[]),
      ...attempts.map((a) => a.channel),
      ...sendRecords.map((r) => r.channel),
    ]);
    for (const channel of CHANNELS.filter((c) => used.has(c))) {
      channels[channel] = await channelView(
        channel,
        notification.id,
        status,
        attempts,
        sendRecords,
        sources.queues,
        timeline,
      );
    }
    if (lean) {
      leanStates(notification, {
        campaign,
        dispatches,
        handedOffAt: firstOf([
          ...Object.values(channels).map((c) => c?.job?.addedAt),
          ...attempts.map((a) => a.startedAt.toISOString()),
        ]),
        settledAt: lastOf(attempts.map((a) => a.finishedAt.toISOString())),
        observed,
      });
    }
  } else if (status) {
    for (const [channel, channelStatus] of Object.entries(status.channels)) {
      channels[channel as Channel] = {
        status: channelStatus ?? null,
        job: null,
        sendRecord: null,
        attempts: [],
      };
    }
  }

  timeline.sort((a, b) => a.at.localeCompare(b.at));
  return {
    notificationId: notification?.id ?? status?.notificationId ?? null,
    workflowId: lean ? notification!.workflowId : (releaseZeroDescription?.workflowId ?? ref.workflowId),
    event,
    notification: notification ? notificationView(notification) : null,
    status,
    workflows,
    states: stateChanges(observed),
    channels,
    timeline,
  };
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

function workflowView(
  role: TraceWorkflow['role'],
  d: WorkflowExecutionDescription,
  sources: TraceSources,
): TraceWorkflow {
  return {
    role,
    workflowId: d.workflowId,
    runId: d.runId,
    type: d.type,
    status: d.status.name,
    startTime: d.startTime.toISOString(),
    closeTime: d.closeTime?.toISOString() ?? null,
    webUiUrl: webUiUrl(sources, d.workflowId, d.runId),
  };
}

function webUiUrl(
  sources: Pick<TraceSources, 'temporalUiUrl' | 'namespace'>,
  workflowId: string,
  runId: string,
): string {
  return `${sources.temporalUiUrl}/namespaces/${encodeURIComponent(sources.namespace)}/workflows/${encodeURIComponent(workflowId)}/${runId}/history`;
}

/** A release-0 notification workflow's history (one workflow per recipient). */
function readNotificationHistory(
  history: History,
  workflowId: string,
  timeline: TraceEntry[],
  states: { state: string; at: string }[],
): void {
  const activities = new Map<string, string>();
  const entry = (at: string, kind: string, summary: string, detail?: Record<string, unknown>) =>
    timeline.push({ at, source: 'temporal', kind, summary, workflowId, ...(detail ? { detail } : {}) });
  const state = (at: string, value: string) => {
    states.push({ state: value, at });
    entry(at, 'state', `state: ${value}`);
  };

  let workflowTime = '';
  for (const event of history.events ?? []) {
    const at = eventTime(event);
    if (event.workflowTaskStartedEventAttributes) workflowTime = at;
    if (event.workflowExecutionStartedEventAttributes) {
      entry(at, 'workflow.started', 'notification workflow started');
      state(at, 'scheduled');
    } else if (event.timerStartedEventAttributes) {
      timerEntry(event, at, workflowTime, entry);
    } else if (event.timerFiredEventAttributes) {
      entry(at, 'timer.fired', 'wait over');
    } else if (event.workflowExecutionSignaledEventAttributes) {
      signalEntry(event, at, entry);
    } else if (event.activityTaskScheduledEventAttributes) {
      const name = event.activityTaskScheduledEventAttributes.activityType?.name ?? 'activity';
      activities.set(String(event.eventId), name);
      entry(at, 'activity.scheduled', `${name} scheduled`);
      if (name === 'prepareNotification') state(at, 'sending');
    } else if (event.activityTaskCompletedEventAttributes) {
      const a = event.activityTaskCompletedEventAttributes;
      const name = activities.get(String(a.scheduledEventId)) ?? 'activity';
      const result = decode(a.result?.payloads?.[0]);
      entry(at, 'activity.completed', `${name} completed`, result === undefined ? undefined : { result });
      if (name === 'findQuietHoursEnd' && typeof result === 'string') state(at, 'waiting_quiet_hours');
    } else if (event.activityTaskFailedEventAttributes) {
      const a = event.activityTaskFailedEventAttributes;
      entry(
        at,
        'activity.failed',
        `${activities.get(String(a.scheduledEventId)) ?? 'activity'} failed: ${a.failure?.message ?? ''}`,
      );
    } else if (event.workflowExecutionCompletedEventAttributes) {
      const result = decode(event.workflowExecutionCompletedEventAttributes.result?.payloads?.[0]) as
        NotificationStatus | undefined;
      entry(at, 'workflow.completed', `notification workflow completed: ${result?.state ?? 'unknown'}`);
      if (result?.state) state(at, result.state);
    } else if (event.workflowExecutionFailedEventAttributes) {
      entry(
        at,
        'workflow.failed',
        `notification workflow failed: ${event.workflowExecutionFailedEventAttributes.failure?.message ?? ''}`,
      );
      state(at, 'failed');
    } else if (event.workflowExecutionTerminatedEventAttributes) {
      entry(
        at,
        'workflow.terminated',
        `notification workflow terminated: ${event.workflowExecutionTerminatedEventAttributes.reason ?? ''}`,
      );
      state(at, 'failed');
    } else if (
      event.workflowExecutionCanceledEventAttributes ||
      event.workflowExecutionTimedOutEventAttributes
    ) {
      entry(at, 'workflow.closed', 'notification workflow cancelled or timed out');
      state(at, 'failed');
    }
  }
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
 * reports this recipient adds its state. Steps about other recipients only (further pages) are left out.
 * Release-0 event workflows start a child per recipient instead: that child is named.
 */
function readEventHistory(
  history: History,
  workflowId: string,
  userId: string | null,
  releaseZeroId: string,
  timeline: TraceEntry[],
  states: { state: string; at: string }[] | null,
): void {
  const activities = new Map<string, string>();
  const entry = (at: string, kind: string, summary: string, detail?: Record<string, unknown>) =>
    timeline.push({ at, source: 'temporal', kind, summary, workflowId, ...(detail ? { detail } : {}) });
  let workflowTime = '';
  for (const event of history.events ?? []) {
    const at = eventTime(event);
    if (event.workflowTaskStartedEventAttributes) workflowTime = at;
    if (event.workflowExecutionStartedEventAttributes) {
      entry(at, 'workflow.started', 'event workflow started');
    } else if (event.markerRecordedEventAttributes?.markerName === LOCAL_ACTIVITY_MARKER) {
      const marker = event.markerRecordedEventAttributes;
      const data = decode(marker.details?.data?.payloads?.[0]) as
        { activity_type?: string; activityType?: string; attempt?: number } | undefined;
      const step = data?.activity_type ?? data?.activityType ?? 'local activity';
      if (marker.failure) {
        entry(at, 'step.failed', `${step} failed: ${marker.failure.message ?? ''}`);
        continue;
      }
      const result = decode(marker.details?.result?.payloads?.[0]);
      const recipients = recipientsOf(result);
      const mine = recipients?.find((r) => r.userId === userId);
      if (recipients && recipients.length > 0 && !mine) continue;
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
    } else if (event.timerStartedEventAttributes) {
      timerEntry(event, at, workflowTime, entry);
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
    } else if (event.activityTaskScheduledEventAttributes) {
      const name = event.activityTaskScheduledEventAttributes.activityType?.name ?? 'activity';
      activities.set(String(event.eventId), name);
      entry(at, 'activity.scheduled', `${name} scheduled`);
    } else if (event.activityTaskCompletedEventAttributes) {
      entry(
        at,
        'activity.completed',
        `${activities.get(String(event.activityTaskCompletedEventAttributes.scheduledEventId)) ?? 'activity'} completed`,
      );
    } else if (event.startChildWorkflowExecutionInitiatedEventAttributes) {
      const child = event.startChildWorkflowExecutionInitiatedEventAttributes.workflowId ?? '';
      // A release-0 event starts one child per recipient: only this one's; follow-ups are named too.
      if (child === releaseZeroId || child.startsWith('followup-'))
        entry(at, 'child.started', `started ${child}`);
    } else if (event.workflowExecutionCompletedEventAttributes) {
      entry(at, 'workflow.completed', 'event workflow completed');
    } else if (event.workflowExecutionFailedEventAttributes) {
      entry(
        at,
        'workflow.failed',
        `event workflow failed: ${event.workflowExecutionFailedEventAttributes.failure?.message ?? ''}`,
      );
    } else if (event.workflowExecutionTerminatedEventAttributes) {
      entry(
        at,
        'workflow.terminated',
        `event workflow terminated: ${event.workflowExecutionTerminatedEventAttributes.reason ?? ''}`,
      );
    }
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

/**
 * The campaign's runs (walked back through continue-as-new until the run that stored this
 * notification): starts, signals, timers, the fan-out page that stored this notification (the page
 * running when the row was created) and every quiet-hours dispatch. Returns the dispatch start times.
 */
async function readCampaignHistories(
  temporal: Client,
  latest: WorkflowExecutionDescription,
  n: Notification | null,
  timeline: TraceEntry[],
): Promise<string[]> {
  const workflowId = latest.workflowId;
  const created = n?.createdAt.toISOString() ?? null;
  const dispatches: string[] = [];
  let runId: string | undefined = latest.runId;
  for (let runs = 0; runId && runs < MAX_CAMPAIGN_RUNS; runs++) {
    const history: History = await decodeHistoryPayloads(
      await temporal.workflow.getHandle(workflowId, runId).fetchHistory(),
      temporal,
    );
    const entry = (at: string, kind: string, summary: string, detail?: Record<string, unknown>) =>
      timeline.push({ at, source: 'temporal', kind, summary, workflowId, detail: { runId, ...detail } });
    const scheduled = new Map<string, { name: string; at: string; startedAt?: string }>();
    let previousRun: string | undefined;
    let workflowTime = '';
    for (const event of history.events ?? []) {
      const at = eventTime(event);
      if (event.workflowTaskStartedEventAttributes) workflowTime = at;
      const started = event.workflowExecutionStartedEventAttributes;
      if (started) {
        previousRun = started.continuedExecutionRunId ?? undefined;
        entry(
          at,
          'workflow.started',
          previousRun ? 'campaign workflow continued as new' : 'campaign workflow started',
        );
      } else if (event.activityTaskScheduledEventAttributes) {
        scheduled.set(String(event.eventId), {
          name: event.activityTaskScheduledEventAttributes.activityType?.name ?? 'activity',
          at,
        });
      } else if (event.activityTaskStartedEventAttributes) {
        const s = scheduled.get(String(event.activityTaskStartedEventAttributes.scheduledEventId));
        if (s) s.startedAt = at;
      } else if (event.activityTaskCompletedEventAttributes) {
        const a = event.activityTaskCompletedEventAttributes;
        const s = scheduled.get(String(a.scheduledEventId));
        if (!s) continue;
        const result = decode(a.result?.payloads?.[0]) as Record<string, unknown> | undefined;
        if (s.name === 'fanOutCampaignPage') {
          // The page that stored this notification ran while its row was created.
          if (created && s.at <= created && created <= at) {
            entry(
              s.startedAt ?? s.at,
              'activity.started',
              'fanOutCampaignPage started (the page with this recipient)',
            );
            entry(
              at,
              'activity.completed',
              `fanOutCampaignPage completed: ${String(result?.targeted)} listed, ${String(result?.started)} stored`,
              { result },
            );
          }
        } else if (s.name === 'dispatchCampaignDue') {
          dispatches.push(s.startedAt ?? s.at);
          entry(
            s.startedAt ?? s.at,
            'activity.started',
            'dispatchCampaignDue started (notifications whose quiet hours ended)',
          );
          entry(
            at,
            'activity.completed',
            `dispatchCampaignDue completed: ${String(result?.dispatched)} sent`,
            { result },
          );
        } else if (s.name === 'openCampaign') {
          entry(at, 'activity.completed', 'openCampaign completed');
        }
      } else if (event.activityTaskFailedEventAttributes) {
        const a = event.activityTaskFailedEventAttributes;
        entry(
          at,
          'activity.failed',
          `${scheduled.get(String(a.scheduledEventId))?.name ?? 'activity'} failed: ${a.failure?.message ?? ''}`,
        );
      } else if (event.timerStartedEventAttributes) {
        timerEntry(event, at, workflowTime, entry);
      } else if (event.timerFiredEventAttributes) {
        entry(at, 'timer.fired', 'wait over');
      } else if (event.workflowExecutionSignaledEventAttributes) {
        signalEntry(event, at, entry);
      } else if (event.workflowExecutionContinuedAsNewEventAttributes) {
        entry(at, 'workflow.continued_as_new', 'campaign workflow continued as new');
      } else if (event.workflowExecutionCompletedEventAttributes) {
        const result = decode(event.workflowExecutionCompletedEventAttributes.result?.payloads?.[0]) as
          { state?: string } | undefined;
        entry(at, 'workflow.completed', `campaign workflow completed: ${result?.state ?? 'unknown'}`);
      } else if (event.workflowExecutionFailedEventAttributes) {
        entry(
          at,
          'workflow.failed',
          `campaign workflow failed: ${event.workflowExecutionFailedEventAttributes.failure?.message ?? ''}`,
        );
      } else if (event.workflowExecutionTerminatedEventAttributes) {
        entry(
          at,
          'workflow.terminated',
          `campaign workflow terminated: ${event.workflowExecutionTerminatedEventAttributes.reason ?? ''}`,
        );
      }
    }
    // Earlier runs only matter while this one started after the notification was stored.
    const runStart: string = history.events?.[0] ? eventTime(history.events[0]) : '';
    runId = created && runStart > created ? previousRun : undefined;
  }
  return dispatches.sort();
}

/**
 * A timer's end: the workflow's clock when it started the timer (the workflow task's start) plus its
 * duration, which is the wake-up time the workflow computed.
 */
function timerEntry(
  event: HistoryEvent,
  at: string,
  workflowTime: string,
  entry: (at: string, kind: string, summary: string, detail?: Record<string, unknown>) => void,
): void {
  const ms = durationMs(event.timerStartedEventAttributes!.startToFireTimeout);
  const until = new Date(Date.parse(workflowTime || at) + ms).toISOString();
  entry(at, 'timer.started', `waiting until ${until}`, { durationMs: ms, until });
}

function signalEntry(
  event: HistoryEvent,
  at: string,
  entry: (at: string, kind: string, summary: string, detail?: Record<string, unknown>) => void,
): void {
  const a = event.workflowExecutionSignaledEventAttributes!;
  const input = decode(a.input?.payloads?.[0]);
  const channel = (input as { channel?: Channel } | null)?.channel;
  entry(at, 'signal', `signal ${a.signalName}${channel ? ` (${channel})` : ''}`, {
    name: a.signalName,
    input,
  });
}

function campaignView(c: Campaign, eventId: string | null): Record<string, unknown> {
  return {
    id: eventId,
    type: CAMPAIGN_EVENT_TYPE,
    campaignId: c.id,
    name: c.name,
    templateCode: c.templateCode,
    segment: c.segment,
    data: c.variables,
    channels: c.channels,
    priority: c.priority,
    scheduledAt: c.scheduledAt.toISOString(),
  };
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
  const jobId = sendJobId(notificationId, channel);
  const found = await queues.queue(channel).getJob(jobId);
  let job: TraceJob | null = null;
  if (found) {
    job = {
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
  }
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

function firstInput(history: History): unknown {
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  return decode(started?.input?.payloads?.[0]);
}

function decode(payload: Payload | null | undefined): unknown {
  if (!payload) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(payload);
  } catch {
    return '(undecodable payload)';
  }
}

type Long = { toString(): string } | number | string | null | undefined;

function eventTime(event: HistoryEvent): string {
  const t = event.eventTime;
  return new Date(Number(String(t?.seconds ?? 0)) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6)).toISOString();
}

function durationMs(d: { seconds?: Long; nanos?: number | null } | null | undefined): number {
  return Number(String(d?.seconds ?? 0)) * 1000 + Math.floor((d?.nanos ?? 0) / 1e6);
}

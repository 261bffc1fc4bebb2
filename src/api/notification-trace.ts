import type { Client, WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { NotificationClient } from '../client/notification-client';
import type { DeliveryAttempt, Notification, SendRecord } from '../db/entities';
import type { NotificationRepository } from '../db/repositories/notification-repository';
import type { SendQueues } from '../delivery/send-queues';
import { CHANNELS, sendJobId, type Channel } from '../domain/channels';
import { eventWorkflowId } from '../domain/workflow-ids';
import type { NotificationStatus } from '../domain/notification-status';
import { describeOrNull, notificationStatus, type NotificationRef } from './notification-lookup';

export interface TraceEntry {
  at: string;
  source: 'temporal' | 'postgres' | 'bullmq';
  /** e.g. workflow.started, state, activity.completed, signal, job.added, attempt, notification.read */
  kind: string;
  summary: string;
  workflowId?: string;
  channel?: Channel;
  detail?: Record<string, unknown>;
}

export interface TraceWorkflow {
  role: 'event' | 'notification';
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
  sendRecord: { status: string; providerMessageId: string | null; claimedAt: string | null; sentAt: string | null } | null;
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
  queues: SendQueues;
  temporalUiUrl: string;
  namespace: string;
}

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

/**
 * One notification's story in one answer: the business event, both workflows (with Web UI links),
 * each state change, each channel's BullMQ job, send record and delivery attempts, merged into a
 * timeline ordered by time.
 */
export async function buildNotificationTrace(ref: NotificationRef, sources: TraceSources): Promise<NotificationTrace> {
  const timeline: TraceEntry[] = [];
  const workflows: TraceWorkflow[] = [];
  const states: { state: string; at: string }[] = [];

  const description = ref.description ?? (await describeOrNull(sources.temporal, ref.workflowId));
  let status: NotificationStatus | null = null;
  let request: Record<string, unknown> | null = null;
  if (description) {
    workflows.push(workflowView('notification', description, sources));
    const history = await sources.temporal.workflow.getHandle(ref.workflowId, description.runId).fetchHistory();
    request = (firstInput(history) as Record<string, unknown> | null) ?? null;
    readNotificationHistory(history, ref.workflowId, timeline, states);
    status = await notificationStatus(sources.temporal, sources.notifications, ref.workflowId, ref.notification, description).catch(() => null);
  }

  // The parent business event workflow: from the description, else by the contract's id.
  const eventId = (request?.eventId as string | undefined) ?? ref.notification?.eventId;
  const searchEventId = description?.searchAttributes?.NotificationEventId?.[0];
  const eventWfId = description?.parentExecution?.workflowId ?? (typeof searchEventId === 'string' ? eventWorkflowId(searchEventId) : eventId ? eventWorkflowId(eventId) : null);
  let event: Record<string, unknown> | null = null;
  const eventDescription = eventWfId ? await describeOrNull(sources.temporal, eventWfId) : null;
  if (eventWfId && eventDescription) {
    workflows.unshift(workflowView('event', eventDescription, sources));
    const history = await sources.temporal.workflow.getHandle(eventWfId, eventDescription.runId).fetchHistory();
    event = (firstInput(history) as Record<string, unknown> | null) ?? null;
    readEventHistory(history, eventWfId, ref.workflowId, timeline);
  }
  if (!event && request) {
    event = { id: request.eventId, type: request.eventType, templateCode: request.templateCode, userId: request.userId, data: request.data, options: request.options };
  }

  // The stored notification and its deliveries.
  const notification =
    ref.notification ?? (status?.notificationId ? await sources.repository.findById(status.notificationId) : await sources.repository.findByWorkflowId(ref.workflowId));
  const channels: Partial<Record<Channel, TraceChannel>> = {};
  if (notification) {
    readNotificationRow(notification, timeline);
    const [attempts, sendRecords] = await Promise.all([sources.repository.deliveryAttempts(notification.id), sources.repository.sendRecords(notification.id)]);
    const used = new Set<Channel>([
      ...notification.channels,
      ...(Object.keys(status?.channels ?? {}) as Channel[]),
      ...attempts.map((a) => a.channel),
      ...sendRecords.map((r) => r.channel),
    ]);
    for (const channel of CHANNELS.filter((c) => used.has(c))) {
      channels[channel] = await channelView(channel, notification.id, status, attempts, sendRecords, sources.queues, timeline);
    }
  } else if (status) {
    for (const [channel, channelStatus] of Object.entries(status.channels)) {
      channels[channel as Channel] = { status: channelStatus ?? null, job: null, sendRecord: null, attempts: [] };
    }
  }

  timeline.sort((a, b) => a.at.localeCompare(b.at));
  return {
    notificationId: notification?.id ?? status?.notificationId ?? null,
    workflowId: ref.workflowId,
    event,
    notification: notification ? notificationView(notification) : null,
    status,
    workflows,
    states,
    channels,
    timeline,
  };
}

function workflowView(role: TraceWorkflow['role'], d: WorkflowExecutionDescription, sources: TraceSources): TraceWorkflow {
  return {
    role,
    workflowId: d.workflowId,
    runId: d.runId,
    type: d.type,
    status: d.status.name,
    startTime: d.startTime.toISOString(),
    closeTime: d.closeTime?.toISOString() ?? null,
    webUiUrl: `${sources.temporalUiUrl}/namespaces/${encodeURIComponent(sources.namespace)}/workflows/${encodeURIComponent(d.workflowId)}/${d.runId}/history`,
  };
}

function readNotificationHistory(history: History, workflowId: string, timeline: TraceEntry[], states: { state: string; at: string }[]): void {
  const activities = new Map<string, string>();
  const entry = (at: string, kind: string, summary: string, detail?: Record<string, unknown>) =>
    timeline.push({ at, source: 'temporal', kind, summary, workflowId, ...(detail ? { detail } : {}) });
  const state = (at: string, value: string) => {
    if (states[states.length - 1]?.state !== value) states.push({ state: value, at });
    entry(at, 'state', `state: ${value}`);
  };

  for (const event of history.events ?? []) {
    const at = eventTime(event);
    if (event.workflowExecutionStartedEventAttributes) {
      entry(at, 'workflow.started', 'notification workflow started');
      state(at, 'scheduled');
    } else if (event.timerStartedEventAttributes) {
      const ms = durationMs(event.timerStartedEventAttributes.startToFireTimeout);
      entry(at, 'timer.started', `waiting until ${new Date(Date.parse(at) + ms).toISOString()}`, { durationMs: ms });
    } else if (event.timerFiredEventAttributes) {
      entry(at, 'timer.fired', 'wait over');
    } else if (event.workflowExecutionSignaledEventAttributes) {
      const a = event.workflowExecutionSignaledEventAttributes;
      const input = decode(a.input?.payloads?.[0]);
      const channel = (input as { channel?: Channel } | null)?.channel;
      entry(at, 'signal', `signal ${a.signalName}${channel ? ` (${channel})` : ''}`, { name: a.signalName, input });
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
      entry(at, 'activity.failed', `${activities.get(String(a.scheduledEventId)) ?? 'activity'} failed: ${a.failure?.message ?? ''}`);
    } else if (event.workflowExecutionCompletedEventAttributes) {
      const result = decode(event.workflowExecutionCompletedEventAttributes.result?.payloads?.[0]) as NotificationStatus | undefined;
      entry(at, 'workflow.completed', `notification workflow completed: ${result?.state ?? 'unknown'}`);
      if (result?.state) state(at, result.state);
    } else if (event.workflowExecutionFailedEventAttributes) {
      entry(at, 'workflow.failed', `notification workflow failed: ${event.workflowExecutionFailedEventAttributes.failure?.message ?? ''}`);
      state(at, 'failed');
    } else if (event.workflowExecutionTerminatedEventAttributes) {
      entry(at, 'workflow.terminated', `notification workflow terminated: ${event.workflowExecutionTerminatedEventAttributes.reason ?? ''}`);
      state(at, 'failed');
    } else if (event.workflowExecutionCanceledEventAttributes || event.workflowExecutionTimedOutEventAttributes) {
      entry(at, 'workflow.closed', 'notification workflow cancelled or timed out');
      state(at, 'failed');
    }
  }
}

function readEventHistory(history: History, workflowId: string, notificationWorkflowId: string, timeline: TraceEntry[]): void {
  const entry = (at: string, kind: string, summary: string) => timeline.push({ at, source: 'temporal', kind, summary, workflowId });
  for (const event of history.events ?? []) {
    const at = eventTime(event);
    if (event.workflowExecutionStartedEventAttributes) entry(at, 'workflow.started', 'event workflow started');
    else if (event.activityTaskScheduledEventAttributes) entry(at, 'activity.scheduled', `${event.activityTaskScheduledEventAttributes.activityType?.name ?? 'activity'} scheduled`);
    else if (event.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId === notificationWorkflowId) entry(at, 'child.started', `started ${notificationWorkflowId}`);
    else if (event.workflowExecutionCompletedEventAttributes) entry(at, 'workflow.completed', 'event workflow completed');
    else if (event.workflowExecutionFailedEventAttributes) entry(at, 'workflow.failed', `event workflow failed: ${event.workflowExecutionFailedEventAttributes.failure?.message ?? ''}`);
  }
}

function readNotificationRow(n: Notification, timeline: TraceEntry[]): void {
  const entry = (at: Date, kind: string, summary: string, channel?: Channel) =>
    timeline.push({ at: at.toISOString(), source: 'postgres', kind, summary, ...(channel ? { channel } : {}) });
  entry(n.createdAt, 'notification.stored', `notification stored (template ${n.templateCode}, channels ${n.channels.join(', ') || 'none'})`);
  if (n.deliveredAt) entry(n.deliveredAt, 'notification.delivered', 'visible in the notification center', 'in_app');
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
    const entry = (at: string, kind: string, summary: string) => timeline.push({ at, source: 'bullmq', kind, summary, channel, detail: { jobId } });
    entry(job.addedAt, 'job.added', `job added to send-${channel}`);
    if (job.processedAt) entry(job.processedAt, 'job.processing', `job picked up (attempt ${Math.max(job.attemptsMade, 1)})`);
    if (job.finishedAt) entry(job.finishedAt, `job.${job.state}`, `job ${job.state}${job.failedReason ? `: ${job.failedReason}` : ''}`);
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
      ? { status: record.status, providerMessageId: record.providerMessageId, claimedAt: record.claimedAt?.toISOString() ?? null, sentAt: record.sentAt?.toISOString() ?? null }
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
    title: n.title,
    body: n.body,
    error: n.error,
    createdAt: n.createdAt.toISOString(),
    deliveredAt: n.deliveredAt?.toISOString() ?? null,
    readAt: n.readAt?.toISOString() ?? null,
  };
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

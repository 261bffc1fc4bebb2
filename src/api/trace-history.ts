import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client, WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { NotificationClient } from '../client/notification-client';
import type { Notification } from '../db/entities';
import type { NotificationRepository } from '../db/repositories/notification-repository';
import type { SendQueues } from '../delivery/send-queues';
import type { Channel } from '../domain/channels';
import type { TraceWorkflow } from './contract-types';
import type { NotificationStatus } from '../domain/notification-status';
import { decodeHistoryPayloads } from '../temporal/payload-codec';

/** What a notification trace is built from, and the helpers its history readers share (src/api/notification-trace.ts). */

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

/** A workflow that handled the notification (the answer's type in src/api/contract-types.ts). */
export type { TraceWorkflow };

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

export type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
export type HistoryEvent = NonNullable<History['events']>[number];

/** Adds one timeline entry (source temporal) at `at`. */
export type EntryFn = (at: string, kind: string, summary: string, detail?: Record<string, unknown>) => void;

/** What the readers collect while a trace is built. */
export interface TraceLog {
  timeline: TraceEntry[];
  workflows: TraceWorkflow[];
  /** The notification's states as observed, in any order (stateChanges orders them). */
  observed: { state: string; at: string }[];
}

/**
 * The notification and what is known of it before its owner's history is read: for the lean path
 * from its row, for release 0 from its own workflow (src/release-0/notification-trace.ts).
 */
export interface TraceSubject {
  notification: Notification | null;
  status: NotificationStatus | null;
  /** The workflow that owns the notification (the trace's workflowId). */
  workflowId: string;
  /** The event, follow-up or campaign workflow whose history tells the rest; null when unknown. */
  ownerId: string | null;
  eventId: string | undefined;
  userId: string | undefined;
  /** Release 0: the child workflow the owner started for this recipient (named in its history); else ''. */
  childWorkflowId: string;
  /** The event as the notification's own input tells it, used when the owner's history does not. */
  event: Record<string, unknown> | null;
  /** Lean rows' states come from the owner's steps and the row; release 0's from its own workflow. */
  lean: boolean;
}

/** A run's history with payloads decoded. */
export async function fetchHistory(temporal: Client, workflowId: string, runId: string): Promise<History> {
  return decodeHistoryPayloads(await temporal.workflow.getHandle(workflowId, runId).fetchHistory(), temporal);
}

/** workflow.failed and workflow.terminated entries, named by `label`; true when `event` was one of them. */
export function closedEntry(event: HistoryEvent, at: string, label: string, entry: EntryFn): boolean {
  const failed = event.workflowExecutionFailedEventAttributes;
  if (failed) {
    entry(at, 'workflow.failed', `${label} failed: ${failed.failure?.message ?? ''}`);
    return true;
  }
  const terminated = event.workflowExecutionTerminatedEventAttributes;
  if (terminated) {
    entry(at, 'workflow.terminated', `${label} terminated: ${terminated.reason ?? ''}`);
    return true;
  }
  return false;
}

export function workflowView(
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

export function webUiUrl(
  sources: Pick<TraceSources, 'temporalUiUrl' | 'namespace'>,
  workflowId: string,
  runId: string,
): string {
  return `${sources.temporalUiUrl}/namespaces/${encodeURIComponent(sources.namespace)}/workflows/${encodeURIComponent(workflowId)}/${runId}/history`;
}

/**
 * A timer's end: the workflow's clock when it started the timer (the workflow task's start) plus its
 * duration, which is the wake-up time the workflow computed.
 */
export function timerEntry(event: HistoryEvent, at: string, workflowTime: string, entry: EntryFn): void {
  const ms = durationMs(event.timerStartedEventAttributes!.startToFireTimeout);
  const until = new Date(Date.parse(workflowTime || at) + ms).toISOString();
  entry(at, 'timer.started', `waiting until ${until}`, { durationMs: ms, until });
}

export function signalEntry(event: HistoryEvent, at: string, entry: EntryFn): void {
  const a = event.workflowExecutionSignaledEventAttributes!;
  const input = decode(a.input?.payloads?.[0]);
  const channel = (input as { channel?: Channel } | null)?.channel;
  entry(at, 'signal', `signal ${a.signalName}${channel ? ` (${channel})` : ''}`, {
    name: a.signalName,
    input,
  });
}

export function firstInput(history: History): unknown {
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  return decode(started?.input?.payloads?.[0]);
}

export function decode(payload: Payload | null | undefined): unknown {
  if (!payload) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(payload);
  } catch {
    return '(undecodable payload)';
  }
}

type Long = { toString(): string } | number | string | null | undefined;

export function eventTime(event: HistoryEvent): string {
  const t = event.eventTime;
  return new Date(Number(String(t?.seconds ?? 0)) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6)).toISOString();
}

function durationMs(d: { seconds?: Long; nanos?: number | null } | null | undefined): number {
  return Number(String(d?.seconds ?? 0)) * 1000 + Math.floor((d?.nanos ?? 0) / 1e6);
}

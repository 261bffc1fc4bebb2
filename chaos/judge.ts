import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Channel } from '../src/domain/channels';
import { isFinalState, type NotificationState } from '../src/domain/notification-status';
import { findWorkflowsWithoutTimer, historyOf, openWorkOf } from '../src/operations/open-work';
import type { ChaosEnvironment } from './environment';
import type { Scenario } from './scenarios';
import type { SentWork } from './sends';

/** A notification row as the judge reads it. */
export interface NotificationRow {
  id: string;
  eventId: string;
  recipientId: string;
  state: NotificationState;
  channelStates: Record<string, { state?: string; error?: string; attempts?: number }>;
  error: string | null;
  workflowId: string;
}

export interface ScenarioResult {
  scenario: Scenario;
  /** Notifications sent (one per recipient of an accepted publish). */
  sent: number;
  /** Final states by name (delivered, partially_delivered, failed, cancelled, suppressed, expired, ...). */
  states: Record<string, number>;
  /** Not final when the settle deadline passed (a row never stored counts too). */
  lost: number;
  /** Open workflows of the scenario with neither a timer nor pending work (I2). */
  stuck: string[];
  /** Workflows of the scenario still open at the end (informational: one with a timer is not stuck). */
  open: number;
  /** Deliveries beyond the first at the SMTP peer and the stand-ins, per channel. */
  duplicates: Partial<Record<Channel, number>>;
  /** Duplicates the channel's policy does not allow (sms never; others only after a worker kill mid-send). */
  duplicatesBeyondPolicy: number;
  /** Notifications failed by something other than a provider's answer (the stand-ins always accept): I1. */
  infraFailed: number;
  /** Notifications expired as a whole or on a channel. */
  expired: number;
  verdict: 'pass' | 'FAIL';
  /** Why it failed, and what happened on the way (process exits, fault notes). */
  reasons: string[];
  notes: string[];
  /** Failure details: rows that are not final or failed, history tails of stuck workflows. */
  details: string[];
  /** From the fault's end until every notification was final (or the deadline). */
  settleMs: number;
  elapsedMs: number;
}

/** The scenario's notification rows. */
export async function rowsOf(env: ChaosEnvironment, eventIds: string[]): Promise<NotificationRow[]> {
  if (eventIds.length === 0) return [];
  const rows: Record<string, unknown>[] = await env.orm.em
    .fork()
    .getConnection()
    .execute(
      `select id, event_id, recipient_id, state, channel_states, error, workflow_id from notifications where event_id in (${eventIds.map(() => '?').join(',')})`,
      eventIds,
    );
  return rows.map((r) => ({
    id: r.id as string,
    eventId: r.event_id as string,
    recipientId: r.recipient_id as string,
    state: r.state as NotificationState,
    channelStates: (r.channel_states ?? {}) as NotificationRow['channelStates'],
    error: (r.error as string | null) ?? null,
    workflowId: r.workflow_id as string,
  }));
}

/** Polls Postgres until every sent notification is final, or the deadline; answers the last rows read. */
export async function waitUntilFinal(
  env: ChaosEnvironment,
  work: SentWork,
  expected: number,
  deadline: number,
): Promise<NotificationRow[]> {
  let rows: NotificationRow[] = [];
  for (;;) {
    try {
      rows = await rowsOf(env, work.eventIds);
    } catch {
      // Postgres may still be coming back: keep the last answer and poll again.
    }
    if (rows.length >= expected && rows.every((r) => isFinalState(r.state))) return rows;
    if (Date.now() >= deadline) return rows;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Deliveries each recipient got per channel, counted where they arrived (SMTP peer, stand-ins). */
export function deliveriesPerRecipient(
  env: ChaosEnvironment,
  work: SentWork,
): Map<string, Partial<Record<Channel, number>>> {
  const counts = new Map<string, Partial<Record<Channel, number>>>();
  const add = (recipientId: string, channel: Channel) => {
    const entry = counts.get(recipientId) ?? {};
    entry[channel] = (entry[channel] ?? 0) + 1;
    counts.set(recipientId, entry);
  };
  const byEmail = new Map(work.recipients.map((r) => [r.email, r.id]));
  const byPhone = new Map(work.recipients.map((r) => [r.phone, r.id]));
  const ids = new Set(work.recipients.map((r) => r.id));
  for (const mail of env.smtp.messages)
    for (const to of mail.to) if (byEmail.has(to)) add(byEmail.get(to)!, 'email');
  for (const req of env.twilio.requests) {
    const to = new URLSearchParams(req.body).get('To');
    if (to && byPhone.has(to)) add(byPhone.get(to)!, 'sms');
  }
  for (const [standIn, prefix, channel] of [
    [env.pushService, '/push/', 'push'],
    [env.webhooks, '/hook/', 'webhook'],
  ] as const) {
    for (const req of standIn.requests) {
      const id = req.path.startsWith(prefix) ? req.path.slice(prefix.length) : '';
      if (ids.has(id)) add(id, channel);
    }
  }
  return counts;
}

/**
 * How many deliveries of one notification a channel's policy allows: sms is at most once, always; the
 * at-least-once channels (email, push, webhook; idempotency key towards the provider) may repeat a send
 * only when a channel worker was killed mid-send, once per kill.
 */
export function allowedDeliveries(channel: Channel, scenario: Scenario): number {
  if (channel === 'sms') return 1;
  return scenario.fault === 'kill-channel-worker' ? 2 : 1;
}

/** An at-most-once channel given up after a worker died mid-send: the channel's policy, not a failure of ours. */
const AT_MOST_ONCE_GIVE_UP = /outcome unknown/;

/**
 * Notifications failed by something other than a provider's answer. The stand-ins accept everything,
 * so a failed channel here is ours (I1), except an sms given up as `outcome unknown` after its worker
 * was killed mid-send (the channel's at-most-once policy). A channel `expired` is not a failure: it is
 * judged against the retry horizon (expiredRows).
 */
export function infrastructureFailures(rows: NotificationRow[], scenario: Scenario): NotificationRow[] {
  const excused = (error: string | undefined) =>
    scenario.fault === 'kill-channel-worker' && AT_MOST_ONCE_GIVE_UP.test(error ?? '');
  return rows.filter((row) => {
    const failed = Object.values(row.channelStates).filter((c) => c?.state === 'failed');
    if (failed.some((c) => !excused(c?.error))) return true;
    // Failed as a whole with no failed channel to blame (e.g. a step that gave up): ours too.
    return row.state === 'failed' && failed.length === 0 && !isExpired(row);
  });
}

/** The notification, or one of its channels, ended `expired` (our infrastructure stayed down past INFRA_RETRY_HORIZON_MS). */
export function isExpired(row: NotificationRow): boolean {
  return row.state === 'expired' || Object.values(row.channelStates).some((c) => c?.state === 'expired');
}

const EVENT_TYPE_NAMES = temporal.api.enums.v1.EventType;

/** The last events of a workflow's history, as `EVENT_TYPE` names (the failure details of a stuck or lost workflow). */
export async function historyTail(client: Client, workflowId: string, count = 8): Promise<string> {
  try {
    const history = await historyOf(client, workflowId);
    if (!history) return `${workflowId}: no such workflow`;
    const events = history.events ?? [];
    const work = openWorkOf(history);
    const tail = events.slice(-count).map((e) => {
      const name = EVENT_TYPE_NAMES[e.eventType ?? 0] ?? String(e.eventType);
      const marker = e.markerRecordedEventAttributes?.markerName;
      const timer = e.timerStartedEventAttributes?.startToFireTimeout?.seconds;
      const failure =
        e.workflowTaskFailedEventAttributes?.failure?.message ??
        e.activityTaskFailedEventAttributes?.failure?.message ??
        e.workflowExecutionFailedEventAttributes?.failure?.message;
      const extra = marker
        ? `(${marker})`
        : timer !== undefined && timer !== null
          ? `(${String(timer)}s)`
          : failure
            ? `(${failure.slice(0, 120)})`
            : '';
      return `${String(name).replace(/^EVENT_TYPE_/, '')}${extra}`;
    });
    return `${workflowId} [${events.length} events; open=${work.open} timers=${work.timers} activities=${work.activities} tasks=${work.workflowTasks}]: … ${tail.join(' → ')}`;
  } catch (err) {
    return `${workflowId}: history unreadable: ${(err as Error).message}`;
  }
}

/** Open workflows among ids (current run), and those without a timer or pending work. */
export async function openAndStuck(
  client: Client,
  workflowIds: string[],
): Promise<{ open: string[]; stuck: string[] }> {
  const open: string[] = [];
  for (const id of workflowIds) {
    const history = await historyOf(client, id).catch(() => null);
    if (history && openWorkOf(history).open) open.push(id);
  }
  const stuck = await findWorkflowsWithoutTimer(client, open);
  return { open, stuck };
}

/** One row for the details: what a notification that is not where it should be looks like. */
export function describeRow(row: NotificationRow): string {
  const channels = Object.entries(row.channelStates)
    .map(
      ([channel, c]) =>
        `${channel}=${c?.state ?? '?'}${c?.attempts ? `×${c.attempts}` : ''}${c?.error ? `(${c.error.slice(0, 100)})` : ''}`,
    )
    .join(' ');
  return `${row.recipientId} ${row.state}${row.error ? ` error="${row.error.slice(0, 160)}"` : ''} ${channels}`;
}

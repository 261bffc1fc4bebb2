import type { Channel } from './channels';
import type { ChannelDecision } from './notification-request';
import type { ChannelOutcome, ChannelStatus, NotificationState } from './notification-status';

/**
 * The notification lifecycle as one pure state machine (docs/contracts.md, "Notification lifecycle").
 * The event workflow, its local activities and the channel workers all move a notification through
 * these functions; Postgres holds the result (notifications.state, channel_states, send_at).
 *
 *   scheduled ─(due)─▶ waiting_quiet_hours ─(quiet hours end)─▶ sending ─▶ delivered | partially_delivered | failed
 *       │                     │                                   └──(every channel suppressed)──▶ suppressed
 *       └──────(cancel)───────┴──▶ cancelled
 *   any open state ─(our infrastructure out of reach past INFRA_RETRY_HORIZON_MS)─▶ expired ─(redrive)─▶ scheduled | sending
 */

/** One channel of one notification as stored in notifications.channel_states. */
export interface ChannelRecord extends ChannelStatus {
  /** Hand-offs to the queue so far (a lost job is handed off again). */
  handOffs?: number;
  /** When the channel is reconciled if no outcome arrived (ISO). */
  deadlineAt?: string;
  /** The channel that took over after this one failed. */
  fellBackTo?: Channel;
  /** First hand-off (ISO): an open channel expires INFRA_RETRY_HORIZON_MS after it (docs/contracts.md, "Durability invariants"). */
  queuedAt?: string;
}
export type ChannelRecords = Partial<Record<Channel, ChannelRecord>>;

/** What the lifecycle needs of a stored notification. */
export interface NotificationView {
  state: NotificationState;
  channels: ChannelRecords;
  /** Fallbacks this recipient can take (push -> sms). */
  fallbacks: Partial<Record<Channel, Channel>>;
}

/** The result of one step: the new view, and what the caller must do for it. */
export interface Step extends NotificationView {
  /** False when the step changed nothing (a duplicate or stale outcome). */
  changed: boolean;
  /** Channels to hand to their queues now (a fallback). */
  enqueue: Channel[];
  /** Send records to close so a late pickup of that job skips the provider (the channel fell back). */
  cancelSendRecords: Channel[];
  /** Change of the event's open-channel count (channels that closed count -1, opened +1). */
  openDelta: number;
}

const WAITING: readonly NotificationState[] = ['scheduled', 'waiting_quiet_hours'];
const OPEN_CHANNEL: readonly ChannelRecord['state'][] = ['pending', 'queued'];

export function isWaitingState(state: NotificationState): boolean {
  return WAITING.includes(state);
}

export function isOpenChannel(record: ChannelRecord | undefined): boolean {
  return !!record && OPEN_CHANNEL.includes(record.state);
}

/** Channel records without the bookkeeping fields (hand-offs, deadlines, fallback links) that status answers leave out. */
export function publicChannels(channels: ChannelRecords): ChannelRecords {
  const out: ChannelRecords = {};
  for (const [channel, record] of Object.entries(channels) as [
    Channel,
    NonNullable<ChannelRecords[Channel]>,
  ][]) {
    const { handOffs: _h, deadlineAt: _d, fellBackTo: _f, queuedAt: _q, ...rest } = record;
    out[channel] = rest;
  }
  return out;
}

export function openChannelCount(channels: ChannelRecords): number {
  return Object.values(channels).filter(isOpenChannel).length;
}

// ---- scheduling ---------------------------------------------------------------------------------

/** The first moment a notification may go out: the later of sendAt and now + delay. */
export function firstSendAt(nowMs: number, options: { delayMs: number; sendAt: string | null }): number {
  const requested = options.sendAt ? Date.parse(options.sendAt) : nowMs;
  return Math.max(requested, nowMs + options.delayMs);
}

export type Admission =
  { state: 'sending' } | { state: 'scheduled' | 'waiting_quiet_hours'; sendAtMs: number };

/**
 * Whether a notification goes out now: not before its send time, and not in the recipient's quiet
 * hours (urgent ones excepted). `quietHoursEnd` answers the end of the quiet hours around an instant.
 */
export function admit(input: {
  nowMs: number;
  sendAtMs: number;
  urgent: boolean;
  quietHoursEnd: (atMs: number) => number | null;
}): Admission {
  if (input.sendAtMs > input.nowMs) return { state: 'scheduled', sendAtMs: input.sendAtMs };
  if (input.urgent) return { state: 'sending' };
  const quietEnd = input.quietHoursEnd(input.nowMs);
  return quietEnd !== null && quietEnd > input.nowMs
    ? { state: 'waiting_quiet_hours', sendAtMs: quietEnd }
    : { state: 'sending' };
}

/**
 * A reschedule reaches a notification only while it waits; a cancel also while it is sending, as long
 * as no provider was called (checked against the send records when it is applied). The error names why not.
 */
export function controlRefusal(state: NotificationState, verb: 'cancelled' | 'rescheduled'): string | null {
  if (isWaitingState(state) || (verb === 'cancelled' && state === 'sending')) return null;
  return verb === 'cancelled'
    ? `notification is ${state}: only a notification not yet handed to a provider can be cancelled`
    : `notification is ${state}: only a scheduled notification can be rescheduled`;
}

// ---- sending ------------------------------------------------------------------------------------

/** The channel records of a notification about to be handed off, from the channel decisions. */
export function openChannels(
  decisions: ChannelDecision[],
  deadlineAt: string,
  queuedAt: string,
): ChannelRecords {
  const channels: ChannelRecords = {};
  for (const d of decisions) {
    channels[d.channel] = d.send
      ? { state: 'queued', attempts: 0, handOffs: 1, deadlineAt, queuedAt }
      : { state: 'suppressed', attempts: 0, ...(d.reason ? { reason: d.reason } : {}) };
  }
  return channels;
}

/** The notification's state once its channels say so; `sending` while any channel is open. */
export function settledState(channels: ChannelRecords): NotificationState {
  const records = Object.entries(channels) as [Channel, ChannelRecord][];
  if (records.some(([, r]) => isOpenChannel(r))) return 'sending';
  const sent = records.filter(([, r]) => r.state !== 'suppressed');
  if (sent.length === 0) return 'suppressed';
  const delivered = sent.filter(([, r]) => r.state === 'delivered').length;
  // Nothing reached the recipient: our own outage (expired) is told apart from a provider's refusal.
  if (delivered === 0) return sent.some(([, r]) => r.state === 'expired') ? 'expired' : 'failed';
  // A failed channel whose fallback delivered is covered: the recipient got the message.
  const uncovered = sent.filter(
    ([channel, r]) =>
      (r.state === 'failed' || r.state === 'expired') &&
      channels[r.fellBackTo ?? channel]?.state !== 'delivered',
  ).length;
  return uncovered === 0 ? 'delivered' : 'partially_delivered';
}

/**
 * Applies a channel worker's outcome. A failure opens the channel's fallback when the recipient can
 * take it and it was not used yet; a delivery that arrives after the channel was given up (a late
 * job) still counts: the message reached the recipient.
 */
export function applyOutcome(
  view: NotificationView,
  outcome: ChannelOutcome,
  nowMs: number,
  deadlineMs: number,
): Step {
  const unchanged: Step = { ...view, changed: false, enqueue: [], cancelSendRecords: [], openDelta: 0 };
  const record = view.channels[outcome.channel];
  if (!record || view.state === 'cancelled') return unchanged;
  const wasOpen = isOpenChannel(record);
  if (!wasOpen && !(outcome.state === 'delivered' && record.state !== 'delivered')) return unchanged;

  const channels: ChannelRecords = { ...view.channels };
  channels[outcome.channel] = {
    ...record,
    state: outcome.state,
    attempts: Math.max(record.attempts, outcome.attempts),
    ...(outcome.error ? { error: outcome.error } : {}),
    ...(outcome.providerMessageId ? { providerMessageId: outcome.providerMessageId } : {}),
  };
  delete channels[outcome.channel]!.deadlineAt;
  let openDelta = wasOpen ? -1 : 0;
  const enqueue: Channel[] = [];
  const cancelSendRecords: Channel[] = [];

  const fallback = view.fallbacks[outcome.channel];
  if (outcome.state === 'failed' && fallback && !channels[fallback]) {
    channels[outcome.channel] = {
      ...channels[outcome.channel]!,
      reason: `fell back to ${fallback}`,
      fellBackTo: fallback,
    };
    const queuedAt = new Date(nowMs).toISOString();
    channels[fallback] = {
      state: 'queued',
      attempts: 0,
      handOffs: 1,
      deadlineAt: new Date(nowMs + deadlineMs).toISOString(),
      queuedAt,
      reason: `fallback for ${outcome.channel}`,
    };
    enqueue.push(fallback);
    cancelSendRecords.push(outcome.channel);
    openDelta += 1;
  }
  return {
    state: settledState(channels),
    channels,
    fallbacks: view.fallbacks,
    changed: true,
    enqueue,
    cancelSendRecords,
    openDelta,
  };
}

/**
 * A provider's receipt that a message it had accepted never arrived (SMS undelivered, email hard
 * bounce): the channel moves from delivered to failed, once, and the notification's state follows.
 * No fallback opens: the event may be long over (docs/tracking-and-receipts.md).
 */
export function applyFailedReceipt(view: NotificationView, channel: Channel, error: string): Step {
  const unchanged: Step = { ...view, changed: false, enqueue: [], cancelSendRecords: [], openDelta: 0 };
  const record = view.channels[channel];
  if (!record || record.state !== 'delivered') return unchanged;
  const channels: ChannelRecords = { ...view.channels, [channel]: { ...record, state: 'failed', error } };
  return { ...unchanged, state: settledState(channels), channels, changed: true };
}

/** What is known of a channel whose deadline passed without an outcome. */
export interface DeadlineObservation {
  /** The BullMQ job: still waiting its turn, being worked on, gone, or finally failed. */
  job: 'queued' | 'active' | 'missing' | 'completed' | 'failed';
  jobError?: string;
  /** The job failed for a reason of our own (BullMQ gave it up as stalled), not a provider's answer. */
  jobFailedByInfrastructure?: boolean;
  /** The exactly-once send record. */
  sendRecord: 'sent' | 'sending' | 'failed' | 'cancelled' | 'unknown' | null;
  /** A `sending` record older than SEND_RECORD_STALE_MS: its worker died mid-send. */
  claimStale?: boolean;
  providerMessageId?: string | null;
  attempts?: number;
}

export type DeadlineAction =
  | { action: 'delivered'; outcome: ChannelOutcome }
  | { action: 'extend' }
  | { action: 'hand_off_again' }
  | { action: 'failed'; outcome: ChannelOutcome }
  | { action: 'expired'; outcome: ChannelOutcome };

/**
 * Reconciles a channel at its deadline (docs/contracts.md, "Durability invariants"): a send record
 * that says sent is a delivery whose outcome got lost; a provider call in progress is waited for; only
 * a provider's answer fails a channel; anything else our own infrastructure lost (a vanished job, a
 * job given up as stalled, a dead worker's claim) is handed off again, until the channel has been
 * open for the horizon: then it expires.
 */
export function onDeadline(
  channel: Channel,
  record: ChannelRecord,
  seen: DeadlineObservation,
  horizon: { nowMs: number; horizonMs: number },
): DeadlineAction {
  const attempts = seen.attempts ?? record.attempts;
  if (seen.sendRecord === 'sent') {
    return {
      action: 'delivered',
      outcome: {
        channel,
        state: 'delivered',
        attempts,
        ...(seen.providerMessageId ? { providerMessageId: seen.providerMessageId } : {}),
      },
    };
  }
  if ((seen.sendRecord === 'sending' && !seen.claimStale) || seen.job === 'active')
    return { action: 'extend' };
  if (seen.job === 'failed' && !seen.jobFailedByInfrastructure) {
    return {
      action: 'failed',
      outcome: { channel, state: 'failed', attempts, error: seen.jobError ?? 'the send job failed' },
    };
  }
  const queuedAtMs = record.queuedAt ? Date.parse(record.queuedAt) : horizon.nowMs;
  if (horizon.nowMs - queuedAtMs >= horizon.horizonMs) {
    return {
      action: 'expired',
      outcome: {
        channel,
        state: 'expired',
        attempts,
        error: `expired: not delivered within ${horizon.horizonMs} ms of its hand-off (our own infrastructure)`,
      },
    };
  }
  return seen.job === 'queued' ? { action: 'extend' } : { action: 'hand_off_again' };
}

// ---- event workflow bookkeeping (deterministic, no I/O) -----------------------------------------

/** Distinct wake-up times of an event (epoch ms, ascending): one durable timer per time, not per recipient. */
export function addWakeTime(times: number[], atMs: number): number[] {
  return times.includes(atMs) ? times : [...times, atMs].sort((a, b) => a - b);
}

export function splitDue(times: number[], nowMs: number): { due: boolean; rest: number[] } {
  const rest = times.filter((t) => t > nowMs);
  return { due: rest.length !== times.length, rest };
}

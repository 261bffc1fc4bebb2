import {
  addWakeTime,
  controlRefusal,
  isWaitingState,
  splitDue,
  type ChannelRecords,
} from './notification-lifecycle';
import type { NotificationState, NotificationStatus } from './notification-status';

/** Events up to this many recipients keep channel details in the workflow (status query); larger ones answer from Postgres. */
export const INLINE_STATUS_LIMIT = 50;

/** One recipient's notification as the event workflow knows it. */
export interface RecipientSummary {
  userId: string;
  state: NotificationState;
  notificationId?: string;
  /** When a waiting notification is due (ISO). */
  sendAt?: string;
  error?: string;
  /** Kept for small events only (status query); larger ones answer from Postgres. */
  channels?: ChannelRecords;
}

/** What a step of the event workflow (a local activity) reports back. */
export interface DispatchResult {
  recipients: RecipientSummary[];
  /** Distinct times at which waiting notifications of these recipients are due (epoch ms). */
  wakeTimes: number[];
  /** Earliest channel deadline among the notifications handed off (epoch ms). */
  nextDeadlineMs: number | null;
}

/** The event workflow's answer per recipient (EventResult.notifications). */
export interface RecipientResult {
  userId: string;
  /** The event workflow that owns the notification. */
  workflowId: string;
  notificationId?: string;
  state: NotificationState;
  error?: string;
}

/**
 * The event workflow's bookkeeping, deterministic and free of I/O so the workflow stays thin: each
 * recipient's latest summary, one wake-up time per distinct send time (not one timer per recipient),
 * and the earliest channel deadline at which open channels are reconciled.
 */
export class EventLedger {
  private readonly recipients = new Map<string, RecipientSummary>();
  private wakeTimes: number[] = [];
  private deadlineMs: number | null = null;
  /** Bumped on every change a handler makes, so the workflow's wait re-evaluates its timer. */
  revision = 0;

  /** Merges a step's report: newer summaries replace older ones; wake times and deadlines accumulate. */
  apply(result: Partial<DispatchResult>, options: { deadlineIsComplete?: boolean } = {}): void {
    for (const summary of result.recipients ?? []) this.recipients.set(summary.userId, summary);
    for (const at of result.wakeTimes ?? []) this.wakeTimes = addWakeTime(this.wakeTimes, at);
    if (options.deadlineIsComplete) this.deadlineMs = result.nextDeadlineMs ?? null;
    else if (result.nextDeadlineMs != null)
      this.deadlineMs = Math.min(this.deadlineMs ?? Infinity, result.nextDeadlineMs);
    this.revision++;
  }

  addWakeTime(atMs: number): void {
    this.wakeTimes = addWakeTime(this.wakeTimes, atMs);
    this.revision++;
  }

  /** True when some wake-up time has come; those times are dropped (the step that follows sends what is due). */
  takeDue(nowMs: number): boolean {
    const { due, rest } = splitDue(this.wakeTimes, nowMs);
    this.wakeTimes = rest;
    return due;
  }

  /** Recipients whose notification is sending (a reconcile names those whose row is gone: erased meanwhile). */
  sendingUserIds(): string[] {
    return [...this.recipients.values()].filter((r) => r.state === 'sending').map((r) => r.userId);
  }

  isSending(): boolean {
    return [...this.recipients.values()].some((r) => r.state === 'sending');
  }

  isWaiting(): boolean {
    return [...this.recipients.values()].some((r) => isWaitingState(r.state));
  }

  /** Done when no notification waits or sends. */
  isSettled(): boolean {
    return !this.isSending() && !this.isWaiting();
  }

  deadlinePassed(nowMs: number): boolean {
    return this.isSending() && this.deadlineMs !== null && this.deadlineMs <= nowMs;
  }

  /** When the workflow must act next without being told: the next wake-up time or the channel deadline. */
  nextTimerAt(): number | null {
    const times = [
      ...(this.isWaiting() ? this.wakeTimes.slice(0, 1) : []),
      ...(this.isSending() && this.deadlineMs !== null ? [this.deadlineMs] : []),
    ];
    return times.length ? Math.min(...times) : null;
  }

  /** Every time the workflow may still need a timer for: wake-up times while some notification waits, the deadline while one sends. */
  timerTimes(): number[] {
    return [
      ...(this.isWaiting() ? this.wakeTimes : []),
      ...(this.isSending() && this.deadlineMs !== null ? [this.deadlineMs] : []),
    ];
  }

  /** One recipient's status; with no user id, the event's only recipient. */
  status(userId?: string): NotificationStatus {
    const summary = this.find(userId);
    if (!summary)
      return {
        state: 'failed',
        error: userId
          ? `no notification for recipient "${userId}" in this event`
          : 'this event has several recipients: name one',
        channels: {},
      };
    return {
      state: summary.state,
      ...(summary.sendAt ? { sendAt: summary.sendAt } : {}),
      ...(summary.notificationId ? { notificationId: summary.notificationId } : {}),
      ...(summary.error ? { error: summary.error } : {}),
      channels: summary.channels ?? {},
    };
  }

  /** Why a cancel or reschedule cannot apply (validators reject with it), or null. */
  refusal(userId: string | undefined, verb: 'cancelled' | 'rescheduled'): string | null {
    if (userId !== undefined) {
      const summary = this.recipients.get(userId);
      return summary
        ? controlRefusal(summary.state, verb)
        : `no notification for recipient "${userId}" in this event`;
    }
    const open = this.isWaiting() || (verb === 'cancelled' && this.isSending());
    return open ? null : `no notification of this event is waiting: nothing can be ${verb}`;
  }

  results(workflowId: string): RecipientResult[] {
    return [...this.recipients.values()].map((r) => ({
      userId: r.userId,
      workflowId,
      ...(r.notificationId ? { notificationId: r.notificationId } : {}),
      state: r.state,
      ...(r.error ? { error: r.error } : {}),
    }));
  }

  /** The whole event at a glance (query `eventStatus`). */
  counts(): Partial<Record<NotificationState, number>> {
    const counts: Partial<Record<NotificationState, number>> = {};
    for (const r of this.recipients.values()) counts[r.state] = (counts[r.state] ?? 0) + 1;
    return counts;
  }

  private find(userId?: string): RecipientSummary | undefined {
    if (userId !== undefined) return this.recipients.get(userId);
    return this.recipients.size === 1 ? [...this.recipients.values()][0] : undefined;
  }
}

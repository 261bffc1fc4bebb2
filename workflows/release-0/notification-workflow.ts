import {
  ApplicationFailure,
  condition,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { Channel } from '../../src/domain/channels';
import type {
  ChannelOutcome,
  NotificationState,
  NotificationStatus,
} from '../../src/domain/notification-status';
import type { NotificationRequest, PreparedNotification } from '../../src/domain/notification-request';
import { cancelSignal, channelOutcomeSignal, rescheduleSignal, statusQuery } from '../definitions';

const { findQuietHoursEnd, prepareNotification, enqueueSendJobs, recordNotificationState } =
  proxyActivities<Activities>({
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '1 minute', backoffCoefficient: 2 },
  });

/** Hand-offs per channel, the first included, before a channel without any outcome counts as failed. */
const MAX_HAND_OFFS = 4;

type WaitResult = 'elapsed' | 'cancelled' | 'rescheduled';

/**
 * One notification to one recipient: waits (delay, sendAt, quiet hours), prepares, hands one job per
 * channel to BullMQ and waits for each channel's outcome, re-handing off or falling back.
 * Release 0 only (docs/release-0.md): its histories must keep replaying, so the commands it issues
 * (activities, timers) and their order stay as they are.
 */
export async function notificationWorkflow(request: NotificationRequest): Promise<NotificationStatus> {
  return new NotificationRun(request).run();
}

/** One execution's state, its signal and query handlers, and its three phases. */
class NotificationRun {
  private readonly workflowId = workflowInfo().workflowId;
  readonly status: NotificationStatus = { state: 'scheduled', channels: {} };
  /** The latest outcome signalled per channel, not yet taken into account. */
  readonly outcomes = new Map<Channel, ChannelOutcome>();
  private cancelReason: string | undefined;
  private cancelled = false;
  private rescheduleCount = 0;
  private sendAtMs: number;

  constructor(readonly request: NotificationRequest) {
    this.sendAtMs = initialSendAt(request);
    this.listen();
  }

  async run(): Promise<NotificationStatus> {
    if ((await this.schedule()) === 'cancelled') {
      const reason = this.cancelReason;
      return this.finish('cancelled', undefined, reason ? `cancelled: ${reason}` : 'cancelled');
    }
    this.status.state = 'sending';
    let prepared: PreparedNotification;
    try {
      prepared = await prepareNotification({ ...this.request, workflowId: this.workflowId });
    } catch (err) {
      return this.finish('failed', undefined, failureMessage(err));
    }
    const toSend = this.planChannels(prepared);
    if (toSend.length === 0) return this.finish('suppressed', prepared.notificationId);
    const delivery = new ChannelDelivery(this, prepared);
    await delivery.deliver(toSend);
    return this.finish(delivery.finalState(), prepared.notificationId);
  }

  private waiting(): boolean {
    return this.status.state === 'scheduled' || this.status.state === 'waiting_quiet_hours';
  }

  private listen(): void {
    setHandler(statusQuery, () => this.status);
    setHandler(cancelSignal, (input) => {
      if (!this.waiting()) return; // Once sending, jobs are with the providers: nothing left to cancel.
      this.cancelled = true;
      this.cancelReason = input?.reason;
    });
    setHandler(rescheduleSignal, (input) => {
      const at = Date.parse(input?.sendAt ?? '');
      if (!this.waiting() || Number.isNaN(at)) {
        log.warn('reschedule ignored', { sendAt: input?.sendAt, state: this.status.state });
        return;
      }
      this.sendAtMs = at;
      this.rescheduleCount++;
    });
    setHandler(channelOutcomeSignal, (outcome) => {
      if (outcome && this.status.channels[outcome.channel]) this.outcomes.set(outcome.channel, outcome);
    });
  }

  /** 1. Schedule: delay / sendAt, then quiet hours (re-checked after every wait and reschedule). */
  private async schedule(): Promise<'due' | 'cancelled'> {
    for (;;) {
      const result = await this.waitForSendAt();
      if (result === 'cancelled') return 'cancelled';
      if (result === 'rescheduled') {
        this.status.state = 'scheduled'; // the new time is the caller's; quiet hours are checked again when it comes
        continue;
      }
      if (this.request.options.priority === 'urgent') return 'due';
      const quietEnd = await findQuietHoursEnd({
        userId: this.request.userId,
        at: new Date(Date.now()).toISOString(),
      });
      if (!quietEnd) return 'due';
      this.status.state = 'waiting_quiet_hours';
      this.sendAtMs = Date.parse(quietEnd);
    }
  }

  /** Sleeps until sendAtMs unless cancelled or rescheduled first. */
  private async waitForSendAt(): Promise<WaitResult> {
    const seen = this.rescheduleCount;
    this.status.sendAt = new Date(this.sendAtMs).toISOString();
    const remaining = this.sendAtMs - Date.now();
    if (remaining > 0) await condition(() => this.cancelled || this.rescheduleCount !== seen, remaining);
    if (this.cancelled) return 'cancelled';
    return this.rescheduleCount !== seen ? 'rescheduled' : 'elapsed';
  }

  /** 2. Prepared: each channel pending or suppressed; returns the channels to send. */
  private planChannels(prepared: PreparedNotification): Channel[] {
    this.status.notificationId = prepared.notificationId;
    for (const d of prepared.decisions) {
      this.status.channels[d.channel] = d.send
        ? { state: 'pending', attempts: 0 }
        : { state: 'suppressed', attempts: 0, reason: d.reason };
    }
    return prepared.decisions.filter((d) => d.send).map((d) => d.channel);
  }

  async finish(
    state: NotificationState,
    notificationId?: string,
    error?: string,
  ): Promise<NotificationStatus> {
    this.status.state = state;
    if (error) this.status.error = error;
    if (notificationId) await recordNotificationState({ notificationId, state, error });
    return this.status;
  }
}

/**
 * 3. Hand off and wait for outcomes. Each channel has its own deadline: a job that vanished (Redis
 * emptied, outcome lost) is handed off again; the job id and the send record keep that safe.
 */
class ChannelDelivery {
  private readonly fellBackTo = new Map<Channel, Channel>();
  private readonly deadlineOf = new Map<Channel, number>();
  private readonly handOffsOf = new Map<Channel, number>();
  private readonly open = new Set<Channel>();

  constructor(
    private readonly run: NotificationRun,
    private readonly prepared: PreparedNotification,
  ) {}

  async deliver(toSend: Channel[]): Promise<void> {
    const { outcomes } = this.run;
    await this.handOff(toSend);
    while (this.open.size > 0) {
      const nextDeadline = Math.min(...[...this.open].map((c) => this.deadlineOf.get(c)!));
      await condition(
        () => [...this.open].some((c) => outcomes.has(c)),
        Math.max(nextDeadline - Date.now(), 1),
      );
      const again: Channel[] = [];
      for (const channel of [...this.open]) {
        const next = this.step(channel, again);
        if (next) again.push(next);
      }
      if (again.length > 0) await this.handOff(again);
    }
  }

  /** One open channel after a wake-up: settled by its outcome, failed, or due for another hand-off. */
  private step(channel: Channel, again: Channel[]): Channel | undefined {
    const outcome = this.run.outcomes.get(channel);
    if (outcome) return this.settle(channel, outcome);
    if (Date.now() < this.deadlineOf.get(channel)!) return undefined;
    if (this.handOffsOf.get(channel)! >= MAX_HAND_OFFS) {
      const attempts = this.run.status.channels[channel]!.attempts;
      return this.settle(channel, {
        channel,
        state: 'failed',
        attempts,
        error: `no outcome from the delivery workers after ${MAX_HAND_OFFS} hand-offs`,
      });
    }
    log.warn('no channel outcome before the deadline; handing off again', {
      channel,
      handOffs: this.handOffsOf.get(channel),
    });
    again.push(channel);
    return undefined;
  }

  private async handOff(channels: Channel[]): Promise<void> {
    const { request, status, outcomes } = this.run;
    // Forget older outcomes first: the new one may arrive while the enqueue activity still runs.
    for (const c of channels) outcomes.delete(c);
    await enqueueSendJobs({
      notificationId: this.prepared.notificationId,
      workflowId: workflowInfo().workflowId,
      userId: request.userId,
      channels,
      priority: request.options.priority,
    });
    for (const c of channels) {
      this.open.add(c);
      this.deadlineOf.set(c, Date.now() + request.deliveryDeadlineMs);
      this.handOffsOf.set(c, (this.handOffsOf.get(c) ?? 0) + 1);
      status.channels[c] = { ...status.channels[c]!, state: 'queued' };
    }
  }

  /** Records a channel's final outcome; returns the fallback channel to try, if any. */
  private settle(channel: Channel, outcome: ChannelOutcome): Channel | undefined {
    const { status } = this.run;
    this.open.delete(channel);
    const reason = status.channels[channel]?.reason;
    status.channels[channel] = {
      state: outcome.state,
      attempts: outcome.attempts,
      ...(outcome.error ? { error: outcome.error } : {}),
      ...(outcome.providerMessageId ? { providerMessageId: outcome.providerMessageId } : {}),
      ...(reason ? { reason } : {}),
    };
    // Only fallbacks the recipient can take (preferences, address); older preparations carry none and use the plan's.
    const fallback = (this.prepared.fallbacks ?? this.run.request.fallbacks)[channel];
    if (outcome.state !== 'failed' || !fallback || status.channels[fallback]) return undefined;
    this.fellBackTo.set(channel, fallback);
    status.channels[channel].reason = `fell back to ${fallback}`;
    status.channels[fallback] = { state: 'pending', attempts: 0, reason: `fallback for ${channel}` };
    return fallback;
  }

  /** delivered, partially_delivered or failed; a failed channel whose fallback delivered is covered. */
  finalState(): NotificationState {
    const { status } = this.run;
    const states = Object.values(status.channels).map((c) => c.state);
    const delivered = states.filter((s) => s === 'delivered').length;
    // The recipient got the message (push failed -> sms delivered).
    const covered = (channel: Channel) =>
      status.channels[this.fellBackTo.get(channel) ?? channel]?.state === 'delivered';
    const failed = (Object.keys(status.channels) as Channel[]).filter(
      (c) => status.channels[c]!.state === 'failed' && !covered(c),
    ).length;
    return delivered === 0 ? 'failed' : failed === 0 ? 'delivered' : 'partially_delivered';
  }
}

function failureMessage(err: unknown): string {
  return err instanceof Error && err.cause instanceof ApplicationFailure ? err.cause.message : String(err);
}

function initialSendAt(request: NotificationRequest): number {
  const now = Date.now();
  const requested = request.options.sendAt ? Date.parse(request.options.sendAt) : now;
  return Math.max(requested, now + request.options.delayMs);
}

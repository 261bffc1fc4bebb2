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
import type { NotificationRequest } from '../../src/domain/notification-request';
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
 */
export async function notificationWorkflow(request: NotificationRequest): Promise<NotificationStatus> {
  const workflowId = workflowInfo().workflowId;
  const status: NotificationStatus = { state: 'scheduled', channels: {} };
  const outcomes = new Map<Channel, ChannelOutcome>();
  let cancelReason: string | undefined;
  let cancelled = false;
  let rescheduleCount = 0;
  let sendAtMs = initialSendAt(request);

  const waiting = () => status.state === 'scheduled' || status.state === 'waiting_quiet_hours';
  setHandler(statusQuery, () => status);
  setHandler(cancelSignal, (input) => {
    if (!waiting()) return; // Once sending, jobs are with the providers: nothing left to cancel.
    cancelled = true;
    cancelReason = input?.reason;
  });
  setHandler(rescheduleSignal, (input) => {
    const at = Date.parse(input?.sendAt ?? '');
    if (!waiting() || Number.isNaN(at)) {
      log.warn('reschedule ignored', { sendAt: input?.sendAt, state: status.state });
      return;
    }
    sendAtMs = at;
    rescheduleCount++;
  });
  setHandler(channelOutcomeSignal, (outcome) => {
    if (outcome && status.channels[outcome.channel]) outcomes.set(outcome.channel, outcome);
  });

  /** Sleeps until sendAtMs unless cancelled or rescheduled first. */
  async function waitForSendAt(): Promise<WaitResult> {
    const seen = rescheduleCount;
    status.sendAt = new Date(sendAtMs).toISOString();
    const remaining = sendAtMs - Date.now();
    if (remaining > 0) await condition(() => cancelled || rescheduleCount !== seen, remaining);
    if (cancelled) return 'cancelled';
    return rescheduleCount !== seen ? 'rescheduled' : 'elapsed';
  }

  // 1. Schedule: delay / sendAt, then quiet hours (re-checked after every wait and reschedule).
  for (;;) {
    const result = await waitForSendAt();
    if (result === 'cancelled')
      return finish('cancelled', undefined, cancelReason ? `cancelled: ${cancelReason}` : 'cancelled');
    if (result === 'rescheduled') {
      status.state = 'scheduled'; // the new time is the caller's; quiet hours are checked again when it comes
      continue;
    }
    if (request.options.priority === 'urgent') break;
    const quietEnd = await findQuietHoursEnd({
      userId: request.userId,
      at: new Date(Date.now()).toISOString(),
    });
    if (!quietEnd) break;
    status.state = 'waiting_quiet_hours';
    sendAtMs = Date.parse(quietEnd);
  }

  // 2. Prepare: preferences, rendering, the stored notification.
  status.state = 'sending';
  let prepared;
  try {
    prepared = await prepareNotification({ ...request, workflowId });
  } catch (err) {
    const message =
      err instanceof Error && err.cause instanceof ApplicationFailure ? err.cause.message : String(err);
    return finish('failed', undefined, message);
  }
  status.notificationId = prepared.notificationId;
  for (const d of prepared.decisions) {
    status.channels[d.channel] = d.send
      ? { state: 'pending', attempts: 0 }
      : { state: 'suppressed', attempts: 0, reason: d.reason };
  }
  const toSend = prepared.decisions.filter((d) => d.send).map((d) => d.channel);
  if (toSend.length === 0) return finish('suppressed', prepared.notificationId);

  // 3. Hand off and wait for outcomes. Each channel has its own deadline: a job that vanished (Redis
  // emptied, outcome lost) is handed off again; the job id and the send record keep that safe.
  const fellBackTo = new Map<Channel, Channel>();
  const deadlineOf = new Map<Channel, number>();
  const handOffsOf = new Map<Channel, number>();
  const open = new Set<Channel>();
  const handOff = async (channels: Channel[]) => {
    // Forget older outcomes first: the new one may arrive while the enqueue activity still runs.
    for (const c of channels) outcomes.delete(c);
    await enqueueSendJobs({
      notificationId: prepared.notificationId,
      workflowId,
      userId: request.userId,
      channels,
      priority: request.options.priority,
    });
    for (const c of channels) {
      open.add(c);
      deadlineOf.set(c, Date.now() + request.deliveryDeadlineMs);
      handOffsOf.set(c, (handOffsOf.get(c) ?? 0) + 1);
      status.channels[c] = { ...status.channels[c]!, state: 'queued' };
    }
  };
  /** Records a channel's final outcome; returns the fallback channel to try, if any. */
  const settle = (channel: Channel, outcome: ChannelOutcome): Channel | undefined => {
    open.delete(channel);
    const reason = status.channels[channel]?.reason;
    status.channels[channel] = {
      state: outcome.state,
      attempts: outcome.attempts,
      ...(outcome.error ? { error: outcome.error } : {}),
      ...(outcome.providerMessageId ? { providerMessageId: outcome.providerMessageId } : {}),
      ...(reason ? { reason } : {}),
    };
    // Only fallbacks the recipient can take (preferences, address); older preparations carry none and use the plan's.
    const fallback = (prepared.fallbacks ?? request.fallbacks)[channel];
    if (outcome.state !== 'failed' || !fallback || status.channels[fallback]) return undefined;
    fellBackTo.set(channel, fallback);
    status.channels[channel].reason = `fell back to ${fallback}`;
    status.channels[fallback] = { state: 'pending', attempts: 0, reason: `fallback for ${channel}` };
    return fallback;
  };

  await handOff(toSend);
  while (open.size > 0) {
    const nextDeadline = Math.min(...[...open].map((c) => deadlineOf.get(c)!));
    await condition(() => [...open].some((c) => outcomes.has(c)), Math.max(nextDeadline - Date.now(), 1));
    const again: Channel[] = [];
    for (const channel of [...open]) {
      const outcome = outcomes.get(channel);
      let next: Channel | undefined;
      if (outcome) {
        next = settle(channel, outcome);
      } else if (Date.now() >= deadlineOf.get(channel)!) {
        if (handOffsOf.get(channel)! >= MAX_HAND_OFFS) {
          const attempts = status.channels[channel]!.attempts;
          next = settle(channel, {
            channel,
            state: 'failed',
            attempts,
            error: `no outcome from the delivery workers after ${MAX_HAND_OFFS} hand-offs`,
          });
        } else {
          log.warn('no channel outcome before the deadline; handing off again', {
            channel,
            handOffs: handOffsOf.get(channel),
          });
          again.push(channel);
        }
      }
      if (next) again.push(next);
    }
    if (again.length > 0) await handOff(again);
  }

  const states = Object.values(status.channels).map((c) => c.state);
  const delivered = states.filter((s) => s === 'delivered').length;
  // A failed channel whose fallback delivered is covered: the recipient got the message (push failed -> sms delivered).
  const covered = (channel: Channel) =>
    status.channels[fellBackTo.get(channel) ?? channel]?.state === 'delivered';
  const failed = (Object.keys(status.channels) as Channel[]).filter(
    (c) => status.channels[c]!.state === 'failed' && !covered(c),
  ).length;
  return finish(
    delivered === 0 ? 'failed' : failed === 0 ? 'delivered' : 'partially_delivered',
    prepared.notificationId,
  );

  async function finish(
    state: NotificationState,
    notificationId?: string,
    error?: string,
  ): Promise<NotificationStatus> {
    status.state = state;
    if (error) status.error = error;
    if (notificationId) await recordNotificationState({ notificationId, state, error });
    return status;
  }
}

function initialSendAt(request: NotificationRequest): number {
  const now = Date.now();
  const requested = request.options.sendAt ? Date.parse(request.options.sendAt) : now;
  return Math.max(requested, now + request.options.delayMs);
}

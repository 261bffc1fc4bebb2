import type { EntityManager } from '@mikro-orm/postgresql';
import { sendJobId, type Channel } from '../src/domain/channels';
import {
  applyOutcome,
  onDeadline,
  type ChannelRecords,
  type DeadlineObservation,
  type NotificationView,
} from '../src/domain/notification-lifecycle';
import {
  cancelSendRecords,
  finalError,
  writeReconciledRow,
  type EventRow,
} from '../src/state/notification-store';
import type { ActivityDeps } from './deps';
import type { EventSpec } from './dispatcher';

/** Default of INFRA_RETRY_HORIZON_MS (docs/contracts.md, "Durability invariants"). */
export const DEFAULT_INFRA_HORIZON_MS = 24 * 3600 * 1000;

/**
 * The deadline reconcile of one notification (docs/contracts.md, "Notification lifecycle" and
 * "Durability invariants"), shared by event workflows and campaigns: each open channel past its deadline
 * is observed (job, send record) and decided by the lifecycle's `onDeadline`; the row is written with an
 * optimistic version check, then jobs are handed off again and failed channels' send records closed.
 */
export function createReconciler(deps: Pick<ActivityDeps, 'orm' | 'queues' | 'config'>) {
  const { queues, config } = deps;

  function horizonMs(spec: Pick<EventSpec, 'infraHorizonMs'>): number {
    return spec.infraHorizonMs ?? config.infraRetryHorizonMs ?? DEFAULT_INFRA_HORIZON_MS;
  }

  /** One sending row at its deadline: each expired open channel observed and decided; false when a worker changed the row meanwhile. */
  async function reconcileRow(
    em: EntityManager,
    spec: EventSpec,
    row: EventRow,
    nowMs: number,
  ): Promise<boolean> {
    const expired = (
      Object.entries(row.channel_states) as [Channel, NonNullable<ChannelRecords[Channel]>][]
    ).filter(([, r]) => r.state === 'queued' && r.deadlineAt && Date.parse(r.deadlineAt) <= nowMs);
    if (expired.length === 0) return false;
    let view: NotificationView = { state: row.state, channels: row.channel_states, fallbacks: row.fallbacks };
    const enqueue: Channel[] = [];
    const handOffAgain: Channel[] = [];
    const cancel: Channel[] = [];
    const deadlineAt = new Date(nowMs + spec.deliveryDeadlineMs).toISOString();
    for (const [channel, record] of expired) {
      const decision = onDeadline(channel, record, await observe(em, row.id, channel), {
        nowMs,
        horizonMs: horizonMs(spec),
      });
      // A record from before hand-off times were kept starts its horizon now.
      const queuedAt = record.queuedAt ?? new Date(nowMs).toISOString();
      if (decision.action === 'extend') {
        view = { ...view, channels: { ...view.channels, [channel]: { ...record, deadlineAt, queuedAt } } };
      } else if (decision.action === 'hand_off_again') {
        view = {
          ...view,
          channels: {
            ...view.channels,
            [channel]: { ...record, deadlineAt, queuedAt, handOffs: (record.handOffs ?? 1) + 1 },
          },
        };
        handOffAgain.push(channel);
      } else {
        const step = applyOutcome(view, decision.outcome, nowMs, spec.deliveryDeadlineMs);
        view = step;
        enqueue.push(...step.enqueue);
        cancel.push(...step.cancelSendRecords);
      }
    }
    // A worker recorded an outcome meanwhile: this row is looked at again at the next wake-up.
    if (!(await writeReconciledRow(em, row, view))) return false;
    Object.assign(row, {
      state: view.state,
      channel_states: view.channels,
      error: finalError(view.state, view.channels),
    });
    await cancelSendRecords(em, row.id, cancel);
    for (const channel of handOffAgain)
      await queues.enqueue({ notificationId: row.id, channel }, row.priority);
    for (const channel of enqueue) await queues.enqueueBulk(channel, [row.id], row.priority);
    return true;
  }

  /** Reads the job and the send record of one channel of one notification. */
  async function observe(
    em: EntityManager,
    notificationId: string,
    channel: Channel,
  ): Promise<DeadlineObservation> {
    const [job, [record]] = await Promise.all([
      queues.queue(channel).getJob(sendJobId(notificationId, channel)),
      em
        .getConnection()
        .execute(
          `select status, provider_message_id, claimed_at < now() - (? * interval '1 millisecond') as stale from send_records where notification_id = ? and channel = ?`,
          [config.sendRecordStaleMs ?? 60_000, notificationId, channel],
        ),
    ]);
    let jobState: DeadlineObservation['job'] = 'missing';
    if (job) {
      const state = await job.getState();
      jobState =
        state === 'completed'
          ? 'completed'
          : state === 'failed'
            ? 'failed'
            : state === 'active'
              ? 'active'
              : state === 'unknown'
                ? 'missing'
                : 'queued';
    }
    return {
      job: jobState,
      jobError: job?.failedReason,
      jobFailedByInfrastructure: jobState === 'failed' && isStalledFailure(job?.failedReason),
      sendRecord: (record?.status as DeadlineObservation['sendRecord']) ?? null,
      claimStale: record?.stale === true,
      providerMessageId: record?.provider_message_id ?? null,
      attempts: job?.attemptsMade,
    };
  }

  return { reconcileRow, horizonMs };
}

/** BullMQ gives a job up as stalled when its worker lost the lock too often: our infrastructure, not a provider. */
function isStalledFailure(reason: string | undefined): boolean {
  return !!reason && /stalled more than allowable limit/i.test(reason);
}

import type { EntityManager } from '@mikro-orm/postgresql';
import type { Job } from 'bullmq';
import { sendJobId, type Channel } from '../src/domain/channels';
import {
  applyOutcome,
  onDeadline,
  type ChannelRecord,
  type ChannelRecords,
  type DeadlineAction,
  type DeadlineObservation,
  type NotificationView,
} from '../src/domain/notification-lifecycle';
import type { SendQueues } from '../src/delivery/send-queues';
import {
  cancelSendRecords,
  finalError,
  writeReconciledRow,
  type EventRow,
} from '../src/state/notification-store';
import type { ActivityDeps } from './deps';
import type { EventSpec } from './event-spec';

/** Default of INFRA_RETRY_HORIZON_MS (docs/contracts.md, "Durability invariants"). */
export const DEFAULT_INFRA_HORIZON_MS = 24 * 3600 * 1000;

type ReconcilerDeps = Pick<ActivityDeps, 'orm' | 'queues' | 'config'>;

/**
 * The deadline reconcile of one notification (docs/contracts.md, "Notification lifecycle" and
 * "Durability invariants"), shared by event workflows and campaigns: each open channel past its deadline
 * is observed (job, send record) and decided by the lifecycle's `onDeadline`; the row is written with an
 * optimistic version check, then jobs are handed off again and failed channels' send records closed.
 */
export function createReconciler(deps: ReconcilerDeps) {
  return {
    reconcileRow: (em: EntityManager, spec: EventSpec, row: EventRow, nowMs: number) =>
      reconcileRow(deps, em, spec, row, nowMs),
    horizonMs: (spec: Pick<EventSpec, 'infraHorizonMs'>) => horizonMs(deps.config, spec),
  };
}

export type Reconciler = ReturnType<typeof createReconciler>;

function horizonMs(config: ReconcilerDeps['config'], spec: Pick<EventSpec, 'infraHorizonMs'>): number {
  return spec.infraHorizonMs ?? config.infraRetryHorizonMs ?? DEFAULT_INFRA_HORIZON_MS;
}

/** The row as the deadline decisions leave it, and the work they ask for once it is written. */
interface RowDecisions {
  view: NotificationView;
  /** Channels a fallback or retry opened: new jobs. */
  enqueue: Channel[];
  /** Channels whose job our infrastructure lost: the same job again. */
  handOffAgain: Channel[];
  /** Channels that failed or expired: their send records are closed. */
  cancel: Channel[];
}

/** One sending row at its deadline: each expired open channel observed and decided; false when a worker changed the row meanwhile. */
async function reconcileRow(
  deps: ReconcilerDeps,
  em: EntityManager,
  spec: EventSpec,
  row: EventRow,
  nowMs: number,
): Promise<boolean> {
  const expired = channelsPastDeadline(row, nowMs);
  if (expired.length === 0) return false;
  const decided = await decideExpiredChannels(deps, em, spec, row, expired, nowMs);
  // A worker recorded an outcome meanwhile: this row is looked at again at the next wake-up.
  if (!(await writeReconciledRow(em, row, decided.view))) return false;
  Object.assign(row, {
    state: decided.view.state,
    channel_states: decided.view.channels,
    error: finalError(decided.view.state, decided.view.channels),
  });
  await carryOutDecisions(deps.queues, em, row, decided);
  return true;
}

function channelsPastDeadline(row: EventRow, nowMs: number): [Channel, ChannelRecord][] {
  return (Object.entries(row.channel_states) as [Channel, NonNullable<ChannelRecords[Channel]>][]).filter(
    ([, r]) => r.state === 'queued' && r.deadlineAt && Date.parse(r.deadlineAt) <= nowMs,
  );
}

/** Observes and decides each expired channel in turn; every decision sees the view the previous ones left. */
async function decideExpiredChannels(
  deps: ReconcilerDeps,
  em: EntityManager,
  spec: EventSpec,
  row: EventRow,
  expired: [Channel, ChannelRecord][],
  nowMs: number,
): Promise<RowDecisions> {
  const decided: RowDecisions = {
    view: { state: row.state, channels: row.channel_states, fallbacks: row.fallbacks },
    enqueue: [],
    handOffAgain: [],
    cancel: [],
  };
  const times = {
    nowMs,
    deadlineAt: new Date(nowMs + spec.deliveryDeadlineMs).toISOString(),
    deliveryDeadlineMs: spec.deliveryDeadlineMs,
  };
  for (const [channel, record] of expired) {
    const decision = onDeadline(channel, record, await observe(deps, em, row.id, channel), {
      nowMs,
      horizonMs: horizonMs(deps.config, spec),
    });
    applyDecision(decided, channel, record, decision, times);
  }
  return decided;
}

/** Folds one channel's deadline decision into the row's view and the work to do. */
function applyDecision(
  decided: RowDecisions,
  channel: Channel,
  record: ChannelRecord,
  decision: DeadlineAction,
  times: { nowMs: number; deadlineAt: string; deliveryDeadlineMs: number },
): void {
  const { deadlineAt } = times;
  // A record from before hand-off times were kept starts its horizon now.
  const queuedAt = record.queuedAt ?? new Date(times.nowMs).toISOString();
  if (decision.action === 'extend') {
    decided.view = withChannel(decided.view, channel, { ...record, deadlineAt, queuedAt });
  } else if (decision.action === 'hand_off_again') {
    const handOffs = (record.handOffs ?? 1) + 1;
    decided.view = withChannel(decided.view, channel, { ...record, deadlineAt, queuedAt, handOffs });
    decided.handOffAgain.push(channel);
  } else {
    const step = applyOutcome(decided.view, decision.outcome, times.nowMs, times.deliveryDeadlineMs);
    decided.view = step;
    decided.enqueue.push(...step.enqueue);
    decided.cancel.push(...step.cancelSendRecords);
  }
}

function withChannel(view: NotificationView, channel: Channel, record: ChannelRecord): NotificationView {
  return { ...view, channels: { ...view.channels, [channel]: record } };
}

/** After the row is written: closes failed channels' send records, hands lost jobs off again, enqueues new channels. */
async function carryOutDecisions(
  queues: SendQueues,
  em: EntityManager,
  row: EventRow,
  decided: RowDecisions,
): Promise<void> {
  await cancelSendRecords(em, row.id, decided.cancel);
  for (const channel of decided.handOffAgain)
    await queues.enqueue({ notificationId: row.id, channel }, row.priority);
  for (const channel of decided.enqueue) await queues.enqueueBulk(channel, [row.id], row.priority);
}

/** Reads the job and the send record of one channel of one notification. */
async function observe(
  deps: ReconcilerDeps,
  em: EntityManager,
  notificationId: string,
  channel: Channel,
): Promise<DeadlineObservation> {
  const [job, record] = await Promise.all([
    deps.queues.queue(channel).getJob(sendJobId(notificationId, channel)),
    readSendRecord(em, notificationId, channel, deps.config.sendRecordStaleMs ?? 60_000),
  ]);
  const jobState = await jobStateOf(job);
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

interface SendRecordRow {
  status: string;
  provider_message_id: string | null;
  /** Claimed longer ago than SEND_RECORD_STALE_MS. */
  stale: boolean | null;
}

async function readSendRecord(
  em: EntityManager,
  notificationId: string,
  channel: Channel,
  staleMs: number,
): Promise<SendRecordRow | undefined> {
  const [record]: SendRecordRow[] = await em
    .getConnection()
    .execute(
      `select status, provider_message_id, claimed_at < now() - (? * interval '1 millisecond') as stale from send_records where notification_id = ? and channel = ?`,
      [staleMs, notificationId, channel],
    );
  return record;
}

/** The job's BullMQ state in the lifecycle's terms: waiting, delayed and prioritized jobs are all queued. */
async function jobStateOf(job: Job | undefined): Promise<DeadlineObservation['job']> {
  if (!job) return 'missing';
  const state = await job.getState();
  if (state === 'completed' || state === 'failed' || state === 'active') return state;
  return state === 'unknown' ? 'missing' : 'queued';
}

/** BullMQ gives a job up as stalled when its worker lost the lock too often: our infrastructure, not a provider. */
function isStalledFailure(reason: string | undefined): boolean {
  return !!reason && /stalled more than allowable limit/i.test(reason);
}

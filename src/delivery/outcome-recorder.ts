import type { EntityManager } from '@mikro-orm/postgresql';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Channel } from '../domain/channels';
import { applyOutcome, type ChannelRecords, type NotificationView } from '../domain/notification-lifecycle';
import type { ChannelOutcome, NotificationState } from '../domain/notification-status';
import type { Priority } from '../domain/priorities';
import { MESSAGES } from '../domain/workflow-messages';
import type { SendQueues } from './send-queues';

/** What a channel worker reads of a notification before it sends (one statement). */
export interface StoredNotification extends NotificationView {
  id: string;
  recipientId: string;
  eventId: string;
  workflowId: string;
  priority: Priority;
  content: Record<string, unknown>;
  version: number;
  /** 1: release-0 notificationWorkflow (outcomes by signal); 2: the lean event path (outcomes in Postgres). */
  lifecycle: number;
}

export async function loadStoredNotification(em: EntityManager, id: string): Promise<StoredNotification | null> {
  const [row] = await em.getConnection().execute(
    `select id, recipient_id, event_id, workflow_id, priority, content, state, channel_states, fallbacks, version, lifecycle
       from notifications where id = ?`,
    [id],
  );
  return row ? toStored(row) : null;
}

function toStored(row: Record<string, unknown>): StoredNotification {
  return {
    id: row.id as string,
    recipientId: row.recipient_id as string,
    eventId: row.event_id as string,
    workflowId: row.workflow_id as string,
    priority: row.priority as Priority,
    content: (row.content ?? {}) as Record<string, unknown>,
    state: row.state as NotificationState,
    channels: (row.channel_states ?? {}) as ChannelRecords,
    fallbacks: (row.fallbacks ?? {}) as Partial<Record<Channel, Channel>>,
    version: Number(row.version),
    lifecycle: Number(row.lifecycle),
  };
}

/** Wakes the event workflow once its open channels are all settled (signal `outcomesReady`). */
export type Waker = (workflowId: string) => Promise<void>;

export function temporalWaker(client: Client): Waker {
  return async (workflowId) => {
    try {
      await client.workflow.getHandle(workflowId).signal(MESSAGES.outcomesReady);
    } catch (err) {
      // Closed already (terminated, or it reconciled at its deadline): Postgres has the outcome.
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  };
}

const MAX_CONFLICTS = 8;

/**
 * Records channel outcomes where they live, in Postgres: the lifecycle step (fallback, final state)
 * is applied with an optimistic version check, the event's open-channel count moves in the same
 * statement, and only the outcome that closes the last open channel wakes the workflow.
 */
export class OutcomeRecorder {
  constructor(
    private readonly queues: Pick<SendQueues, 'enqueueBulk'>,
    private readonly wake: Waker,
    private readonly deliveryDeadlineMs: number,
  ) {}

  async record(em: EntityManager, known: StoredNotification, outcome: ChannelOutcome): Promise<void> {
    let current: StoredNotification | null = known;
    for (let conflicts = 0; current && conflicts < MAX_CONFLICTS; conflicts++) {
      const step = applyOutcome(current, outcome, Date.now(), this.deliveryDeadlineMs);
      if (!step.changed) return;
      const [result] = await em.getConnection().execute(
        `with n as (
           update notifications set state = ?, channel_states = ?::jsonb, error = ?, version = version + 1, updated_at = now()
            where id = ? and version = ? returning event_id),
         e as (
           update notification_events set open_channels = open_channels + ?, updated_at = now()
            where event_id in (select event_id from n) and ? <> 0 returning open_channels)
         select (select count(*) from n)::int as updated, (select open_channels from e) as open_channels`,
        [step.state, JSON.stringify(step.channels), finalError(step.state, step.channels), current.id, current.version, step.openDelta, step.openDelta],
      );
      if (result.updated === 0) {
        current = await loadStoredNotification(em, known.id);
        continue;
      }
      if (step.cancelSendRecords.length > 0) await cancelSendRecords(em, current.id, step.cancelSendRecords);
      for (const channel of step.enqueue) await this.queues.enqueueBulk(channel, [current.id], current.priority);
      if (step.openDelta < 0 && result.open_channels !== null && Number(result.open_channels) <= 0) await this.wake(current.workflowId);
      return;
    }
    if (current) throw new Error(`notification ${known.id}: outcome of ${outcome.channel} not recorded after ${MAX_CONFLICTS} concurrent updates`);
  }
}

/** The error a failed notification shows: its channels' errors. */
export function finalError(state: NotificationState, channels: ChannelRecords): string | null {
  if (state !== 'failed') return null;
  const errors = Object.entries(channels)
    .filter(([, r]) => r?.state === 'failed' && r.error)
    .map(([c, r]) => `${c}: ${r!.error}`);
  return errors.length ? errors.join('; ') : null;
}

/** Closes channels' send records so a late pickup of their job skips the provider; a sent record stays sent. */
export async function cancelSendRecords(em: EntityManager, notificationId: string, channels: Channel[]): Promise<void> {
  await em.getConnection().execute(
    `insert into send_records (notification_id, channel, status)
     select ?, c, 'cancelled' from jsonb_array_elements_text(?::jsonb) as c
     on conflict (notification_id, channel) do update set status = 'cancelled' where send_records.status in ('failed', 'cancelled')`,
    [notificationId, JSON.stringify(channels)],
  );
}

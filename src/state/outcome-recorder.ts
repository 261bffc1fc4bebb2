import type { EntityManager } from '@mikro-orm/postgresql';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import {
  applyOutcome,
  publicChannels,
  type NotificationView,
  type Step,
} from '../domain/notification-lifecycle';
import type { ChannelOutcome, NotificationState } from '../domain/notification-status';
import type { Priority } from '../domain/priorities';
import { MESSAGES, type OutcomesReport } from '../domain/workflow-messages';
import type { SendQueues } from '../delivery/send-queues';
import { cancelSendRecords, writeOutcome, writeSentOutcome, type SentAttempt } from './notification-store';
import { contentOf } from './notification-contents';

export { cancelSendRecords, type SentAttempt } from './notification-store';

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
  /** The recipient's addresses, read in the same statement (null when the recipient was deleted). */
  recipient: {
    id: string;
    email: string | null;
    phone: string | null;
    webhookUrl: string | null;
    webhookSecrets: string[];
  } | null;
}

/** The notification a job names, with its recipient's addresses: one round trip. */
export async function loadStoredNotification(
  em: EntityManager,
  id: string,
): Promise<StoredNotification | null> {
  const [row] = await em.getConnection().execute(
    `select n.id, n.recipient_id, n.event_id, n.workflow_id, n.priority, ${contentOf('n')} as content, n.state, n.channel_states, n.fallbacks, n.version, n.lifecycle,
            r.id as r_id, r.email as r_email, r.phone as r_phone, r.webhook_url as r_webhook_url, r.webhook_secret as r_webhook_secret,
            case when r.webhook_secret_previous_until > now() then r.webhook_secret_previous end as r_webhook_secret_previous
       from notifications n left join recipients r on r.id = n.recipient_id where n.id = ?`,
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
    channels: row.channel_states ?? {},
    fallbacks: row.fallbacks ?? {},
    version: Number(row.version),
    lifecycle: Number(row.lifecycle),
    recipient: row.r_id
      ? {
          id: row.r_id as string,
          email: (row.r_email as string) ?? null,
          phone: (row.r_phone as string) ?? null,
          webhookUrl: (row.r_webhook_url as string) ?? null,
          // Current first, then the previous one while its rotation lasts (both sign).
          webhookSecrets: [row.r_webhook_secret, row.r_webhook_secret_previous].filter(
            (x): x is string => typeof x === 'string' && x !== '',
          ),
        }
      : null,
  };
}

/** Wakes the event workflow once its open channels are all settled (signal `outcomesReady`). */
export type Waker = (workflowId: string, report?: OutcomesReport) => Promise<void>;

export function temporalWaker(client: Client): Waker {
  return async (workflowId, report) => {
    try {
      await (report
        ? client.workflow.getHandle(workflowId).signal(MESSAGES.outcomesReady, report)
        : client.workflow.getHandle(workflowId).signal(MESSAGES.outcomesReady));
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

  /**
   * A send the provider accepted: the send record turns `sent`, the attempt row is written and the
   * outcome applied, in one statement (all or nothing, so `sent` is never recorded without its attempt).
   * A concurrent update of the row (another channel's outcome) leaves the outcome to `record`.
   */
  async recordSent(
    em: EntityManager,
    known: StoredNotification,
    outcome: ChannelOutcome,
    sent: SentAttempt,
  ): Promise<void> {
    const step = applyOutcome(known, outcome, Date.now(), this.deliveryDeadlineMs);
    const result = await writeSentOutcome(em, known.id, known.version, outcome, sent, step);
    if (!step.changed) return;
    if (result.updated === 0) return this.record(em, known, outcome);
    await this.afterStep(em, known, step, result.open_channels);
  }

  async record(em: EntityManager, known: StoredNotification, outcome: ChannelOutcome): Promise<void> {
    let current: StoredNotification | null = known;
    for (let conflicts = 0; current && conflicts < MAX_CONFLICTS; conflicts++) {
      const step = applyOutcome(current, outcome, Date.now(), this.deliveryDeadlineMs);
      if (!step.changed) return;
      const result = await writeOutcome(em, current.id, current.version, step);
      if (result.updated === 0) {
        current = await loadStoredNotification(em, known.id);
        continue;
      }
      await this.afterStep(em, current, step, result.open_channels);
      return;
    }
    if (current)
      throw new Error(
        `notification ${known.id}: outcome of ${outcome.channel} not recorded after ${MAX_CONFLICTS} concurrent updates`,
      );
  }

  /** What a recorded step asks for: close the failed channel's send record, hand off its fallback, wake the workflow. */
  private async afterStep(
    em: EntityManager,
    notification: StoredNotification,
    step: Step,
    openChannels: unknown,
  ): Promise<void> {
    if (step.cancelSendRecords.length > 0)
      await cancelSendRecords(em, notification.id, step.cancelSendRecords);
    for (const channel of step.enqueue)
      await this.queues.enqueueBulk(channel, [notification.id], notification.priority);
    if (step.openDelta < 0 && openChannels !== null && Number(openChannels) <= 0)
      await this.wake(notification.workflowId, deliveredReport(notification, step));
  }
}

/**
 * The closing notification, when every channel it sent on was delivered: enough for a one-recipient
 * event to finish. A channel that failed (even one a fallback covered) carries a provider's text, which
 * stays out of Temporal: then the workflow reads the row instead.
 */
function deliveredReport(notification: StoredNotification, step: Step): OutcomesReport | undefined {
  if (step.state !== 'delivered') return undefined;
  const channels = publicChannels(step.channels);
  if (Object.values(channels).some((r) => r?.state === 'failed' || r?.error)) return undefined;
  return {
    recipients: [
      { userId: notification.recipientId, notificationId: notification.id, state: 'delivered', channels },
    ],
  };
}

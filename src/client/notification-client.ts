import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { parseBusinessEvent, type BusinessEvent, type BusinessEventInput, type DeliveryOptions } from '../domain/business-event';
import { EVENT_CATALOG } from '../domain/event-catalog';
import type { EventResult } from '../domain/notification-request';
import type { NotificationStatus } from '../domain/notification-status';
import { eventWorkflowId, notificationWorkflowId } from '../domain/workflow-ids';
import { NotificationEventId, NotificationEventType, NotificationUserId } from '../temporal/search-attributes';
import { businessEventWorkflow } from '../../workflows/business-event-workflow';
import { cancelSignal, rescheduleSignal, statusQuery } from '../../workflows/definitions';

export interface PublishResult {
  eventId: string;
  workflowId: string;
  /** False when this event id was submitted before: nothing new was started. */
  started: boolean;
}

/** The original plan's direct send: a template code in place of an event type. */
export interface PublishNotificationInput {
  userId: string;
  templateCode: string;
  variables?: Record<string, unknown>;
  options?: Partial<Omit<DeliveryOptions, 'delayMs'>> & { delay?: number; delayMs?: number };
  /** Idempotency key; default a random one (every call is a new notification). */
  id?: string;
}

export interface PublishBatchNotificationInput extends Omit<PublishNotificationInput, 'userId'> {
  userIds: string[];
}

/** Typed client for other services: publish events and direct sends, cancel, reschedule, read status. */
export class NotificationClient {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  /** Validates the envelope (InvalidEventError names the field) and starts businessEventWorkflow once per event id. */
  async publishEvent(input: BusinessEventInput | unknown): Promise<PublishResult> {
    const event = parseBusinessEvent(input);
    return this.start(event);
  }

  publishNotification(input: PublishNotificationInput): Promise<PublishResult> {
    const { userId, ...rest } = input;
    return this.publishEvent(directEvent(rest, { userId }));
  }

  publishBatchNotification(input: PublishBatchNotificationInput): Promise<PublishResult> {
    const { userIds, ...rest } = input;
    return this.publishEvent(directEvent(rest, { userIds }));
  }

  /** Waits for the event's workflow to finish and returns each recipient's final state. */
  async eventResult(eventId: string): Promise<EventResult> {
    return this.client.workflow.getHandle<typeof businessEventWorkflow>(eventWorkflowId(eventId)).result();
  }

  status(eventId: string, userId: string): Promise<NotificationStatus> {
    return this.statusOf(notificationWorkflowId(eventId, userId));
  }

  statusOf(notificationWorkflowId: string): Promise<NotificationStatus> {
    return this.client.workflow.getHandle(notificationWorkflowId).query(statusQuery);
  }

  async cancel(notificationWorkflowId: string, reason?: string): Promise<void> {
    await this.client.workflow.getHandle(notificationWorkflowId).signal(cancelSignal, { reason });
  }

  async reschedule(notificationWorkflowId: string, sendAt: Date | string): Promise<void> {
    const iso = typeof sendAt === 'string' ? sendAt : sendAt.toISOString();
    if (Number.isNaN(Date.parse(iso))) throw new Error(`reschedule: sendAt "${iso}" is not a date`);
    await this.client.workflow.getHandle(notificationWorkflowId).signal(rescheduleSignal, { sendAt: new Date(iso).toISOString() });
  }

  private async start(event: BusinessEvent): Promise<PublishResult> {
    const workflowId = eventWorkflowId(event.id);
    const eventType = event.type ?? `direct:${event.templateCode}`;
    try {
      await this.client.workflow.start(businessEventWorkflow, {
        taskQueue: this.taskQueue,
        workflowId,
        args: [event],
        // The same event id never runs twice, even after the first run closed.
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        typedSearchAttributes: [
          { key: NotificationEventId, value: event.id },
          { key: NotificationEventType, value: eventType },
          ...(event.userId ? [{ key: NotificationUserId, value: event.userId }] : []),
        ],
        memo: eventMemo(event),
      });
      return { eventId: event.id, workflowId, started: true };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return { eventId: event.id, workflowId, started: false };
      throw err;
    }
  }
}

/** What an operator sees in the Web UI's memo column: the template and channels the event uses. */
function eventMemo(event: BusinessEvent): Record<string, unknown> {
  const definition = event.type ? EVENT_CATALOG[event.type] : undefined;
  return {
    templateCode: definition?.templateCode ?? event.templateCode,
    channels: event.options.channels ?? definition?.channels ?? 'template default',
  };
}

function directEvent(
  input: Omit<PublishNotificationInput, 'userId'>,
  recipients: { userId?: string; userIds?: string[] },
): BusinessEventInput {
  const { delay, delayMs, ...options } = input.options ?? {};
  return {
    id: input.id ?? `direct_${randomUUID()}`,
    templateCode: input.templateCode,
    occurredAt: new Date().toISOString(),
    ...recipients,
    data: input.variables ?? {},
    options: { ...options, delayMs: delayMs ?? delay ?? 0 },
  };
}

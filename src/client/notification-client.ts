import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { parseBusinessEvent, type BusinessEvent, type BusinessEventInput, type DeliveryOptions } from '../domain/business-event';
import { parseCampaign, type CampaignDefinition, type CampaignInput, type CampaignProgress, type CampaignWorkflowInput } from '../domain/campaign';
import { EVENT_CATALOG } from '../domain/event-catalog';
import type { EventResult } from '../domain/notification-request';
import type { NotificationStatus } from '../domain/notification-status';
import { CAMPAIGN_EVENT_TYPE, campaignEventId, campaignWorkflowId, eventWorkflowId, notificationWorkflowId } from '../domain/workflow-ids';
import { NotificationEventId, NotificationEventType, NotificationUserId } from '../temporal/search-attributes';
import { businessEventWorkflow } from '../../workflows/business-event-workflow';
import { campaignWorkflow } from '../../workflows/campaign-workflow';
import { campaignProgressQuery, cancelSignal, rescheduleSignal, statusQuery } from '../../workflows/definitions';

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

export interface ScheduleCampaignResult {
  campaignId: string;
  workflowId: string;
  /** False when a campaign with this id was scheduled before: nothing new was started. */
  started: boolean;
  /** The validated definition with defaults applied (id, scheduledAt, priority low). */
  campaign: CampaignDefinition;
}

/** How a campaign pages through its segment (CampaignWorkflowInput); the defaults suit production. */
export type CampaignPagingOptions = Pick<CampaignWorkflowInput, 'pageSize' | 'pagesPerRun'>;

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

  /**
   * Validates a campaign (InvalidCampaignError names the field) and starts campaignWorkflow once per
   * campaign id (`campaign-<id>`); its first activity stores the campaigns row.
   */
  async scheduleCampaign(input: CampaignInput | unknown, paging: CampaignPagingOptions = {}): Promise<ScheduleCampaignResult> {
    const campaign = parseCampaign(input);
    const workflowId = campaignWorkflowId(campaign.id);
    try {
      await this.client.workflow.start(campaignWorkflow, {
        taskQueue: this.taskQueue,
        workflowId,
        args: [{ campaignId: campaign.id, campaign, ...paging }],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        typedSearchAttributes: [
          { key: NotificationEventId, value: campaignEventId(campaign.id) },
          { key: NotificationEventType, value: CAMPAIGN_EVENT_TYPE },
        ],
        memo: { name: campaign.name, templateCode: campaign.templateCode },
      });
      return { campaignId: campaign.id, workflowId, started: true, campaign };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return { campaignId: campaign.id, workflowId, started: false, campaign };
      throw err;
    }
  }

  /** The campaign workflow's `campaignProgress` query (needs a running workflow worker). */
  campaignProgress(campaignId: string): Promise<CampaignProgress> {
    return this.client.workflow.getHandle(campaignWorkflowId(campaignId)).query(campaignProgressQuery);
  }

  /** Waits until the campaign has started every notification (or was cancelled). */
  campaignResult(campaignId: string): Promise<CampaignProgress> {
    return this.client.workflow.getHandle<typeof campaignWorkflow>(campaignWorkflowId(campaignId)).result();
  }

  /** Stops the campaign: nothing is sent if it still waits; if it runs, no new notifications start. */
  async cancelCampaign(campaignId: string, reason?: string): Promise<void> {
    await this.client.workflow.getHandle(campaignWorkflowId(campaignId)).signal(cancelSignal, { reason });
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

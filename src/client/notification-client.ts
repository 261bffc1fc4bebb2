import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy, type SignalDefinition, type UpdateDefinition } from '@temporalio/common';
import {
  parseBusinessEvent,
  type BusinessEvent,
  type BusinessEventInput,
  type DeliveryOptions,
} from '../domain/business-event';
import {
  parseCampaign,
  type CampaignDefinition,
  type CampaignInput,
  type CampaignProgress,
  type CampaignWorkflowInput,
} from '../domain/campaign';
import { startEventWorkflow } from '../temporal/start-event-workflow';
import type { EventResult } from '../domain/notification-request';
import type { NotificationStatus } from '../domain/notification-status';
import {
  CAMPAIGN_EVENT_TYPE,
  campaignEventId,
  campaignWorkflowId,
  eventWorkflowId,
} from '../domain/workflow-ids';
import { isRelease0Workflow, release0StatusWorkflow } from '../release-0/notification-workflows';
import { NotificationEventId, NotificationEventType } from '../temporal/search-attributes';
import { businessEventWorkflow } from '../../workflows/business-event-workflow';
import { campaignWorkflow } from '../../workflows/campaign-workflow';
import {
  campaignProgressQuery,
  cancelSignal,
  cancelUpdate,
  rescheduleSignal,
  rescheduleUpdate,
  statusQuery,
} from '../../workflows/definitions';

export interface PublishResult {
  eventId: string;
  workflowId: string;
  /**
   * False when this event id is running or completed: nothing new was started. True for a new id, and for
   * an id whose last run failed, was terminated, timed out or was cancelled: that run starts again.
   */
  started: boolean;
}

/** The shop integration's direct send: a template code in place of an event type. */
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
/**
 * Recipients per fan-out page of the campaigns this client starts (the workflow's ceiling): each page costs
 * an activity round trip through Temporal, so fewer, larger pages deliver faster (docs/performance.md).
 */
const CAMPAIGN_PAGE_SIZE = 2500;

/** One notification (an event's recipient), or every notification of an event when userId is omitted. */
export interface NotificationTarget {
  eventId: string;
  userId?: string;
}

export interface NotificationClientOptions {
  /** Task queue of campaignWorkflow (docs/contracts.md); default `<taskQueue>-campaigns`. */
  campaignTaskQueue?: string;
  /**
   * Ask the server to hand the first workflow task straight back to a worker in this process
   * (eager workflow start). Only valid when the Client is built on the NativeConnection of a
   * running workflow worker on the same task queue.
   */
  eagerStart?: boolean;
}

/** Typed client for other services: publish events and direct sends, cancel, reschedule, read status. */
export class NotificationClient {
  private readonly campaignTaskQueue: string;

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly options: NotificationClientOptions = {},
  ) {
    this.campaignTaskQueue = options.campaignTaskQueue ?? campaignTaskQueueFor(taskQueue);
  }

  /** Validates the envelope (InvalidEventError names the field), then starts it (startEvent). */
  async publishEvent(input: BusinessEventInput | unknown): Promise<PublishResult> {
    return this.startEvent(parseBusinessEvent(input));
  }

  async publishNotification(input: PublishNotificationInput): Promise<PublishResult> {
    const { userId, ...send } = input;
    return this.startEvent(parseDirectSend(send, { userId }));
  }

  async publishBatchNotification(input: PublishBatchNotificationInput): Promise<PublishResult> {
    const { userIds, ...send } = input;
    return this.startEvent(parseDirectSend(send, { userIds }));
  }

  /** Waits for the event's workflow to finish and returns each recipient's final state. */
  async eventResult(eventId: string): Promise<EventResult> {
    return this.client.workflow.getHandle<typeof businessEventWorkflow>(eventWorkflowId(eventId)).result();
  }

  /** One recipient's notification: the event workflow's `status` query (release-0 events: the notification workflow's). */
  async status(eventId: string, userId: string): Promise<NotificationStatus> {
    const handle = this.client.workflow.getHandle(eventWorkflowId(eventId));
    try {
      return await handle.query(statusQuery, { userId });
    } catch (err) {
      const release0 = release0StatusWorkflow(err, eventId, userId);
      if (release0 === null) throw err;
      return this.statusOf(release0);
    }
  }

  /** The status of the only notification of a workflow: a follow-up, or a release-0 notification workflow. */
  statusOf(workflowId: string): Promise<NotificationStatus> {
    return this.client.workflow.getHandle(workflowId).query(statusQuery, {});
  }

  /**
   * Cancels waiting notifications and answers the resulting status (Temporal update, validated: a
   * notification that is already sending is refused with the reason). A string names a workflow
   * (a follow-up, or a release-0 notification workflow, which only takes the signal).
   */
  async cancel(
    target: NotificationTarget | string,
    reason?: string,
  ): Promise<NotificationStatus | undefined> {
    return this.control(target, cancelUpdate, cancelSignal, reason ? { reason } : {});
  }

  /** Moves waiting notifications to a new time (a past time sends now; quiet hours still apply). */
  async reschedule(
    target: NotificationTarget | string,
    sendAt: Date | string,
  ): Promise<NotificationStatus | undefined> {
    const iso = typeof sendAt === 'string' ? sendAt : sendAt.toISOString();
    if (Number.isNaN(Date.parse(iso))) throw new Error(`reschedule: sendAt "${iso}" is not a date`);
    return this.control(target, rescheduleUpdate, rescheduleSignal, { sendAt: new Date(iso).toISOString() });
  }

  /**
   * An event's notifications take the update (no look-up needed). A workflow named by id may instead be
   * a campaign or a release-0 notification workflow, which take the signal: its type decides.
   */
  private async control<R extends { userId?: string }>(
    target: NotificationTarget | string,
    update: UpdateDefinition<NotificationStatus, [R]>,
    signal: SignalDefinition<[R]>,
    request: R,
  ): Promise<NotificationStatus | undefined> {
    if (typeof target !== 'string') {
      const handle = this.client.workflow.getHandle(eventWorkflowId(target.eventId));
      return handle.executeUpdate(update, {
        args: [{ ...request, ...(target.userId ? { userId: target.userId } : {}) }],
      });
    }
    const handle = this.client.workflow.getHandle(target);
    const { type } = await handle.describe();
    if (isRelease0Workflow(type) || type === 'campaignWorkflow') {
      await handle.signal(signal, request);
      return undefined;
    }
    return handle.executeUpdate(update, { args: [request] });
  }

  /**
   * Validates a campaign (InvalidCampaignError names the field) and starts campaignWorkflow once per
   * campaign id (`campaign-<id>`); its first activity stores the campaigns row.
   */
  async scheduleCampaign(
    input: CampaignInput | unknown,
    paging: CampaignPagingOptions = {},
  ): Promise<ScheduleCampaignResult> {
    return this.startCampaign(parseCampaign(input), paging);
  }

  /** Starts campaignWorkflow for a campaign already validated (parseCampaign, or the API's body schema). */
  async startCampaign(
    campaign: CampaignDefinition,
    paging: CampaignPagingOptions = {},
  ): Promise<ScheduleCampaignResult> {
    const workflowId = campaignWorkflowId(campaign.id);
    try {
      await this.client.workflow.start(campaignWorkflow, {
        // Campaigns run on their own task queue: urgent events never wait behind a campaign's tasks.
        taskQueue: this.campaignTaskQueue,
        workflowId,
        args: [{ campaignId: campaign.id, campaign, pageSize: CAMPAIGN_PAGE_SIZE, ...paging }],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        typedSearchAttributes: [
          { key: NotificationEventId, value: campaignEventId(campaign.id) },
          { key: NotificationEventType, value: CAMPAIGN_EVENT_TYPE },
        ],
        memo: { name: campaign.name, templateCode: campaign.templateCode },
      });
      return { campaignId: campaign.id, workflowId, started: true, campaign };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError)
        return { campaignId: campaign.id, workflowId, started: false, campaign };
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

  /**
   * Starts businessEventWorkflow for an envelope already validated (parseBusinessEvent, or the API's body
   * schema) once per event id; again only when the id's last run ended without completing (EVENT_REUSE_POLICY).
   */
  async startEvent(event: BusinessEvent): Promise<PublishResult> {
    const started = await startEventWorkflow(this.client, event, {
      taskQueue: this.taskQueue,
      eagerStart: this.options.eagerStart,
    });
    return { eventId: event.id, workflowId: eventWorkflowId(event.id), started };
  }
}

/**
 * A direct send's envelope, validated. Errors name the template variables `variablesField`: `data` as in the
 * envelope, or what the caller called them (the API's `variables`).
 */
export function parseDirectSend(
  send: Omit<PublishNotificationInput, 'userId'>,
  recipients: { userId: string } | { userIds: string[] },
  variablesField = 'data',
): BusinessEvent {
  const fieldName = (path: string) =>
    path === 'data' || path.startsWith('data.') ? `${variablesField}${path.slice(4)}` : path;
  return parseBusinessEvent(directEvent(send, recipients), fieldName);
}

function directEvent(
  input: Omit<PublishNotificationInput, 'userId'>,
  recipients: { userId: string } | { userIds: string[] },
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

/** Default task queue of campaigns for an event task queue (docs/contracts.md). */
export function campaignTaskQueueFor(taskQueue: string): string {
  return `${taskQueue}-campaigns`;
}

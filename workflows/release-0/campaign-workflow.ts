import {
  condition,
  log,
  makeContinueAsNewFunc,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdReusePolicy,
  type SearchAttributePair,
} from '@temporalio/common';
import type { Activities } from '../../activities';
import type {
  CampaignPlan,
  CampaignProgress,
  CampaignState,
  CampaignWorkflowInput,
} from '../../src/domain/campaign';
import type { NotificationRequest } from '../../src/domain/notification-request';
import { CAMPAIGN_EVENT_TYPE, campaignEventId, notificationWorkflowId } from '../../src/domain/workflow-ids';
import {
  NotificationEventId,
  NotificationEventType,
  NotificationUserId,
} from '../../src/temporal/search-attributes';
import { campaignProgressQuery, cancelSignal, rescheduleSignal } from '../definitions';
import { notificationWorkflow } from './notification-workflow';

const { openCampaign, listCampaignRecipients, recordCampaignProgress } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', backoffCoefficient: 2 },
});

export const DEFAULT_CAMPAIGN_PAGE_SIZE = 200;
/**
 * Each started child adds about three events to this history (initiated, started, and completed
 * when it finishes while this run is open): ten pages of 200 stay far below Temporal's limits.
 */
export const DEFAULT_CAMPAIGN_PAGES_PER_RUN = 10;

/**
 * One marketing campaign: stores it (first activity, idempotent by id), waits durably until its
 * scheduled time (signals `cancel`, `reschedule`), then pages through the segment by recipient id and
 * starts one notificationWorkflow per recipient without waiting for it to finish, continuing as new
 * every few pages with the cursor and counts. Preferences, mute and quiet hours are each child's business.
 * A cancel stops the fan-out before the next page; notifications already started run on.
 * Release 0 only (docs/release-0.md): the commands it issues and their order stay as they are.
 */
export async function campaignWorkflowV0(input: CampaignWorkflowInput): Promise<CampaignProgress> {
  const run = new CampaignRunV0(input);
  let plan: CampaignPlan;
  if (input.resume) {
    plan = input.resume.plan;
  } else {
    plan = await openCampaign({ campaignId: input.campaignId, campaign: input.campaign });
    const ended = await run.waitForStart(plan);
    if (ended) return ended;
  }
  return run.fanOut(plan);
}

/** One run of a release-0 campaign: its progress, signal and query handlers, and its two phases. */
class CampaignRunV0 {
  private readonly campaignId: string;
  private readonly eventId: string;
  private readonly pageSize: number;
  private readonly pagesPerRun: number;
  private readonly searchAttributes: SearchAttributePair[];
  private readonly progress: CampaignProgress;
  private cancelled = false;
  private reschedules = 0;
  private rescheduledAtMs = 0;

  constructor(input: CampaignWorkflowInput) {
    this.campaignId = input.campaignId;
    this.eventId = campaignEventId(input.campaignId);
    this.pageSize = bounded(input.pageSize, DEFAULT_CAMPAIGN_PAGE_SIZE, 1000);
    this.pagesPerRun = bounded(input.pagesPerRun, DEFAULT_CAMPAIGN_PAGES_PER_RUN, 100);
    this.searchAttributes = [
      { key: NotificationEventId, value: this.eventId },
      { key: NotificationEventType, value: CAMPAIGN_EVENT_TYPE },
    ];
    // A client that is not ours (e.g. the temporal CLI) may start us without search attributes.
    if (!workflowInfo().typedSearchAttributes.get(NotificationEventId))
      upsertSearchAttributes(this.searchAttributes);
    this.progress = initialProgress(input);
    this.listen();
  }

  private listen(): void {
    const progress = this.progress;
    setHandler(campaignProgressQuery, () => progress);
    setHandler(cancelSignal, (signal) => {
      if (progress.state === 'completed' || progress.state === 'cancelled') return;
      this.cancelled = true;
      if (signal?.reason) progress.cancelReason = signal.reason;
    });
    setHandler(rescheduleSignal, (signal) => {
      const at = Date.parse(signal?.sendAt ?? '');
      if (progress.state !== 'scheduled' || Number.isNaN(at)) {
        log.warn('reschedule ignored', { sendAt: signal?.sendAt, state: progress.state });
        return;
      }
      this.rescheduledAtMs = at;
      this.reschedules++;
    });
  }

  /**
   * 1. Wait until the scheduled time; a reschedule moves it (and the row), a cancel ends the campaign.
   * Returns the final progress when the campaign ended instead (already ended before, or cancelled).
   */
  async waitForStart(plan: CampaignPlan): Promise<CampaignProgress | undefined> {
    const { campaignId, progress } = this;
    progress.scheduledAt = plan.scheduledAt;
    // A campaign that already ended (a second run of its id) sends nothing again.
    if (plan.state === 'completed' || plan.state === 'cancelled') {
      progress.state = plan.state;
      return progress;
    }
    let seen = 0;
    let startAtMs = Date.parse(plan.scheduledAt);
    for (;;) {
      if (this.reschedules !== seen) {
        seen = this.reschedules;
        startAtMs = this.rescheduledAtMs;
        progress.scheduledAt = new Date(startAtMs).toISOString();
        await recordCampaignProgress({ campaignId, scheduledAt: progress.scheduledAt });
        continue;
      }
      if (this.cancelled) return this.finish('cancelled');
      const remaining = startAtMs - Date.now();
      if (remaining <= 0) break;
      await condition(() => this.cancelled || this.reschedules !== seen, remaining);
    }
    progress.state = 'running';
    await recordCampaignProgress({ campaignId, state: 'running' });
    return undefined;
  }

  /** 2. Fan out, one page at a time: list, then start every child of the page (starts awaited, results not). */
  async fanOut(plan: CampaignPlan): Promise<CampaignProgress> {
    const { campaignId, progress, pageSize } = this;
    for (let pages = 0; ; pages++) {
      if (this.cancelled) return this.finish('cancelled');
      if (pages >= this.pagesPerRun || workflowInfo().continueAsNewSuggested) await this.continueAsNew(plan);
      const page = await listCampaignRecipients({
        campaignId,
        afterUserId: progress.afterUserId,
        limit: pageSize,
      });
      if (this.cancelled) return this.finish('cancelled');
      progress.targeted += page.length;
      const started = await Promise.all(page.map((userId) => this.startNotification(plan, userId)));
      progress.started += started.filter(Boolean).length;
      if (page.length > 0) progress.afterUserId = page[page.length - 1];
      if (page.length < pageSize) return this.finish('completed');
      await recordCampaignProgress({ campaignId, targeted: progress.targeted, started: progress.started });
    }
  }

  private async continueAsNew(plan: CampaignPlan): Promise<never> {
    const { targeted, started, afterUserId, runs } = this.progress;
    return makeContinueAsNewFunc<typeof campaignWorkflowV0>({
      typedSearchAttributes: this.searchAttributes,
      memo: workflowInfo().memo,
    })({
      campaignId: this.campaignId,
      pageSize: this.pageSize,
      pagesPerRun: this.pagesPerRun,
      resume: { plan, afterUserId, targeted, started, runs },
    });
  }

  /** Starts one recipient's notificationWorkflow; false when the campaign already started it. */
  private async startNotification(plan: CampaignPlan, userId: string): Promise<boolean> {
    try {
      await startChild(notificationWorkflow, {
        workflowId: notificationWorkflowId(this.eventId, userId),
        args: [notificationRequest(plan, this.eventId, userId)],
        // Each notification lives on when the campaign is cancelled, terminated or continues as new.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        typedSearchAttributes: [...this.searchAttributes, { key: NotificationUserId, value: userId }],
        memo: { templateCode: plan.templateCode, channels: plan.channels, campaignId: this.campaignId },
      });
      return true;
    } catch (err) {
      // One notification per campaign and recipient, whatever happens to this workflow.
      if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
      throw err;
    }
  }

  private async finish(state: CampaignState): Promise<CampaignProgress> {
    const { campaignId, progress } = this;
    progress.state = state;
    await recordCampaignProgress({
      campaignId,
      state,
      targeted: progress.targeted,
      started: progress.started,
    });
    return progress;
  }
}

function initialProgress(input: CampaignWorkflowInput): CampaignProgress {
  const resume = input.resume;
  return {
    campaignId: input.campaignId,
    state: resume ? 'running' : 'scheduled',
    // The stored time once openCampaign answers; until then the input's (or nothing, for a stored campaign).
    scheduledAt: resume?.plan.scheduledAt ?? input.campaign?.scheduledAt ?? '',
    targeted: resume?.targeted ?? 0,
    started: resume?.started ?? 0,
    afterUserId: resume?.afterUserId ?? null,
    runs: (resume?.runs ?? 0) + 1,
  };
}

function notificationRequest(plan: CampaignPlan, eventId: string, userId: string): NotificationRequest {
  return {
    eventId,
    eventType: CAMPAIGN_EVENT_TYPE,
    templateCode: plan.templateCode,
    category: plan.category,
    userId,
    data: plan.variables,
    options: { priority: plan.priority, delayMs: 0, sendAt: null, channels: plan.channels },
    channels: plan.channels,
    fallbacks: plan.fallbacks,
    deliveryDeadlineMs: plan.deliveryDeadlineMs,
  };
}

function bounded(value: number | undefined, fallback: number, max: number): number {
  return Number.isInteger(value) && value! >= 1 ? Math.min(value!, max) : fallback;
}

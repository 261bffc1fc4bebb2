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
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
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
 */
export async function campaignWorkflowV0(input: CampaignWorkflowInput): Promise<CampaignProgress> {
  const { campaignId } = input;
  const eventId = campaignEventId(campaignId);
  const pageSize = bounded(input.pageSize, DEFAULT_CAMPAIGN_PAGE_SIZE, 1000);
  const pagesPerRun = bounded(input.pagesPerRun, DEFAULT_CAMPAIGN_PAGES_PER_RUN, 100);
  const searchAttributes = [
    { key: NotificationEventId, value: eventId },
    { key: NotificationEventType, value: CAMPAIGN_EVENT_TYPE },
  ];
  // A client that is not ours (e.g. the temporal CLI) may start us without search attributes.
  if (!workflowInfo().typedSearchAttributes.get(NotificationEventId))
    upsertSearchAttributes(searchAttributes);

  const resume = input.resume;
  const progress: CampaignProgress = {
    campaignId,
    state: resume ? 'running' : 'scheduled',
    // The stored time once openCampaign answers; until then the input's (or nothing, for a stored campaign).
    scheduledAt: resume?.plan.scheduledAt ?? input.campaign?.scheduledAt ?? '',
    targeted: resume?.targeted ?? 0,
    started: resume?.started ?? 0,
    afterUserId: resume?.afterUserId ?? null,
    runs: (resume?.runs ?? 0) + 1,
  };
  let cancelled = false;
  let reschedules = 0;
  let rescheduledAtMs = 0;
  setHandler(campaignProgressQuery, () => progress);
  setHandler(cancelSignal, (signal) => {
    if (progress.state === 'completed' || progress.state === 'cancelled') return;
    cancelled = true;
    if (signal?.reason) progress.cancelReason = signal.reason;
  });
  setHandler(rescheduleSignal, (signal) => {
    const at = Date.parse(signal?.sendAt ?? '');
    if (progress.state !== 'scheduled' || Number.isNaN(at)) {
      log.warn('reschedule ignored', { sendAt: signal?.sendAt, state: progress.state });
      return;
    }
    rescheduledAtMs = at;
    reschedules++;
  });

  const finish = async (state: CampaignState): Promise<CampaignProgress> => {
    progress.state = state;
    await recordCampaignProgress({
      campaignId,
      state,
      targeted: progress.targeted,
      started: progress.started,
    });
    return progress;
  };

  let plan: CampaignPlan;
  if (resume) {
    plan = resume.plan;
  } else {
    plan = await openCampaign({ campaignId, campaign: input.campaign });
    progress.scheduledAt = plan.scheduledAt;
    // A campaign that already ended (a second run of its id) sends nothing again.
    if (plan.state === 'completed' || plan.state === 'cancelled') {
      progress.state = plan.state;
      return progress;
    }

    // 1. Wait until the scheduled time; a reschedule moves it (and the row), a cancel ends the campaign.
    let seen = 0;
    let startAtMs = Date.parse(plan.scheduledAt);
    for (;;) {
      if (reschedules !== seen) {
        seen = reschedules;
        startAtMs = rescheduledAtMs;
        progress.scheduledAt = new Date(startAtMs).toISOString();
        await recordCampaignProgress({ campaignId, scheduledAt: progress.scheduledAt });
        continue;
      }
      if (cancelled) return finish('cancelled');
      const remaining = startAtMs - Date.now();
      if (remaining <= 0) break;
      await condition(() => cancelled || reschedules !== seen, remaining);
    }
    progress.state = 'running';
    await recordCampaignProgress({ campaignId, state: 'running' });
  }

  // 2. Fan out, one page at a time: list, then start every child of the page (starts awaited, results not).
  const request = (userId: string): NotificationRequest => ({
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
  });
  const startNotification = async (userId: string): Promise<boolean> => {
    try {
      await startChild(notificationWorkflow, {
        workflowId: notificationWorkflowId(eventId, userId),
        args: [request(userId)],
        // Each notification lives on when the campaign is cancelled, terminated or continues as new.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        typedSearchAttributes: [...searchAttributes, { key: NotificationUserId, value: userId }],
        memo: { templateCode: plan.templateCode, channels: plan.channels, campaignId },
      });
      return true;
    } catch (err) {
      // One notification per campaign and recipient, whatever happens to this workflow.
      if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
      throw err;
    }
  };

  for (let pages = 0; ; pages++) {
    if (cancelled) return finish('cancelled');
    if (pages >= pagesPerRun || workflowInfo().continueAsNewSuggested) {
      const { targeted, started, afterUserId, runs } = progress;
      await makeContinueAsNewFunc<typeof campaignWorkflowV0>({
        typedSearchAttributes: searchAttributes,
        memo: workflowInfo().memo,
      })({
        campaignId,
        pageSize,
        pagesPerRun,
        resume: { plan, afterUserId, targeted, started, runs },
      });
    }
    const page = await listCampaignRecipients({
      campaignId,
      afterUserId: progress.afterUserId,
      limit: pageSize,
    });
    if (cancelled) return finish('cancelled');
    progress.targeted += page.length;
    const started = await Promise.all(page.map(startNotification));
    progress.started += started.filter(Boolean).length;
    if (page.length > 0) progress.afterUserId = page[page.length - 1];
    if (page.length < pageSize) return finish('completed');
    await recordCampaignProgress({ campaignId, targeted: progress.targeted, started: progress.started });
  }
}

function bounded(value: number | undefined, fallback: number, max: number): number {
  return Number.isInteger(value) && value! >= 1 ? Math.min(value!, max) : fallback;
}

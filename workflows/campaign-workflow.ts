import {
  condition,
  log,
  makeContinueAsNewFunc,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type {
  CampaignPlan,
  CampaignProgress,
  CampaignState,
  CampaignWorkflowInput,
} from '../src/domain/campaign';
import { addWakeTime, splitDue } from '../src/domain/notification-lifecycle';
import { CAMPAIGN_EVENT_TYPE, campaignEventId } from '../src/domain/workflow-ids';
import { NotificationEventId, NotificationEventType } from '../src/temporal/search-attributes';
import { campaignProgressQuery, cancelSignal, rescheduleSignal } from './definitions';
import { PATCHES } from './patches';
import { release0Campaign } from './release-0';

/**
 * Campaign activities touch only our own Postgres and Redis: retried with capped backoff for as long as
 * an outage lasts (docs/contracts.md, "Durability invariants"); the workflow holds the pending activity.
 */
const { openCampaign, recordCampaignProgress } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '5 minutes', backoffCoefficient: 2 },
});
/** Bulk pages: heartbeating (a page may wait for the queues to drain), retried idempotently. */
const { fanOutCampaignPage, dispatchCampaignDue, settleCampaign } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '5 minutes', backoffCoefficient: 2 },
});

export const DEFAULT_CAMPAIGN_PAGE_SIZE = 500;
/** Each page adds about six events (scheduled, started, completed, two workflow task events): far below 10k per run. */
export const DEFAULT_CAMPAIGN_PAGES_PER_RUN = 200;
/** Settle rounds (an activity and a timer, about eight events each) per run before continuing as new. */
const SETTLE_ROUNDS_PER_RUN = 200;
const SETTLE_WAITS_MS = [1000, 2000, 5000];

/**
 * One marketing campaign: stores it (first activity, idempotent by id), waits durably until its
 * scheduled time (signals `cancel`, `reschedule`), then fans out page by page as bulk activities on
 * the campaign task queue, continuing as new with the cursor. Recipients in quiet hours are parked
 * in Postgres; the workflow keeps one timer per distinct wake-up time and sends them when it comes.
 */
export async function campaignWorkflow(input: CampaignWorkflowInput): Promise<CampaignProgress> {
  const release0 = release0Campaign(input);
  if (release0) return release0;
  const { campaignId } = input;
  const eventId = campaignEventId(campaignId);
  const pageSize = bounded(input.pageSize, DEFAULT_CAMPAIGN_PAGE_SIZE, 1000);
  const pagesPerRun = bounded(input.pagesPerRun, DEFAULT_CAMPAIGN_PAGES_PER_RUN, 1000);
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
    scheduledAt: resume?.plan.scheduledAt ?? input.campaign?.scheduledAt ?? '',
    targeted: resume?.targeted ?? 0,
    started: resume?.started ?? 0,
    afterUserId: resume?.afterUserId ?? null,
    runs: (resume?.runs ?? 0) + 1,
    wakeTimes: resume?.wakeTimes ?? [],
  };
  let fannedOut = resume?.fannedOut ?? false;
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
    if (progress.state !== 'scheduled' || Number.isNaN(at))
      return log.warn('reschedule ignored', { sendAt: signal?.sendAt, state: progress.state });
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

  const continueAsNew = () =>
    makeContinueAsNewFunc<typeof campaignWorkflow>({
      typedSearchAttributes: searchAttributes,
      memo: workflowInfo().memo,
    })({
      campaignId,
      pageSize,
      pagesPerRun,
      resume: {
        plan,
        afterUserId: progress.afterUserId,
        targeted: progress.targeted,
        started: progress.started,
        runs: progress.runs,
        wakeTimes: progress.wakeTimes,
        fannedOut,
      },
    });

  // 2. Fan out: one bulk activity per page of the segment, in recipient id order.
  for (let pages = 0; !fannedOut; pages++) {
    if (cancelled) return finish('cancelled');
    if (pages >= pagesPerRun || workflowInfo().continueAsNewSuggested) await continueAsNew();
    const page = await fanOutCampaignPage({ plan, afterUserId: progress.afterUserId, pageSize });
    progress.targeted += page.targeted;
    progress.started += page.started;
    progress.afterUserId = page.afterUserId;
    for (const at of page.wakeTimes) progress.wakeTimes = addWakeTime(progress.wakeTimes ?? [], at);
    fannedOut = page.done;
    if (!fannedOut && pages % 10 === 9)
      await recordCampaignProgress({ campaignId, targeted: progress.targeted, started: progress.started });
  }

  // 3. Recipients parked for quiet hours: one timer per distinct wake-up time.
  for (let rounds = 0; (progress.wakeTimes ?? []).length > 0; rounds++) {
    if (cancelled) return finish('cancelled');
    if (rounds >= pagesPerRun || workflowInfo().continueAsNewSuggested) await continueAsNew();
    const next = progress.wakeTimes![0];
    if (next > Date.now()) {
      await recordCampaignProgress({ campaignId, targeted: progress.targeted, started: progress.started });
      await condition(() => cancelled, next - Date.now());
      if (cancelled) return finish('cancelled');
    }
    progress.wakeTimes = splitDue(progress.wakeTimes!, Date.now()).rest;
    const due = await dispatchCampaignDue({ plan });
    for (const at of due.wakeTimes) progress.wakeTimes = addWakeTime(progress.wakeTimes, at);
  }

  // 4. Every notification final (I1): channels past their deadline are reconciled, what our infrastructure
  // lost is handed off again, until none is open; a timer between rounds (I2).
  if (patched(PATCHES.campaignSettles)) {
    for (let rounds = 0; ; rounds++) {
      if (cancelled) return finish('cancelled');
      if (rounds >= SETTLE_ROUNDS_PER_RUN || workflowInfo().continueAsNewSuggested) await continueAsNew();
      const settled = await settleCampaign({ plan, nowMs: Date.now() });
      if (settled.open === 0) break;
      // Look again soon while sends drain (after 1 s, 2 s, then every 5 s: a settle is one indexed query), at the latest at the next deadline.
      const deadline = settled.nextDeadlineMs ?? Date.now() + plan.deliveryDeadlineMs;
      await condition(
        () => cancelled,
        Math.max(
          Math.min(deadline - Date.now(), SETTLE_WAITS_MS[Math.min(rounds, SETTLE_WAITS_MS.length - 1)]),
          1000,
        ),
      );
    }
  }
  return finish('completed');
}

function bounded(value: number | undefined, fallback: number, max: number): number {
  return Number.isInteger(value) && value! >= 1 ? Math.min(value!, max) : fallback;
}

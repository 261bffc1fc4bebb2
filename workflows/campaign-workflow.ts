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
import type { SearchAttributePair } from '@temporalio/common';
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
const { fanOutCampaignPage, dispatchCampaignDue, settleCampaign, releaseStagedCampaign } =
  proxyActivities<Activities>({
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
/** Largest page a campaign may ask for: each page's recipients are admitted in one activity. */
const MAX_CAMPAIGN_PAGE_SIZE = 5000;
/**
 * A staged campaign looks for lost staged jobs this long after its start: by then BullMQ promoted the
 * staged jobs, so the look does not compete with the release itself.
 */
const RELEASE_CHECK_AFTER_MS = 5000;

/**
 * One marketing campaign: stores it (first activity, idempotent by id), waits durably until its
 * scheduled time (signals `cancel`, `reschedule`), then fans out page by page as bulk activities on
 * the campaign task queue, continuing as new with the cursor. Recipients in quiet hours are parked
 * in Postgres; the workflow keeps one timer per distinct wake-up time and sends them when it comes.
 */
export async function campaignWorkflow(input: CampaignWorkflowInput): Promise<CampaignProgress> {
  const release0 = release0Campaign(input);
  if (release0) return release0;
  const run = new CampaignRun(input);
  // A client that is not ours (e.g. the temporal CLI) may start us without search attributes.
  if (!workflowInfo().typedSearchAttributes.get(NotificationEventId))
    upsertSearchAttributes(run.searchAttributes);
  run.registerHandlers();
  return run.run();
}

/** A phase's outcome: the campaign's final progress when the campaign ended there, null to go on. */
type Ended = CampaignProgress | null;

/** One run of a campaign workflow: its progress, what its signals asked for, and its phases in order. */
class CampaignRun {
  private readonly campaignId: string;
  private readonly pageSize: number;
  private readonly pagesPerRun: number;
  readonly searchAttributes: SearchAttributePair[];
  private readonly progress: CampaignProgress;
  /** Known from the start when this run continues an earlier one; else from openCampaign. */
  private plan!: CampaignPlan;
  private fannedOut: boolean;
  /** The start a staged campaign releases its staged notifications at; null when not staged or released. */
  private releaseAtMs: number | null;
  private cancelled = false;
  /** A reschedule signal counts up and leaves its time here; the wait for the start picks it up. */
  private reschedules = 0;
  private rescheduledAtMs = 0;

  constructor(private readonly input: CampaignWorkflowInput) {
    this.campaignId = input.campaignId;
    this.pageSize = bounded(input.pageSize, DEFAULT_CAMPAIGN_PAGE_SIZE, MAX_CAMPAIGN_PAGE_SIZE);
    this.pagesPerRun = bounded(input.pagesPerRun, DEFAULT_CAMPAIGN_PAGES_PER_RUN, 1000);
    this.searchAttributes = [
      { key: NotificationEventId, value: campaignEventId(input.campaignId) },
      { key: NotificationEventType, value: CAMPAIGN_EVENT_TYPE },
    ];
    this.progress = initialProgress(input);
    if (input.resume) this.plan = input.resume.plan;
    this.fannedOut = input.resume?.fannedOut ?? false;
    this.releaseAtMs = input.resume?.releaseAtMs ?? null;
  }

  registerHandlers(): void {
    const { progress } = this;
    setHandler(campaignProgressQuery, () => progress);
    setHandler(cancelSignal, (signal) => {
      if (progress.state === 'completed' || progress.state === 'cancelled') return;
      this.cancelled = true;
      if (signal?.reason) progress.cancelReason = signal.reason;
    });
    setHandler(rescheduleSignal, (signal) => {
      const at = Date.parse(signal?.sendAt ?? '');
      if (progress.state !== 'scheduled' || Number.isNaN(at))
        return log.warn('reschedule ignored', { sendAt: signal?.sendAt, state: progress.state });
      this.rescheduledAtMs = at;
      this.reschedules++;
    });
  }

  /** The phases in order; a run that continues an earlier one resumes after the start. */
  async run(): Promise<CampaignProgress> {
    const ended =
      (this.input.resume ? null : await this.open()) ??
      (await this.fanOut()) ??
      (await this.release()) ??
      (await this.sendParked()) ??
      (patched(PATCHES.campaignSettles) ? await this.settle() : null);
    return ended ?? this.finish('completed');
  }

  /** Stores the campaign and waits for its start; a campaign that already ended (a second run of its id) sends nothing again. */
  private async open(): Promise<Ended> {
    const { campaignId, progress } = this;
    this.plan = await openCampaign({ campaignId, campaign: this.input.campaign });
    progress.scheduledAt = this.plan.scheduledAt;
    if (this.plan.state === 'completed' || this.plan.state === 'cancelled') {
      progress.state = this.plan.state;
      return progress;
    }
    const startAtMs = Date.parse(this.plan.scheduledAt);
    const leadMs = this.plan.stageLeadMs ?? 0;
    // Staged (docs/performance.md, "Flash sale"): asked only for a start ahead with a lead set, so other campaigns' histories stay as they were.
    const staged = leadMs > 0 && startAtMs - Date.now() > 0 && patched(PATCHES.campaignStaging);
    const ended = await this.awaitStart(startAtMs, staged ? leadMs : 0);
    if (ended) return ended;
    if (staged) this.releaseAtMs = Date.parse(progress.scheduledAt);
    progress.state = 'running';
    await recordCampaignProgress({ campaignId, state: 'running' });
    return null;
  }

  /**
   * 1. Wait until the scheduled time (less the staging lead); a reschedule moves it (and the row), a cancel
   * ends the campaign. Once staging began the campaign is running: a reschedule is ignored from then on.
   */
  private async awaitStart(startAtMs: number, leadMs: number): Promise<Ended> {
    let seen = 0;
    for (;;) {
      if (this.reschedules !== seen) {
        seen = this.reschedules;
        startAtMs = this.rescheduledAtMs;
        this.progress.scheduledAt = new Date(startAtMs).toISOString();
        await recordCampaignProgress({ campaignId: this.campaignId, scheduledAt: this.progress.scheduledAt });
        continue;
      }
      if (this.cancelled) return this.finish('cancelled');
      const remaining = startAtMs - leadMs - Date.now();
      if (remaining <= 0) return null;
      await condition(() => this.cancelled || this.reschedules !== seen, remaining);
    }
  }

  /** 2. Fan out: one bulk activity per page of the segment, in recipient id order. */
  private async fanOut(): Promise<Ended> {
    const { progress } = this;
    for (let pages = 0; !this.fannedOut; pages++) {
      if (this.cancelled) return this.finish('cancelled');
      if (this.historyFull(pages, this.pagesPerRun)) await this.continueAsNew();
      const page = await fanOutCampaignPage({
        plan: this.plan,
        afterUserId: progress.afterUserId,
        pageSize: this.pageSize,
        ...(this.releaseAtMs === null ? {} : { releaseAtMs: this.releaseAtMs }),
      });
      progress.targeted += page.targeted;
      progress.started += page.started;
      progress.afterUserId = page.afterUserId;
      this.addWakeTimes(page.wakeTimes);
      this.fannedOut = page.done;
      if (!this.fannedOut && pages % 10 === 9) await this.recordCounts();
    }
    return null;
  }

  /**
   * 2b. A staged campaign: its notifications wait in BullMQ's delayed set for the start (the release is
   * BullMQ's promotion, not a timer per notification); the workflow holds one timer past it, then hands
   * off again what a lost staged job left unsent. A cancel before the start cancels the staged notifications.
   */
  private async release(): Promise<Ended> {
    if (this.releaseAtMs === null) return null;
    await condition(() => this.cancelled, this.releaseAtMs + RELEASE_CHECK_AFTER_MS - Date.now());
    if (this.cancelled) return this.finish('cancelled');
    await releaseStagedCampaign({ plan: this.plan });
    this.releaseAtMs = null;
    return null;
  }

  /** 3. Recipients parked for quiet hours: one timer per distinct wake-up time. */
  private async sendParked(): Promise<Ended> {
    const { progress } = this;
    for (let rounds = 0; (progress.wakeTimes ?? []).length > 0; rounds++) {
      if (this.cancelled) return this.finish('cancelled');
      if (this.historyFull(rounds, this.pagesPerRun)) await this.continueAsNew();
      const next = progress.wakeTimes![0];
      if (next > Date.now()) {
        await this.recordCounts();
        await condition(() => this.cancelled, next - Date.now());
        if (this.cancelled) return this.finish('cancelled');
      }
      progress.wakeTimes = splitDue(progress.wakeTimes!, Date.now()).rest;
      const due = await dispatchCampaignDue({ plan: this.plan });
      this.addWakeTimes(due.wakeTimes);
    }
    return null;
  }

  /**
   * 4. Every notification final (I1): channels past their deadline are reconciled, what our
   * infrastructure lost is handed off again, until none is open; a timer between rounds (I2).
   */
  private async settle(): Promise<Ended> {
    for (let rounds = 0; ; rounds++) {
      if (this.cancelled) return this.finish('cancelled');
      if (this.historyFull(rounds, SETTLE_ROUNDS_PER_RUN)) await this.continueAsNew();
      const settled = await settleCampaign({ plan: this.plan, nowMs: Date.now() });
      if (settled.open === 0) return null;
      const deadline = settled.nextDeadlineMs ?? Date.now() + this.plan.deliveryDeadlineMs;
      await condition(() => this.cancelled, settleWaitMs(rounds, deadline));
    }
  }

  private async finish(state: CampaignState): Promise<CampaignProgress> {
    this.progress.state = state;
    await recordCampaignProgress({
      campaignId: this.campaignId,
      state,
      targeted: this.progress.targeted,
      started: this.progress.started,
      // Staged and not yet released: the staged notifications are cancelled with it.
      ...(this.releaseAtMs !== null && state === 'cancelled' ? { cancelStaged: true } : {}),
    });
    return this.progress;
  }

  private recordCounts(): Promise<void> {
    const { targeted, started } = this.progress;
    return recordCampaignProgress({ campaignId: this.campaignId, targeted, started });
  }

  private addWakeTimes(times: number[]): void {
    for (const at of times) this.progress.wakeTimes = addWakeTime(this.progress.wakeTimes ?? [], at);
  }

  /** This run has done its share of rounds, or Temporal suggests a fresh history. */
  private historyFull(rounds: number, roundsPerRun: number): boolean {
    return rounds >= roundsPerRun || workflowInfo().continueAsNewSuggested;
  }

  /** Continues as new with the cursor, the counts and the wake-up times of this run. */
  private continueAsNew(): Promise<never> {
    const { progress } = this;
    return makeContinueAsNewFunc<typeof campaignWorkflow>({
      typedSearchAttributes: this.searchAttributes,
      memo: workflowInfo().memo,
    })({
      campaignId: this.campaignId,
      pageSize: this.pageSize,
      pagesPerRun: this.pagesPerRun,
      resume: {
        plan: this.plan,
        afterUserId: progress.afterUserId,
        targeted: progress.targeted,
        started: progress.started,
        runs: progress.runs,
        wakeTimes: progress.wakeTimes,
        fannedOut: this.fannedOut,
        ...(this.releaseAtMs === null ? {} : { releaseAtMs: this.releaseAtMs }),
      },
    });
  }
}

/** A new campaign starts `scheduled`; a run that continues an earlier one carries on from its counts. */
function initialProgress(input: CampaignWorkflowInput): CampaignProgress {
  const { resume } = input;
  return {
    campaignId: input.campaignId,
    state: resume ? 'running' : 'scheduled',
    scheduledAt: resume?.plan.scheduledAt ?? input.campaign?.scheduledAt ?? '',
    targeted: resume?.targeted ?? 0,
    started: resume?.started ?? 0,
    afterUserId: resume?.afterUserId ?? null,
    runs: (resume?.runs ?? 0) + 1,
    wakeTimes: resume?.wakeTimes ?? [],
  };
}

/**
 * Between settle rounds: look again soon while sends drain (after 1 s, 2 s, then every 5 s: a settle is
 * one indexed query), at the latest at the next deadline, and never sooner than a second.
 */
function settleWaitMs(rounds: number, deadlineMs: number): number {
  const soon = SETTLE_WAITS_MS[Math.min(rounds, SETTLE_WAITS_MS.length - 1)];
  return Math.max(Math.min(deadlineMs - Date.now(), soon), 1000);
}

function bounded(value: number | undefined, fallback: number, max: number): number {
  return Number.isInteger(value) && value! >= 1 ? Math.min(value!, max) : fallback;
}

import { Context, log } from '@temporalio/activity';
import {
  CAMPAIGN_CATEGORY,
  campaignIdSchema,
  parseCampaign,
  type CampaignDefinition,
  type CampaignPlan,
  type CampaignState,
} from '../src/domain/campaign';
import { CHANNELS, type Channel } from '../src/domain/channels';
import { fallbacksFor } from '../src/domain/event-catalog';
import { Template, type Campaign } from '../src/db/entities';
import { CampaignRepository } from '../src/db/repositories/campaign-repository';
import { businessFailure } from './errors';
import { createReconciler, type Reconciler } from './reconciler';
import {
  cancelBeforeProviders,
  openChannelSummary,
  sendingRowsPastDeadline,
} from '../src/state/notification-store';
import type { ActivityDeps } from './deps';
import type { Dispatcher } from './dispatcher';
import type { EventSpec } from './event-spec';
import { deliverQueuedInApp } from './in-app-pages';
import { CAMPAIGN_EVENT_TYPE, campaignEventId, campaignWorkflowId } from '../src/domain/workflow-ids';

/** What the campaign steps use: the activity deps, the dispatcher, the reconciler and the backlog limit. */
interface CampaignStepDeps extends ActivityDeps {
  dispatcher: Dispatcher;
  reconciler: Reconciler;
  /** CAMPAIGN_MAX_BACKLOG: fan-out pauses while a channel's queue holds more jobs than this. */
  maxBacklog: number;
}

interface OpenCampaignInput {
  campaignId: string;
  /** The definition to store; without it the campaign must already be stored. */
  campaign?: CampaignDefinition;
}

interface CampaignPageInput {
  plan: CampaignPlan;
  afterUserId: string | null;
  pageSize: number;
  /** A staged page (flash-sale start): admitted as of this time, its jobs delayed until then. */
  releaseAtMs?: number;
}

interface ListCampaignRecipientsInput {
  campaignId: string;
  afterUserId: string | null;
  limit: number;
}

interface RecordCampaignProgressInput {
  campaignId: string;
  state?: CampaignState;
  targeted?: number;
  started?: number;
  scheduledAt?: string;
  /** Cancelled before its staged start: its staged notifications are cancelled too (no provider was called). */
  cancelStaged?: boolean;
}

/** Activities of campaignWorkflow; spread into createActivities. */
export function createCampaignActivities(deps: ActivityDeps, dispatcher: Dispatcher) {
  const steps: CampaignStepDeps = {
    ...deps,
    dispatcher,
    reconciler: createReconciler(deps),
    maxBacklog: deps.config.campaignMaxBacklog ?? DEFAULT_CAMPAIGN_MAX_BACKLOG,
  };
  return {
    openCampaign: (input: OpenCampaignInput) => openCampaign(steps, input),
    fanOutCampaignPage: (input: CampaignPageInput) => fanOutCampaignPage(steps, input),
    dispatchCampaignDue: (input: { plan: CampaignPlan }) => dispatchCampaignDue(steps, input),
    settleCampaign: (input: { plan: CampaignPlan; nowMs?: number }) => settleCampaign(steps, input),
    releaseStagedCampaign: (input: { plan: CampaignPlan }) => releaseStagedCampaign(steps, input),
    listCampaignRecipients: (input: ListCampaignRecipientsInput) => listCampaignRecipients(steps, input),
    recordCampaignProgress: (input: RecordCampaignProgressInput) => recordCampaignProgress(steps, input),
  };
}

/**
 * Stores the campaign from the workflow's input (idempotent by id: an existing row wins) or loads
 * the stored one, checks its template, and resolves what every notification of it shares.
 */
async function openCampaign(deps: CampaignStepDeps, input: OpenCampaignInput): Promise<CampaignPlan> {
  const campaignId = parseCampaignId(input.campaignId);
  // Validated again here: any Temporal client may start the workflow with hand-written JSON.
  const definition = input.campaign ? parseDefinition(campaignId, input.campaign) : undefined;
  const templateCode = definition?.templateCode ?? (await loadCampaign(deps, campaignId)).templateCode;
  const templateChannels = await campaignTemplateChannels(deps, templateCode);
  if (definition && (await repository(deps).insertIfAbsent(definition)))
    log.info('campaign stored', { campaignId });
  const campaign = await loadCampaign(deps, campaignId);
  return {
    campaignId,
    state: campaign.state,
    scheduledAt: campaign.scheduledAt.toISOString(),
    templateCode: campaign.templateCode,
    category: CAMPAIGN_CATEGORY,
    channels: campaign.channels ?? CHANNELS.filter((c) => templateChannels.has(c)),
    fallbacks: fallbacksFor(campaign.templateCode),
    variables: campaign.variables,
    priority: campaign.priority as CampaignPlan['priority'],
    deliveryDeadlineMs: deps.config.deliveryDeadlineMs,
    targeted: campaign.targeted,
    started: campaign.started,
    stageLeadMs: deps.config.campaignStageLeadMs ?? 0,
  };
}

function parseCampaignId(campaignId: string): string {
  const parsedId = campaignIdSchema.safeParse(campaignId);
  if (!parsedId.success)
    throw businessFailure('InvalidCampaign', `invalid campaign: campaignId: must be a UUID`);
  return parsedId.data;
}

/** The campaign definition the workflow was started with; its id must be the workflow's campaign id. */
function parseDefinition(campaignId: string, campaign: CampaignDefinition): CampaignDefinition {
  let definition: CampaignDefinition;
  try {
    definition = parseCampaign({ id: campaignId, ...(campaign as Partial<CampaignDefinition>) });
  } catch (err) {
    throw businessFailure('InvalidCampaign', (err as Error).message);
  }
  if (definition.id !== campaignId)
    throw businessFailure(
      'InvalidCampaign',
      `invalid campaign: id: "${definition.id}" differs from campaignId "${campaignId}"`,
    );
  return definition;
}

/** The channels the campaign's template exists for; the template must exist and be a campaign template. */
async function campaignTemplateChannels(deps: CampaignStepDeps, templateCode: string): Promise<Set<Channel>> {
  const db = deps.orm.em.fork();
  const templates = await db.find(Template, { code: templateCode }, { fields: ['channel', 'category'] });
  if (templates.length === 0)
    throw businessFailure('TemplateNotFound', `no template with code "${templateCode}"`);
  if (templates[0].category !== CAMPAIGN_CATEGORY) {
    throw businessFailure(
      'InvalidCampaign',
      `invalid campaign: templateCode: template "${templateCode}" is in category ${templates[0].category}, campaigns send ${CAMPAIGN_CATEGORY} templates`,
    );
  }
  return new Set(templates.map((t) => t.channel));
}

/**
 * One page of the campaign's segment as bulk work (heartbeating, on the campaign task queue):
 * waits while the channels' queues hold more than the backlog limit (Redis stays small), lists the
 * page by recipient id, and admits it set-wise (preferences and quiet hours in one query, rows in
 * one statement, jobs with addBulk). Idempotent: a retried page stores and enqueues nothing twice.
 */
async function fanOutCampaignPage(
  deps: CampaignStepDeps,
  input: CampaignPageInput,
): Promise<CampaignPageResult> {
  const { plan } = input;
  // Staged pages wait in BullMQ's delayed set until the start, whatever the backlog: that is the point.
  const staged = input.releaseAtMs !== undefined && input.releaseAtMs > Date.now();
  if (!staged) await waitForBacklog(deps, plan.channels);
  const campaign = await loadCampaign(deps, plan.campaignId);
  const page = await repository(deps).recipientsPage(campaign.segment, input.afterUserId, input.pageSize);
  Context.current().heartbeat({ listed: page.length });
  const options = staged
    ? { inline: false, nowMs: input.releaseAtMs, readyAtMs: input.releaseAtMs }
    : { inline: false, inAppSetBased: true };
  const results = await Promise.all(
    chunksOf(page, PAGE_CHUNKS).map((ids) =>
      deps.dispatcher.admitRecipients(campaignSpec(plan), ids, options),
    ),
  );
  const wakeTimes = new Set(results.flatMap((r) => r.wakeTimes));
  return {
    targeted: page.length,
    started: results.reduce((n, r) => n + r.recipients.filter((x) => x.notificationId).length, 0),
    afterUserId: page.length > 0 ? page[page.length - 1] : input.afterUserId,
    done: page.length < input.pageSize,
    wakeTimes: [...wakeTimes].sort((a, b) => a - b),
  };
}

/** `items` in at most `count` consecutive chunks of about equal size. */
function chunksOf<T>(items: T[], count: number): T[][] {
  const size = Math.max(1, Math.ceil(items.length / count));
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** Sends the campaign's notifications whose quiet hours ended, page after page. */
async function dispatchCampaignDue(
  deps: CampaignStepDeps,
  input: { plan: CampaignPlan },
): Promise<{ dispatched: number; wakeTimes: number[] }> {
  const spec = campaignSpec(input.plan);
  const wake = new Set<number>();
  let dispatched = 0;
  for (;;) {
    await waitForBacklog(deps, input.plan.channels);
    const result = await deps.dispatcher.dispatchDue(spec, {
      limit: DUE_PAGE_SIZE,
      inline: false,
      inAppSetBased: true,
    });
    dispatched += result.recipients.filter((r) => r.state === 'sending').length;
    for (const at of result.wakeTimes) wake.add(at);
    Context.current().heartbeat({ dispatched });
    if (result.examined < DUE_PAGE_SIZE) return { dispatched, wakeTimes: [...wake].sort((a, b) => a - b) };
  }
}

/**
 * Reconciles the campaign's notifications whose channels are past their deadline, page after page
 * (a vanished job is handed off again, a channel open past the horizon expires: docs/contracts.md,
 * "Durability invariants"), and reports what is still open, so the campaign workflow holds a timer
 * until every notification of it is final.
 */
async function settleCampaign(
  deps: CampaignStepDeps,
  input: { plan: CampaignPlan; nowMs?: number },
): Promise<{ open: number; nextDeadlineMs: number | null }> {
  const spec = { ...campaignSpec(input.plan), infraHorizonMs: deps.config.infraRetryHorizonMs };
  const em = deps.orm.em.fork();
  const nowMs = input.nowMs ?? Date.now();
  for (let after = FIRST_UUID; ;) {
    const rows = await sendingRowsPastDeadline(em, spec.eventId, nowMs, after, SETTLE_PAGE_SIZE);
    for (const row of rows) await deps.reconciler.reconcileRow(em, spec, row, nowMs);
    Context.current().heartbeat({ reconciled: rows.length });
    if (rows.length < SETTLE_PAGE_SIZE) break;
    after = rows[rows.length - 1].id;
  }
  return openChannelSummary(em, spec.eventId);
}

/**
 * After a staged campaign's start: delivers set-based the staged in-app notifications no worker reached
 * yet, then hands off again every open channel no worker claimed whose job is gone (a staged job lost with
 * Redis); jobs that exist make that a no-op (I3).
 */
async function releaseStagedCampaign(
  deps: CampaignStepDeps,
  input: { plan: CampaignPlan },
): Promise<{ delivered: number; handedOff: number }> {
  const eventId = campaignEventId(input.plan.campaignId);
  Context.current().heartbeat({ releasing: input.plan.campaignId });
  // Staged in-app notifications the in-app worker has not reached yet are delivered set-based.
  const delivered =
    deps.inAppFeed && input.plan.channels.includes('in_app')
      ? await deliverQueuedInApp(deps.orm.em.fork(), deps.inAppFeed, {
          eventId,
          nowMs: Date.now(),
          deadlineMs: input.plan.deliveryDeadlineMs,
          removeJobs: (ids) => deps.queues.removeJobs('in_app', ids),
          heartbeat: (n) => Context.current().heartbeat({ delivered: n }),
        })
      : 0;
  return { delivered, handedOff: await deps.dispatcher.handOffUnclaimed(eventId) };
}

/** One page of the campaign's segment, recipient ids in ascending order after `afterUserId` (release-0 campaigns). */
async function listCampaignRecipients(
  deps: CampaignStepDeps,
  input: ListCampaignRecipientsInput,
): Promise<string[]> {
  const campaign = await loadCampaign(deps, input.campaignId);
  return repository(deps).recipientsPage(campaign.segment, input.afterUserId, input.limit);
}

/** Mirrors the workflow's state, counts and (after a reschedule) start time into the campaigns row. */
async function recordCampaignProgress(
  deps: CampaignStepDeps,
  input: RecordCampaignProgressInput,
): Promise<void> {
  const { campaignId, cancelStaged, ...update } = input;
  await repository(deps).recordProgress(campaignId, update);
  // Notifications parked for quiet hours never go out once the campaign is cancelled, nor staged ones before the start.
  if (update.state === 'cancelled' && cancelStaged)
    await cancelBeforeProviders(deps.orm.em.fork(), campaignEventId(campaignId), undefined, CANCELLED);
  else if (update.state === 'cancelled') await repository(deps).cancelWaitingNotifications(campaignId);
}

/** A repository on a fresh entity manager (each activity call gets its own). */
function repository(deps: CampaignStepDeps): CampaignRepository {
  return new CampaignRepository(deps.orm.em.fork());
}

async function loadCampaign(deps: CampaignStepDeps, campaignId: string): Promise<Campaign> {
  const campaign = await repository(deps).findById(campaignId);
  if (!campaign) throw businessFailure('CampaignNotFound', `no campaign with id "${campaignId}"`);
  return campaign;
}

/** Paces fan-out by queue depth: heartbeats while any of the channels' queues is over the limit. */
async function waitForBacklog(deps: CampaignStepDeps, channels: CampaignPlan['channels']): Promise<void> {
  for (;;) {
    const backlogs = await Promise.all(channels.map((c) => deps.queues.backlog(c)));
    const worst = Math.max(0, ...backlogs);
    if (worst <= deps.maxBacklog) return;
    Context.current().heartbeat({ waitingForBacklog: worst });
    await Context.current().sleep(BACKLOG_POLL_MS);
  }
}

export interface CampaignPageResult {
  targeted: number;
  started: number;
  afterUserId: string | null;
  done: boolean;
  wakeTimes: number[];
}

/** Default for CAMPAIGN_MAX_BACKLOG: jobs a channel's queue may hold before fan-out pauses. */
export const DEFAULT_CAMPAIGN_MAX_BACKLOG = 5000;
const DUE_PAGE_SIZE = 1000;
/**
 * A page is admitted in this many chunks at once, each on its own connection: Postgres works on some while
 * this process renders others, so a page keeps both cores of a small machine busy (docs/performance.md).
 */
const PAGE_CHUNKS = 8;
const SETTLE_PAGE_SIZE = 500;
const FIRST_UUID = '00000000-0000-0000-0000-000000000000';
const CANCELLED = 'cancelled: campaign cancelled';
const BACKLOG_POLL_MS = 250;

/** What every notification of a campaign shares (campaign notifications are not awaited by a workflow). */
export function campaignSpec(plan: CampaignPlan): EventSpec {
  return {
    eventId: campaignEventId(plan.campaignId),
    eventType: CAMPAIGN_EVENT_TYPE,
    workflowId: campaignWorkflowId(plan.campaignId),
    templateCode: plan.templateCode,
    category: plan.category,
    channels: plan.channels,
    fallbacks: plan.fallbacks,
    data: plan.variables,
    options: { priority: plan.priority, delayMs: 0, sendAt: null, channels: plan.channels },
    deliveryDeadlineMs: plan.deliveryDeadlineMs,
    tracked: false,
  };
}

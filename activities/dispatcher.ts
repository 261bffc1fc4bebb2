import { EMAIL_HASH_SQL } from '../src/db/repositories/email-suppressions';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Channel } from '../src/domain/channels';
import { boundQuery } from '../src/db/bound-query';
import {
  admit,
  firstSendAt,
  publicChannels,
  type Admission,
  type ChannelRecords,
} from '../src/domain/notification-lifecycle';
import { INLINE_STATUS_LIMIT, type DispatchResult, type RecipientSummary } from '../src/domain/event-ledger';
import { quietHoursEndAfter } from '../src/domain/quiet-hours';
import { needsConsent } from '../src/domain/consent';
import type { Orm } from '../src/db/orm';
import type { SendQueues } from '../src/delivery/send-queues';
import type { Priority } from '../src/domain/priorities';
import {
  dueRecipientIds,
  failWaitingRows,
  insertRows,
  startDueRows,
  unclaimedOpenChannels,
  type NotificationRowInput,
  type StoredRow,
} from '../src/state/notification-store';
import { TemplateSyntaxError, TemplateVariableMissingError } from '../src/templates/render-template';
import {
  fetchTemplates,
  renderNotification,
  templatesByLocale,
  type EmailRendering,
  type RecipientRow,
  type TemplateRow,
} from './render-notification';
import type { EventSpec } from './event-spec';
import type { DigestRouter } from './digest-activities';
import type { FrequencyCaps } from './frequency-caps';
import { deliverInAppPage, storedDelivered, type InAppFeed } from './in-app-pages';
import { DEFAULT_SHOP, loadEmailLayout, type ShopSettings } from '../src/templates/email-layout';
import { ExperimentRepository } from '../src/db/repositories/experiment-repository';
import { variantPicker, type VariantPicker } from './experiment-assignment';

export interface DispatcherDeps {
  orm: Orm;
  queues: SendQueues;
  defaultLocale: string;
  /** The webhook provider's tenant URL: recipients without a URL of their own are reachable through it. */
  webhookDefaultUrl?: string;
  /** Digest routing and frequency caps (docs/digests-and-caps.md); absent: neither. */
  digests?: DigestRouter;
  caps?: FrequencyCaps;
  /** The shop emails come from (their layout's header, footer and links); default DEFAULT_SHOP. */
  shop?: ShopSettings;
  /** The live in-app feed; absent: set-based in-app pages hand their rows to the in-app queue instead. */
  inAppFeed?: InAppFeed;
}

export interface AdmitOptions {
  nowMs?: number;
  inline?: boolean;
  /** The event's templates when the caller read them already (openEvent). */
  templates?: TemplateRow[];
  /** Deliver in-app channels of the page in one statement (untracked owners: campaigns), see in-app-pages.ts. */
  inAppSetBased?: boolean;
  /** Staged rows (admitted as of `nowMs`, a campaign's start): their jobs wait in BullMQ's delayed set until then. */
  readyAtMs?: number;
}

export interface DispatchDueOptions {
  nowMs?: number;
  limit?: number;
  inline?: boolean;
  inAppSetBased?: boolean;
}

/**
 * Admits recipients of one event set-wise: one query for recipients with their opt-outs and push
 * subscriptions, one for the templates, one statement that stores every row (idempotent per event and
 * recipient, so a retried activity finds what the first try stored), one addBulk per channel.
 */
export function createDispatcher(deps: DispatcherDeps) {
  return {
    admitRecipients: (spec: EventSpec, userIds: string[], options?: AdmitOptions) =>
      admitRecipients(deps, spec, userIds, options),
    dispatchDue: (spec: EventSpec, options?: DispatchDueOptions) => dispatchDue(deps, spec, options),
    handOffUnclaimed: (eventId: string) => handOffUnclaimed(deps, eventId),
  };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;

/** Stores and hands off (or parks until due) one page of recipients of an event. */
async function admitRecipients(
  deps: DispatcherDeps,
  spec: EventSpec,
  userIds: string[],
  options: AdmitOptions = {},
): Promise<DispatchResult> {
  const nowMs = options.nowMs ?? Date.now();
  const db = deps.orm.em.fork();
  const clock = { nowMs, sendAtMs: firstSendAt(nowMs, spec.options) };
  // Recipients whose notification goes into a digest get a suppressed row saying which (signalled first).
  const routed = (await deps.digests?.route(db, spec, userIds, nowMs)) ?? { direct: userIds, held: [] };
  const { rows, failed } = await prepareRows(deps, db, spec, routed.direct, clock, options.templates);
  const held = routed.held.map((h) => notificationRow(spec, h.userId, h.fields));
  const capped = deps.caps ? await deps.caps.apply(db, spec, rows, nowMs) : rows;
  const setBased = inAppSetBased(deps, spec, { ...options, nowMs });
  const toStore = setBased ? storedDelivered(capped, setBased) : capped;
  const inserted = await insertRows(
    db,
    spec,
    [...toStore, ...held],
    setBased ? { deliveredInApp: { at: new Date(setBased.nowMs) } } : {},
  );
  const stored = setBased
    ? await deliverInAppPage(db, deps.inAppFeed!, { ...setBased, rows: toStore, stored: inserted })
    : inserted;
  await handOffSending(deps.queues, spec, stored, options.readyAtMs);
  return withFailed(summarizeRows(stored, options.inline ?? userIds.length <= INLINE_STATUS_LIMIT), failed);
}

/**
 * Sends the event's waiting notifications that are due: quiet hours are checked again (a row may
 * park until they end), then rows are rendered and handed off. Rows cancelled or moved meanwhile
 * are left alone. Returns how many rows it looked at, so callers page until fewer than `limit`.
 */
async function dispatchDue(
  deps: DispatcherDeps,
  spec: EventSpec,
  options: DispatchDueOptions = {},
): Promise<DispatchResult & { examined: number }> {
  const nowMs = options.nowMs ?? Date.now();
  const db = deps.orm.em.fork();
  const userIds = await dueRecipientIds(db, spec.eventId, nowMs, options.limit ?? 1000);
  if (userIds.length === 0) return { recipients: [], wakeTimes: [], nextDeadlineMs: null, examined: 0 };
  const { rows, failed } = await prepareRows(deps, db, spec, userIds, { nowMs, sendAtMs: nowMs });
  const capped = deps.caps ? await deps.caps.apply(db, spec, rows, nowMs) : rows;
  const setBased = inAppSetBased(deps, spec, { ...options, nowMs });
  const toStart = setBased ? storedDelivered(capped, setBased) : capped;
  const started = await startDueRows(db, spec, toStart, nowMs);
  const stored = setBased
    ? await deliverInAppPage(db, deps.inAppFeed!, { ...setBased, rows: toStart, stored: started })
    : started;
  // A recipient deleted or whose template lacks a variable while it waited: its row fails too.
  await failWaitingRows(db, spec.eventId, failed);
  await handOffSending(deps.queues, spec, stored);
  const result = withFailed(summarizeRows(stored, options.inline ?? false), failed);
  return { ...result, examined: userIds.length };
}

/**
 * Hands off again every open channel of the event's sending rows that no worker has claimed (I3,
 * docs/contracts.md "Durability invariants"): a retried step runs it, since its earlier try may have
 * stored rows as sending and then failed to reach Redis. Jobs that exist make it a no-op.
 */
async function handOffUnclaimed(deps: DispatcherDeps, eventId: string): Promise<number> {
  const open = await unclaimedOpenChannels(deps.orm.em.fork(), eventId);
  const groups = new Map<string, { channel: Channel; priority: Priority; ids: string[] }>();
  for (const row of open) {
    const key = `${row.channel}/${row.priority}`;
    const group = groups.get(key) ?? { channel: row.channel, priority: row.priority, ids: [] };
    group.ids.push(row.id);
    groups.set(key, group);
  }
  await Promise.all([...groups.values()].map((g) => deps.queues.enqueueBulk(g.channel, g.ids, g.priority)));
  return open.length;
}

/** Whether this page's in-app channels are delivered set-based (asked for, untracked owner, a feed to tell), and its clock. */
function inAppSetBased(
  deps: DispatcherDeps,
  spec: EventSpec,
  options: { inAppSetBased?: boolean; nowMs?: number },
): { nowMs: number; deadlineMs: number } | null {
  if (!options.inAppSetBased || !deps.inAppFeed || spec.tracked || !spec.channels.includes('in_app'))
    return null;
  return { nowMs: options.nowMs ?? Date.now(), deadlineMs: spec.deliveryDeadlineMs };
}

/** When recipients are looked at, and the earliest time their notifications may go out. */
interface AdmissionClock {
  nowMs: number;
  sendAtMs: number;
}

/** What one call of prepareRows shares across its recipients. */
interface PrepareContext {
  spec: EventSpec;
  clock: AdmissionClock;
  recipients: Map<string, RecipientRow>;
  /** Each recipient's templates and experiment variant (./experiment-assignment.ts). */
  templatesOf: VariantPicker;
  webhookDefaultUrl: string | undefined;
  email: EmailRendering | undefined;
  /** Every open channel of this batch gets the same deadline and hand-off time. */
  times: { deadlineAt: string; queuedAt: string };
}

type RecipientOutcome = { row: NotificationRowInput } | { failed: RecipientSummary };

/**
 * Decides for each recipient: send now (rendered row + jobs), wait (row in scheduled or
 * waiting_quiet_hours with its send_at), or fail (no such recipient, template variable missing).
 */
async function prepareRows(
  deps: DispatcherDeps,
  db: EntityManager,
  spec: EventSpec,
  userIds: string[],
  clock: AdmissionClock,
  templates?: TemplateRow[],
): Promise<{ rows: NotificationRowInput[]; failed: RecipientSummary[] }> {
  const [recipients, templateRows, layout, experiment] = await Promise.all([
    loadRecipients(db, userIds, spec),
    templates ?? fetchTemplates(db, spec.templateCode),
    spec.channels.includes('email') ? loadEmailLayout() : undefined,
    new ExperimentRepository(db).activeFor(spec.templateCode, spec.eventId, new Date(clock.nowMs)),
  ]);
  const templatesFor = templatesByLocale(templateRows, deps.defaultLocale);
  const context: PrepareContext = {
    spec,
    clock,
    recipients,
    templatesOf: variantPicker(experiment, templateRows, templatesFor, deps.defaultLocale),
    webhookDefaultUrl: deps.webhookDefaultUrl,
    email: layout && { layout, shop: deps.shop ?? DEFAULT_SHOP },
    times: {
      deadlineAt: new Date(clock.nowMs + spec.deliveryDeadlineMs).toISOString(),
      queuedAt: new Date(clock.nowMs).toISOString(),
    },
  };
  const rows: NotificationRowInput[] = [];
  const failed: RecipientSummary[] = [];
  for (const userId of userIds) {
    const outcome = prepareRecipient(context, userId);
    if ('row' in outcome) rows.push(outcome.row);
    else failed.push(outcome.failed);
  }
  return { rows, failed };
}

/**
 * The recipients with their opt-outs for the category, their opt-in where the category needs one, and, only
 * where the event can use the channel (asked for or a fallback), whether they have a push subscription and
 * why their email address is suppressed (receipts): a campaign page skips lookups its channels never read.
 */
async function loadRecipients(
  db: EntityManager,
  userIds: string[],
  spec: Pick<EventSpec, 'category' | 'channels' | 'fallbacks'>,
): Promise<Map<string, RecipientRow>> {
  const usable = new Set<Channel>([...spec.channels, ...Object.values(spec.fallbacks)]);
  const hasPush = usable.has('push')
    ? 'exists (select 1 from push_subscriptions s where s.recipient_id = r.id)'
    : 'false';
  const emailSuppression = usable.has('email')
    ? `(select s.reason from email_suppressions s
         where r.email is not null and s.address_hash = ${EMAIL_HASH_SQL('r.email')} and s.lifted_at is null)`
    : 'null';
  const rows = await boundQuery<RecipientRow>(
    db,
    `select r.*,
            coalesce((select array_agg(p.channel) from preferences p where p.recipient_id = r.id and p.category = ? and not p.enabled), '{}') as disabled_channels,
            ${hasPush} as has_push,
            (not ?::boolean or exists (select 1 from consents c where c.recipient_id = r.id and c.category = ? and c.granted)) as consented,
            ${emailSuppression} as email_suppression
       from recipients r where r.id in (select jsonb_array_elements_text(?::jsonb))`,
    [spec.category, needsConsent(spec.category), spec.category, JSON.stringify(userIds)],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

/** One recipient's row (waiting or rendered for sending), or why it gets none; a render problem fails this recipient only. */
function prepareRecipient(context: PrepareContext, userId: string): RecipientOutcome {
  const { spec } = context;
  const recipient = context.recipients.get(userId);
  if (!recipient)
    return { failed: { userId, state: 'failed', error: `recipient "${userId}" does not exist` } };
  const admission = admitRecipient(context.clock, recipient, spec.options.priority === 'urgent');
  const { templates, assignment } = context.templatesOf(recipient);
  // Decided here, in the event's first step, and stored with the row once (docs/experiments.md).
  const experiment = {
    experiment_id: assignment?.experimentId ?? null,
    variant: assignment?.variant ?? null,
  };
  if (admission.state !== 'sending') {
    const sendAt = new Date(admission.sendAtMs).toISOString();
    return { row: notificationRow(spec, userId, { state: admission.state, send_at: sendAt, ...experiment }) };
  }
  try {
    return { row: { ...sendingRow(context, recipient, templates), ...experiment } };
  } catch (err) {
    if (err instanceof TemplateVariableMissingError || err instanceof TemplateSyntaxError)
      return { failed: { userId, state: 'failed', error: `template ${spec.templateCode}: ${err.message}` } };
    throw err;
  }
}

/** Whether the recipient's notification goes out now or waits (send time, quiet hours). */
function admitRecipient(clock: AdmissionClock, recipient: RecipientRow, urgent: boolean): Admission {
  const quietHours = recipient.quiet_hours;
  return admit({
    ...clock,
    urgent,
    quietHoursEnd: (at) =>
      quietHours ? (quietHoursEndAfter(new Date(at), quietHours)?.getTime() ?? null) : null,
  });
}

/** The row of a notification going out now: rendered content and open channels (suppressed when no channel sends). */
function sendingRow(
  context: PrepareContext,
  recipient: RecipientRow,
  templates: Map<Channel, TemplateRow>,
): NotificationRowInput {
  const { spec } = context;
  const r = renderNotification(
    spec,
    recipient,
    templates,
    context.webhookDefaultUrl,
    context.times,
    context.email,
  );
  const sending = r.decisions.filter((d) => d.send).map((d) => d.channel);
  const inApp = r.content.in_app;
  return notificationRow(spec, recipient.id, {
    state: sending.length === 0 ? 'suppressed' : 'sending',
    channels: sending,
    template_versions: r.versions,
    title: inApp?.title ?? null,
    body: inApp?.body ?? null,
    action_url: inApp?.actionUrl ?? null,
    action_text: inApp?.actionText ?? null,
    content: r.content,
    channel_states: r.channelStates,
    fallbacks: r.fallbacks,
  });
}

/** A notifications row of the event for one recipient; `fields` overrides the defaults of a scheduled row. */
function notificationRow(
  spec: EventSpec,
  userId: string,
  fields: Partial<NotificationRowInput>,
): NotificationRowInput {
  return {
    event_id: spec.eventId,
    event_type: spec.eventType,
    recipient_id: userId,
    template_code: spec.templateCode,
    template_versions: {},
    category: spec.category,
    priority: spec.options.priority,
    state: 'scheduled',
    channels: [],
    workflow_id: spec.workflowId,
    title: null,
    body: null,
    action_url: null,
    action_text: null,
    data: spec.data,
    content: {},
    channel_states: {},
    fallbacks: {},
    send_at: null,
    experiment_id: null,
    variant: null,
    ...fields,
  };
}

/** Hands the open channels of freshly sending rows to their queues, many jobs per round trip. */
async function handOffSending(
  queues: SendQueues,
  spec: EventSpec,
  stored: StoredRow[],
  readyAtMs?: number,
): Promise<void> {
  const byChannel = new Map<Channel, string[]>();
  for (const r of stored) {
    if (r.state !== 'sending') continue;
    for (const [channel, record] of Object.entries(r.channel_states ?? {}) as [
      Channel,
      ChannelRecords[Channel],
    ][]) {
      if (record?.state === 'queued') byChannel.set(channel, [...(byChannel.get(channel) ?? []), r.id]);
    }
  }
  await Promise.all(
    [...byChannel].map(([channel, ids]) =>
      queues.enqueueBulk(channel, ids, spec.options.priority, readyAtMs),
    ),
  );
}

/**
 * What the event workflow learns from stored rows: each recipient's summary (channel details only
 * when inline), the distinct times waiting rows are due, the earliest deadline of an open channel.
 */
export function summarizeRows(rows: StoredRow[], inline: boolean): DispatchResult {
  const wake = new Set<number>();
  let nextDeadlineMs: number | null = null;
  const recipients = rows.map((r): RecipientSummary => {
    const waiting = r.state === 'scheduled' || r.state === 'waiting_quiet_hours';
    if (waiting && r.send_at) wake.add(new Date(r.send_at).getTime());
    for (const record of Object.values(r.channel_states ?? {})) {
      if (record?.deadlineAt && record.state === 'queued')
        nextDeadlineMs = Math.min(nextDeadlineMs ?? Infinity, Date.parse(record.deadlineAt));
    }
    return {
      userId: r.recipient_id,
      state: r.state,
      notificationId: r.id,
      ...(waiting && r.send_at ? { sendAt: new Date(r.send_at).toISOString() } : {}),
      ...(r.error ? { error: r.error } : {}),
      ...(inline ? { channels: publicChannels(r.channel_states ?? {}) } : {}),
    };
  });
  return { recipients, wakeTimes: [...wake].sort((a, b) => a - b), nextDeadlineMs };
}

/** Recipients that got no row (no such recipient, a template variable missing) come first. */
function withFailed(result: DispatchResult, failed: RecipientSummary[]): DispatchResult {
  return { ...result, recipients: [...failed, ...result.recipients] };
}

// Rendering lives in render-notification.ts; release-0 activities and tests import these from here.
export { channelContent, fetchTemplates, type TemplateRow } from './render-notification';
export type { DispatchResult, RecipientSummary, StoredRow };

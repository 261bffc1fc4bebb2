import type { Client } from '@temporalio/client';
import type { EntityManager } from '@mikro-orm/postgresql';
import { parseBusinessEvent, type BusinessEvent } from '../src/domain/business-event';
import type { Channel } from '../src/domain/channels';
import {
  DEFAULT_DIGEST_HOUR,
  DIGEST_CATEGORIES,
  DIGEST_ITEM_SIGNAL,
  LOW_STOCK_DIGEST,
  dailyDigestTemplate,
  digestEventId,
  digestText,
  digestWorkflowId,
  isDigestTemplate,
  nextLocalHour,
  type DigestItem,
  type DigestItemSignal,
  type DigestTarget,
  type DigestWindowInput,
} from '../src/domain/digest';
import type { ChannelRecords } from '../src/domain/notification-lifecycle';
import type { NotificationRowInput } from '../src/state/notification-store';
import { NotificationRecipientRef } from '../src/temporal/search-attributes';
import { startEventWorkflow } from '../src/temporal/start-event-workflow';
import { businessFailure } from './errors';
import type { EventSpec } from './event-spec';

/** What routing to digests needs: Temporal (signalWithStart) and the digest settings. */
export interface DigestDeps {
  temporalClient: Client;
  /** Task queue of digest and event workflows (TEMPORAL_TASK_QUEUE). */
  taskQueue: string;
  /** LOW_STOCK_DIGEST_WINDOW_MS; 0: INVENTORY_LOW_STOCK is not digested. */
  lowStockWindowMs: number;
}

/** A recipient whose notification of this event went into a digest: its row is stored suppressed with the reason. */
export interface HeldRecipient {
  userId: string;
  fields: Partial<NotificationRowInput>;
}

/** The digest's data stays under the envelope's 64 KiB: items past this budget are counted as "more". */
const DATA_BUDGET_BYTES = 48 * 1024;

export function createDigestRouter(deps: DigestDeps) {
  return {
    /** Splits an admission page: recipients whose notification goes into a digest, and the rest. */
    route: (db: EntityManager, spec: EventSpec, userIds: string[], nowMs: number) =>
      routeToDigests(deps, db, spec, userIds, nowMs),
    /** Folds capped notifications into the recipients' daily digest of the category. */
    fold: (db: EntityManager, spec: EventSpec, userIds: string[], nowMs: number) =>
      foldIntoDailyDigests(deps, db, spec, userIds, nowMs),
  };
}

export type DigestRouter = ReturnType<typeof createDigestRouter>;

/** The digest activities: sendDigest, run by digestWorkflow when a window closes. */
export function createDigestActivities(deps: Omit<DigestDeps, 'lowStockWindowMs'>) {
  return { sendDigest: (input: DigestWindowInput) => sendDigest(deps, input) };
}

/** The row fields of a notification that sends nothing on any channel, each channel saying why. */
export function suppressedFields(channels: Channel[], reason: string): Partial<NotificationRowInput> {
  const channelStates: ChannelRecords = {};
  for (const channel of channels) channelStates[channel] = { state: 'suppressed', attempts: 0, reason };
  return { state: 'suppressed', channels: [], channel_states: channelStates, send_at: null };
}

/** A digest target this release starts: always with the recipient's ref. */
type RefTarget = DigestTarget & { recipientRef: string };

interface DigestCandidate {
  id: string;
  /** recipients.ref: the digest workflow's id carries it (docs/contracts.md, "Workflows and ids"). */
  ref: string;
  timezone: string;
  hour: number | null;
  /** The event's row exists already: an earlier try signalled its digest (signals go before rows). */
  stored: boolean;
}

/**
 * INVENTORY_LOW_STOCK goes into each recipient's low-stock digest (unless urgent or the window is 0);
 * another event of a digest category goes into the daily digest of recipients who chose one. Each
 * digested recipient's digest workflow gets the item (signalWithStart) before the row is stored, so a
 * retried step whose row exists signals nothing again. One query per page; none for other categories.
 */
async function routeToDigests(
  deps: DigestDeps,
  db: EntityManager,
  spec: EventSpec,
  userIds: string[],
  nowMs: number,
): Promise<{ direct: string[]; held: HeldRecipient[] }> {
  const lowStock = spec.eventType === LOW_STOCK_DIGEST.eventType && deps.lowStockWindowMs > 0;
  const digestible = lowStock || (DIGEST_CATEGORIES as readonly string[]).includes(spec.category);
  if (
    !digestible ||
    userIds.length === 0 ||
    isDigestTemplate(spec.templateCode) ||
    spec.options.priority === 'urgent'
  )
    return { direct: userIds, held: [] };
  // Outside low-stock digests only a recipient who chose a digest hour for the category is one.
  const candidates = await digestCandidates(db, spec, userIds, { withHourOnly: !lowStock });
  const direct: string[] = [];
  const held: HeldRecipient[] = [];
  const signals: Promise<void>[] = [];
  for (const userId of userIds) {
    const candidate = candidates.get(userId);
    const window = candidate && digestWindow(deps, spec, candidate, lowStock, nowMs);
    if (!candidate || !window) {
      direct.push(userId);
      continue;
    }
    const reason = `digest: collected into ${digestWorkflowId(candidate.ref, window.target.key)}`;
    held.push({ userId, fields: suppressedFields(spec.channels, reason) });
    if (!candidate.stored)
      signals.push(signalDigest(deps, window.target, itemOf(spec, nowMs), window.closeAtMs));
  }
  await Promise.all(signals);
  return { direct, held };
}

/**
 * The recipients as digest candidates; `withHourOnly`: only those with a digest hour for the category (a
 * campaign page of thousands looks up the few who chose one, not every recipient's row).
 */
async function digestCandidates(
  db: EntityManager,
  spec: EventSpec,
  userIds: string[],
  options: { withHourOnly: boolean } = { withHourOnly: false },
): Promise<Map<string, DigestCandidate>> {
  const join = options.withHourOnly ? 'join' : 'left join';
  const rows: DigestCandidate[] = await db.getConnection().execute(
    `select r.id, r.ref, r.timezone, d.hour,
            exists (select 1 from notifications n where n.event_id = ? and n.recipient_id = r.id) as stored
       from recipients r ${join} digest_preferences d on d.recipient_id = r.id and d.category = ?
      where r.id in (select jsonb_array_elements_text(?::jsonb))`,
    [spec.eventId, spec.category, JSON.stringify(userIds)],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

/** Which digest a recipient's notification goes into and when a window it opens closes; null: none. */
function digestWindow(
  deps: DigestDeps,
  spec: EventSpec,
  candidate: DigestCandidate,
  lowStock: boolean,
  nowMs: number,
): { target: RefTarget; closeAtMs: number } | null {
  if (lowStock) {
    const { key, templateCode } = LOW_STOCK_DIGEST;
    return {
      target: { recipientId: candidate.id, recipientRef: candidate.ref, key, templateCode },
      closeAtMs: nowMs + deps.lowStockWindowMs,
    };
  }
  if (candidate.hour === null) return null;
  return {
    target: dailyTarget(candidate, spec.category),
    closeAtMs: nextLocalHour(nowMs, candidate.hour, candidate.timezone),
  };
}

function dailyTarget(recipient: { id: string; ref: string }, category: string): RefTarget {
  return {
    recipientId: recipient.id,
    recipientRef: recipient.ref,
    key: `daily.${category}`,
    templateCode: dailyDigestTemplate(category),
  };
}

/** Capped notifications into the daily digest of their category, at the recipient's chosen hour (else 09:00 local). */
async function foldIntoDailyDigests(
  deps: DigestDeps,
  db: EntityManager,
  spec: EventSpec,
  userIds: string[],
  nowMs: number,
): Promise<void> {
  const candidates = await digestCandidates(db, spec, userIds);
  await Promise.all(
    [...candidates.values()].map((c) =>
      signalDigest(
        deps,
        dailyTarget(c, spec.category),
        itemOf(spec, nowMs),
        nextLocalHour(nowMs, c.hour ?? DEFAULT_DIGEST_HOUR, c.timezone),
      ),
    ),
  );
}

/** The event as one digest line (`occurredAt`: when it was admitted, by the workflow's clock). */
function itemOf(spec: EventSpec, nowMs: number): DigestItem {
  const data = spec.data;
  const text = (key: string) =>
    typeof data[key] === 'string' || typeof data[key] === 'number' ? String(data[key]) : null;
  const summary =
    spec.eventType === LOW_STOCK_DIGEST.eventType
      ? `${text('productName')}: ${text('currentStock')} left${text('sku') ? ` (SKU ${text('sku')})` : ''}`
      : (text('title') ?? text('subject') ?? text('productName') ?? spec.eventType ?? spec.templateCode);
  return { eventId: spec.eventId, occurredAt: new Date(nowMs).toISOString(), summary, data };
}

async function signalDigest(
  deps: DigestDeps,
  target: RefTarget,
  item: DigestItem,
  closeAtMs: number,
): Promise<void> {
  const signal: DigestItemSignal = { item, closeAtMs };
  await deps.temporalClient.workflow.signalWithStart('digestWorkflow', {
    workflowId: digestWorkflowId(target.recipientRef, target.key),
    taskQueue: deps.taskQueue,
    args: [target],
    signal: DIGEST_ITEM_SIGNAL,
    signalArgs: [signal],
    typedSearchAttributes: [{ key: NotificationRecipientRef, value: target.recipientRef }],
  });
}

/**
 * Sends one window's items as one notification through the normal path: a direct send (its own event
 * workflow, rows, dispatcher hand-off) whose event id is derived from the digest key and the window's
 * start, so a retry or a replay after a worker kill finds it started and creates nothing again.
 */
async function sendDigest(
  deps: Omit<DigestDeps, 'lowStockWindowMs'>,
  input: DigestWindowInput,
): Promise<{ eventId: string; started: boolean }> {
  const event = digestEnvelope(input);
  const started = await startEventWorkflow(deps.temporalClient, event, { taskQueue: deps.taskQueue });
  return { eventId: event.id, started };
}

/** The digest's envelope: `count`, `itemsText` (one line per item) and `items` as template variables. */
function digestEnvelope(input: DigestWindowInput): BusinessEvent {
  const items: DigestItem[] = [];
  let bytes = 0;
  for (const item of input.items) {
    bytes += JSON.stringify(item).length * 2;
    if (bytes > DATA_BUDGET_BYTES) break;
    items.push(item);
  }
  const more = input.items.length - items.length;
  try {
    return parseBusinessEvent({
      id: digestEventId(input, input.windowStartMs),
      templateCode: input.templateCode,
      occurredAt: new Date(input.windowStartMs).toISOString(),
      userId: input.recipientId,
      data: { count: input.items.length, itemsText: digestText(items, more), items, more },
    });
  } catch (err) {
    throw businessFailure('InvalidEvent', `digest ${input.key}: ${(err as Error).message}`);
  }
}

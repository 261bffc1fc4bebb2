import type { EntityManager } from '@mikro-orm/postgresql';
import { WorkflowNotFoundError } from '@temporalio/client';
import { parseBusinessEvent, type BusinessEvent } from '../src/domain/business-event';
import type { Channel } from '../src/domain/channels';
import {
  correlationKeyOf,
  EVENT_CATALOG,
  fallbacksFor,
  type EventDefinition,
} from '../src/domain/event-catalog';
import { recipientIdsWithRole } from '../src/db/recipient-roles';
import { INLINE_STATUS_LIMIT } from '../src/domain/event-ledger';
import type { EventPlan } from '../src/domain/notification-request';
import { followUpWorkflowId } from '../src/domain/workflow-ids';
import { recipientRefs } from '../src/db/recipient-refs';
import type { DispatchResult } from './dispatcher';
import type { EventSpec } from './event-spec';
import { businessFailure } from './errors';
import type { EventStepDeps } from './event-step-deps';
import { planFollowUp } from './follow-up-plan';
import { shapeOrderEvent, signalOrderJourney } from './order-journey-step';
import { DEFAULT_INFRA_HORIZON_MS } from './reconciler';
import { findRelease0Waiting } from './release-0-lookups';
import { dataOf } from '../src/state/notification-contents';
import { fetchTemplates, type TemplateRow } from './render-notification';

/** Recipients admitted per local activity; an event has at most 1000 (larger audiences are campaigns). */
export const EVENT_PAGE_SIZE = 500;

/** What the event workflow learns from its first step. */
export interface OpenedEvent extends DispatchResult {
  spec: EventSpec;
  /** Recipients still to admit (events of more than one page). */
  pending: string[];
  /** Workflows to tell `cancel`: superseded notifications and follow-ups this event makes obsolete. */
  supersede: { workflowId: string; userId?: string }[];
  /** The follow-up to schedule per recipient, keyed by the order it belongs to. */
  followUp: (NonNullable<EventPlan['followUp']> & { correlationKey: string }) | null;
  /**
   * Opaque refs (`recipients.ref`) by user id, for the workflow's ids and search attributes: present when
   * the event has one recipient or schedules follow-ups. Absent in release 4 and earlier (their markers).
   */
  recipientRefs?: Record<string, string>;
}

export interface OpenEventInput {
  event: unknown;
  workflowId: string;
  eventId?: string;
  nowMs?: number;
}

/** An event with what the catalog, the templates and the recipients table say about it. */
interface ResolvedEvent {
  event: BusinessEvent;
  definition: EventDefinition | undefined;
  templateCode: string;
  /** Read once: the plan takes channels and category from them, the dispatcher renders from them. */
  templates: TemplateRow[];
  recipients: string[];
  channels: Channel[];
  /** Held ORDER_SHIPPED notices this event's message folds in (activities/order-journey-step.ts). */
  folded?: { eventId: string; workflowId: string; userId: string }[];
}

/**
 * Validates the envelope (any Temporal client may start the workflow with hand-written JSON),
 * resolves recipients, template and channels, finds what this event supersedes, and admits the
 * first page of recipients: those due now are stored and handed to the queues in this same step.
 */
export async function openEvent(deps: EventStepDeps, input: OpenEventInput): Promise<OpenedEvent> {
  const event = parseEnvelope(input.event);
  const db = deps.orm.em.fork();
  const resolved = await shapeOrderEvent(deps.config.orderJourney, db, await resolveEvent(db, event));
  const refs = await refsOf(db, resolved);
  const { supersede, followUp } = await relatedWork(deps, db, resolved, refs);
  const spec = eventSpecOf(deps, input.workflowId, resolved);
  const { recipients, templates } = resolved;
  const admitted = await deps.dispatcher.admitRecipients(spec, recipients.slice(0, EVENT_PAGE_SIZE), {
    inline: recipients.length <= INLINE_STATUS_LIMIT,
    templates,
    nowMs: input.nowMs,
  });
  await signalOrderJourney(deps, resolved, admitted.recipients);
  const folded = (resolved.folded ?? [])
    .filter((f) => !supersede.some((s) => s.workflowId === f.workflowId))
    .map(({ workflowId, userId }) => ({ workflowId, userId }));
  return {
    ...admitted,
    spec,
    pending: recipients.slice(EVENT_PAGE_SIZE),
    supersede: [...supersede, ...folded],
    followUp,
    ...(followUp || event.userId ? { recipientRefs: Object.fromEntries(refs) } : {}),
  };
}

/** Refs of the first page's recipients when the event names one recipient, schedules or cancels follow-ups. */
async function refsOf(db: EntityManager, resolved: ResolvedEvent): Promise<Map<string, string>> {
  const { definition, event } = resolved;
  const needed = event.userId || definition?.followUp || definition?.cancelsFollowUps?.length;
  return needed ? recipientRefs(db, resolved.recipients.slice(0, EVENT_PAGE_SIZE)) : new Map();
}

function parseEnvelope(envelope: unknown): BusinessEvent {
  try {
    return parseBusinessEvent(envelope);
  } catch (err) {
    throw businessFailure('InvalidEvent', (err as Error).message);
  }
}

/** The event's template (it must exist), its distinct recipients and the channels to try. */
async function resolveEvent(db: EntityManager, event: BusinessEvent): Promise<ResolvedEvent> {
  const definition = event.type ? EVENT_CATALOG[event.type] : undefined;
  const templateCode = definition?.templateCode ?? event.templateCode!;
  const templates = await fetchTemplates(db, templateCode);
  if (templates.length === 0)
    throw businessFailure('TemplateNotFound', `no template with code "${templateCode}"`);
  const recipients = await resolveRecipients(db, event, definition);
  const channels = event.options.channels ??
    definition?.channels ?? [...new Set(templates.map((t) => t.channel))];
  return { event, definition, templateCode, templates, recipients, channels };
}

/** The envelope's recipients, else every recipient with the catalog's default role; each once. */
async function resolveRecipients(
  db: EntityManager,
  event: BusinessEvent,
  definition: EventDefinition | undefined,
): Promise<string[]> {
  let recipients = event.userIds ?? (event.userId ? [event.userId] : []);
  if (recipients.length === 0 && definition?.defaultRecipientRole) {
    recipients = await recipientIdsWithRole(db, definition.defaultRecipientRole);
  }
  return [...new Set(recipients)];
}

/**
 * What the event does to other work of the same order (its correlation key): follow-ups and waiting
 * notifications it supersedes, and the follow-up it schedules. Events without a key or a catalog entry do none.
 */
async function relatedWork(
  deps: EventStepDeps,
  db: EntityManager,
  resolved: ResolvedEvent,
  refs: Map<string, string>,
): Promise<Pick<OpenedEvent, 'supersede' | 'followUp'>> {
  const { definition, recipients } = resolved;
  const correlationKey = correlationKeyOf(resolved.event.data);
  if (correlationKey === null || !definition) return { supersede: [], followUp: null };
  const supersede: OpenedEvent['supersede'] = [];
  for (const kind of definition.cancelsFollowUps ?? []) {
    for (const userId of recipients) {
      const ref = refs.get(userId);
      if (ref) supersede.push({ workflowId: followUpWorkflowId(kind, correlationKey, ref) });
    }
    supersede.push(...(await legacyFollowUps(deps, kind, correlationKey, recipients)));
  }
  supersede.push(...(await supersededNotifications(deps, db, definition, correlationKey, recipients)));
  let followUp: OpenedEvent['followUp'] = null;
  if (definition.followUp) {
    const delayMs = deps.config.paymentReminderDelayMs;
    const planned = await planFollowUp(db, definition.followUp, resolved.channels, delayMs);
    followUp = { ...planned, correlationKey };
  }
  return { supersede, followUp };
}

/**
 * Follow-ups started by release 4 and earlier, whose ids carry the user id: only the running ones are
 * signalled, so a new history names no user id that is not already in one. Needed until no such follow-up
 * can be open (PAYMENT_REMINDER_DELAY_MS after the deploy of opaque ids), then this goes.
 */
async function legacyFollowUps(
  deps: EventStepDeps,
  kind: string,
  correlationKey: string,
  userIds: string[],
): Promise<OpenedEvent['supersede']> {
  const running = await Promise.all(
    userIds.map(async (userId) => {
      const workflowId = followUpWorkflowId(kind, correlationKey, userId);
      try {
        const { status } = await deps.temporalClient.workflow.getHandle(workflowId).describe();
        return status.name === 'RUNNING' ? workflowId : null;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return null;
        throw err;
      }
    }),
  );
  return running.filter((id): id is string => id !== null).map((workflowId) => ({ workflowId }));
}

/** Still-waiting notifications of the superseded event types for the same order and recipients, ours then release 0's. */
async function supersededNotifications(
  deps: EventStepDeps,
  db: EntityManager,
  definition: EventDefinition,
  correlationKey: string,
  recipients: string[],
): Promise<OpenedEvent['supersede']> {
  if (!definition.supersedes?.length) return [];
  const rows: { workflow_id: string; recipient_id: string }[] = await db.getConnection().execute(
    `select workflow_id, recipient_id from notifications n
      where event_type in (select jsonb_array_elements_text(?::jsonb))
        and recipient_id in (select jsonb_array_elements_text(?::jsonb)) and state in ('scheduled', 'waiting_quiet_hours')
        and ${dataOf('n')}->>'orderNumber' = ?`,
    [JSON.stringify(definition.supersedes), JSON.stringify(recipients), correlationKey],
  );
  const superseded: OpenedEvent['supersede'] = rows.map((r) => ({
    workflowId: r.workflow_id,
    userId: r.recipient_id,
  }));
  for (const type of definition.supersedes) {
    const release0 = await findRelease0Waiting(deps.temporalClient, type, correlationKey, recipients);
    superseded.push(...release0.map((workflowId) => ({ workflowId })));
  }
  return superseded;
}

/** What every notification of the event shares. */
function eventSpecOf(deps: EventStepDeps, workflowId: string, resolved: ResolvedEvent): EventSpec {
  const { event, definition, templateCode } = resolved;
  const { config } = deps;
  return {
    eventId: event.id,
    eventType: event.type ?? null,
    workflowId,
    templateCode,
    category: definition?.category ?? resolved.templates[0].category,
    channels: resolved.channels,
    fallbacks: fallbacksFor(templateCode),
    data: event.data,
    options: event.options,
    deliveryDeadlineMs: config.deliveryDeadlineMs,
    infraHorizonMs: config.infraRetryHorizonMs ?? DEFAULT_INFRA_HORIZON_MS,
    tracked: true,
  };
}

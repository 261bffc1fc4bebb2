import type { EntityManager } from '@mikro-orm/postgresql';
import { correlationKeyOf } from '../src/domain/event-catalog';
import type { RecipientSummary } from '../src/domain/event-ledger';
import {
  FOLDED_TEMPLATE,
  foldsHeld,
  holdForFoldMs,
  JOURNEY_MESSAGES,
  ORDER_JOURNEY_WORKFLOW_TYPE,
  orderJourneyWorkflowId,
  shouldFold,
  type JourneyEvent,
  type JourneyInput,
  type JourneySettings,
  type JourneySignal,
  type OrderJourneyConfig,
} from '../src/domain/order-journey';
import { cancelBeforeProviders } from '../src/state/notification-store';
import { dataOf } from '../src/state/notification-contents';
import type { ActivityDeps } from './deps';
import { fetchTemplates, type TemplateRow } from './render-notification';

/** The part of an event's resolution the journey step reads and may change (open-event.ts, ResolvedEvent). */
export interface JourneyResolution {
  event: { id: string; type?: string | null; occurredAt: string; data: Record<string, unknown> } & {
    options: { delayMs: number };
  };
  templateCode: string;
  templates: TemplateRow[];
  recipients: string[];
  /** Set when this event's message folds held ORDER_SHIPPED notices in: their events and workflows. */
  folded?: { eventId: string; workflowId: string; userId: string }[];
}

/**
 * Before the event is admitted: an ORDER_SHIPPED notice waits the fold window (ORDER_FOLD_WINDOW_MS),
 * and an ORDER_DELIVERED that finds every recipient's shipping notice still waiting cancels those notices
 * and sends one "shipped and delivered" message instead (template `order_shipped_delivered`, the shipped
 * event's data under its own). A notice a worker already handed to a provider is not folded.
 */
export async function shapeOrderEvent<R extends JourneyResolution>(
  config: OrderJourneyConfig | undefined,
  db: EntityManager,
  resolved: R,
): Promise<R> {
  if (!config || correlationKeyOf(resolved.event.data) === null) return resolved;
  const holdMs = holdForFoldMs(resolved.event.type, config);
  if (holdMs > 0) {
    const options = { ...resolved.event.options, delayMs: Math.max(resolved.event.options.delayMs, holdMs) };
    return { ...resolved, event: { ...resolved.event, options } };
  }
  return foldsHeld(resolved.event.type, config) ? foldHeldShipping(db, resolved) : resolved;
}

interface HeldRow {
  event_id: string;
  workflow_id: string;
  recipient_id: string;
  state: string;
  data: Record<string, unknown>;
}

async function foldHeldShipping<R extends JourneyResolution>(db: EntityManager, resolved: R): Promise<R> {
  const templates = await fetchTemplates(db, FOLDED_TEMPLATE);
  if (templates.length === 0) return resolved;
  const reason = `cancelled: folded into ORDER_DELIVERED ${resolved.event.id}`;
  const held = await heldShipping(db, resolved, reason);
  if (
    !shouldFold(
      resolved.recipients,
      held.map((r) => r.recipient_id),
    )
  )
    return resolved;
  for (const row of held.filter((r) => r.state !== 'cancelled'))
    await cancelBeforeProviders(db, row.event_id, row.recipient_id, reason);
  const folded = await heldShipping(db, resolved, reason);
  if (
    !shouldFold(
      resolved.recipients,
      folded.filter((r) => r.state === 'cancelled').map((r) => r.recipient_id),
    )
  )
    return resolved;
  const shippedData = Object.assign({}, ...folded.map((r) => r.data)) as Record<string, unknown>;
  return {
    ...resolved,
    event: { ...resolved.event, data: { ...shippedData, ...resolved.event.data } },
    templateCode: FOLDED_TEMPLATE,
    templates,
    folded: folded.map((r) => ({ eventId: r.event_id, workflowId: r.workflow_id, userId: r.recipient_id })),
  };
}

/** The order's ORDER_SHIPPED notices for these recipients still waiting, or already folded into this event (a retried step). */
function heldShipping(db: EntityManager, resolved: JourneyResolution, reason: string): Promise<HeldRow[]> {
  return db.getConnection().execute(
    `select * from (
       select event_id, workflow_id, recipient_id, state, ${dataOf('n')} as data, created_at from notifications n
        where event_type = 'ORDER_SHIPPED' and recipient_id in (select jsonb_array_elements_text(?::jsonb))
          and (state = 'scheduled' or (state = 'cancelled' and error = ?))) held
      where data->>'orderNumber' = ?
      order by created_at`,
    [JSON.stringify(resolved.recipients), reason, correlationKeyOf(resolved.event.data)],
  );
}

/**
 * After the event is admitted: tells the order's journey (`order-<orderNumber>`), starting it when it
 * does not run. Business events with an order number only (direct sends and follow-ups are not order events).
 * A failure fails the step, which is retried like any other (its admission is idempotent).
 */
export async function signalOrderJourney(
  deps: Pick<ActivityDeps, 'temporalClient'> & { config: { orderJourney?: OrderJourneyConfig } },
  resolved: JourneyResolution,
  admitted: RecipientSummary[],
): Promise<void> {
  const config = deps.config.orderJourney;
  const orderNumber = correlationKeyOf(resolved.event.data);
  if (!config?.enabled || !resolved.event.type || orderNumber === null) return;
  const settings: JourneySettings = {
    shipPromiseHours: config.shipPromiseHours,
    foldWindowMs: config.foldWindowMs,
    idleDays: config.idleDays,
  };
  const start: JourneyInput = { orderNumber, settings };
  const signal: JourneySignal = { event: journeyEventOf(resolved, admitted), settings };
  await deps.temporalClient.workflow.signalWithStart(ORDER_JOURNEY_WORKFLOW_TYPE, {
    workflowId: orderJourneyWorkflowId(orderNumber),
    taskQueue: config.taskQueue,
    args: [start],
    signal: JOURNEY_MESSAGES.orderEvent,
    signalArgs: [signal],
  });
}

function journeyEventOf(resolved: JourneyResolution, admitted: RecipientSummary[]): JourneyEvent {
  const { event } = resolved;
  const promised = event.type === 'ORDER_CREATED' ? event.data.promisedShipBy : undefined;
  return {
    eventId: event.id,
    type: event.type!,
    occurredAt: event.occurredAt,
    userIds: resolved.recipients,
    ...(typeof promised === 'string' ? { promisedShipBy: promised } : {}),
    templateCode: resolved.templateCode,
    notifications: admitted.filter((r) => r.notificationId).length,
    ...(resolved.folded?.length ? { folded: [...new Set(resolved.folded.map((f) => f.eventId))] } : {}),
  };
}

/**
 * The rules of an order journey (docs/order-journeys.md): one workflow per order, `order-<orderNumber>`,
 * that the order's events signal. Pure functions of the journey's state, an event or the clock, and the
 * shop's settings; the journey workflow (workflows/order-journey-workflow.ts) carries out their actions,
 * the event's first step (activities/order-journey-step.ts) asks the fold rules.
 */

/** The shop's settings (env vars, docs/contracts.md "Environment"); sent with every event, so a change reaches open journeys. */
export interface JourneySettings {
  /** ORDER_SHIP_PROMISE_HOURS: shipping promised this long after ORDER_CREATED when its data names no `promisedShipBy`; 0 = no promise. */
  shipPromiseHours: number;
  /** ORDER_FOLD_WINDOW_MS: an ORDER_SHIPPED notice waits this long, so an ORDER_DELIVERED within it sends one message; 0 = off. */
  foldWindowMs: number;
  /** ORDER_JOURNEY_IDLE_DAYS: a journey with nothing left to watch closes this long after its last event. */
  idleDays: number;
}

/** ORDER_JOURNEYS and the shop's journey settings (src/config.ts). */
export interface OrderJourneyConfig extends JourneySettings {
  /** Signal (and start) the order's journey from each order event's first step. */
  enabled: boolean;
  /** Task queue journeys run on (TEMPORAL_TASK_QUEUE). */
  taskQueue: string;
}

/** What an event step tells the journey (signal `orderEvent`): ids, types and times only. */
export interface JourneyEvent {
  eventId: string;
  type: string;
  occurredAt: string;
  userIds: string[];
  /** ORDER_CREATED's promised shipping time (data `promisedShipBy`), ISO 8601. */
  promisedShipBy?: string;
  /** The template the event's notifications were rendered from and how many it stored. */
  templateCode: string;
  notifications: number;
  /** ORDER_SHIPPED events whose held notice this event's message folded in. */
  folded?: string[];
}

export type JourneyStage = 'open' | 'placed' | 'shipped' | 'delivered' | 'cancelled';

export interface JourneyMessage {
  kind: 'event' | 'shipped_and_delivered' | 'order_delayed';
  eventId: string;
  templateCode: string;
  at: string;
}

export interface JourneyState {
  orderNumber: string;
  stage: JourneyStage;
  userIds: string[];
  createdAt: string | null;
  promisedShipBy: string | null;
  shippedAt: string | null;
  deliveredAt: string | null;
  cancelledAt: string | null;
  delayNotified: boolean;
  /** Workflow clock at the last event: the idle end counts from it. */
  lastEventAtMs: number;
  /** Every event taken, across continue-as-new runs. */
  eventsSeen: number;
  /** The latest MAX_KEPT events and messages (the query's answer stays small). */
  events: (Pick<JourneyEvent, 'eventId' | 'type' | 'occurredAt'> & { receivedAt: string })[];
  messages: JourneyMessage[];
  /** Why the journey ended, once it did. */
  ended: 'delivered' | 'cancelled' | 'idle' | null;
}

export type JourneyAction =
  | { kind: 'send_delay_notice'; userIds: string[]; promisedShipBy: string }
  | { kind: 'end'; reason: NonNullable<JourneyState['ended']> };

export interface JourneyDeadline {
  kind: 'ship_promise' | 'idle_end';
  atMs: number;
}

/** Events and messages kept in the state; older ones only count in `eventsSeen`. */
export const MAX_KEPT = 50;
const HOUR_MS = 3600 * 1000;
const DAY_MS = 24 * HOUR_MS;

/** Workflow id of an order's journey (docs/contracts.md, "Workflows and ids"). */
export function orderJourneyWorkflowId(orderNumber: string): string {
  return `order-${orderNumber}`;
}

/** Template of the one message sent when ORDER_DELIVERED arrives while ORDER_SHIPPED's notice is held. */
export const FOLDED_TEMPLATE = 'order_shipped_delivered';
/** Template of the journey's own message when shipping misses its promise. */
export const DELAY_TEMPLATE = 'order_delayed';

export function newJourney(orderNumber: string, nowMs: number): JourneyState {
  return {
    orderNumber,
    stage: 'open',
    userIds: [],
    createdAt: null,
    promisedShipBy: null,
    shippedAt: null,
    deliveredAt: null,
    cancelledAt: null,
    delayNotified: false,
    lastEventAtMs: nowMs,
    eventsSeen: 0,
    events: [],
    messages: [],
    ended: null,
  };
}

/** State after one of the order's events, and what the journey does about it. A duplicate changes nothing. */
export function applyEvent(
  state: JourneyState,
  event: JourneyEvent,
  settings: JourneySettings,
  nowMs: number,
): { state: JourneyState; actions: JourneyAction[] } {
  if (state.ended || state.events.some((e) => e.eventId === event.eventId)) return { state, actions: [] };
  const at = new Date(nowMs).toISOString();
  const next: JourneyState = {
    ...state,
    ...stageChange(state, event, settings),
    userIds: [...new Set([...state.userIds, ...event.userIds])],
    lastEventAtMs: nowMs,
    eventsSeen: state.eventsSeen + 1,
    events: keep([
      ...state.events,
      { eventId: event.eventId, type: event.type, occurredAt: event.occurredAt, receivedAt: at },
    ]),
    messages: messagesAfter(state.messages, event, at),
  };
  const ends = next.stage === 'delivered' || next.stage === 'cancelled';
  if (!ends) return { state: next, actions: [] };
  const reason = next.stage as 'delivered' | 'cancelled';
  return { state: { ...next, ended: reason }, actions: [{ kind: 'end', reason }] };
}

/** What the event says about the order; events that say nothing about it (payments) change no stage. */
function stageChange(
  state: JourneyState,
  event: JourneyEvent,
  settings: JourneySettings,
): Partial<JourneyState> {
  switch (event.type) {
    case 'ORDER_CREATED':
      return {
        stage: state.stage === 'open' ? 'placed' : state.stage,
        createdAt: event.occurredAt,
        promisedShipBy: promiseOf(event, settings),
      };
    case 'ORDER_SHIPPED':
      return { stage: 'shipped', shippedAt: event.occurredAt };
    case 'ORDER_DELIVERED':
      return {
        stage: 'delivered',
        deliveredAt: event.occurredAt,
        shippedAt: state.shippedAt ?? event.occurredAt,
      };
    case 'ORDER_CANCELLED':
      return { stage: 'cancelled', cancelledAt: event.occurredAt };
    default:
      return {};
  }
}

/** The promised shipping time: the event's own, else ORDER_SHIP_PROMISE_HOURS after it occurred, else none. */
function promiseOf(event: JourneyEvent, settings: JourneySettings): string | null {
  if (event.promisedShipBy) return new Date(Date.parse(event.promisedShipBy)).toISOString();
  if (settings.shipPromiseHours <= 0) return null;
  return new Date(Date.parse(event.occurredAt) + settings.shipPromiseHours * HOUR_MS).toISOString();
}

function messageOf(event: JourneyEvent, at: string): JourneyMessage {
  const folded = (event.folded?.length ?? 0) > 0;
  return {
    kind: folded ? 'shipped_and_delivered' : 'event',
    eventId: event.eventId,
    templateCode: event.templateCode,
    at,
  };
}

/** The event's message joins the list; held notices it folded in never went out and leave it. */
function messagesAfter(messages: JourneyMessage[], event: JourneyEvent, at: string): JourneyMessage[] {
  const sent = messages.filter((m) => !event.folded?.includes(m.eventId));
  return event.notifications > 0 ? keep([...sent, messageOf(event, at)]) : sent;
}

function keep<T>(list: T[]): T[] {
  return list.length > MAX_KEPT ? list.slice(list.length - MAX_KEPT) : list;
}

/**
 * The journey's next deadline; an open journey always has one (its timer): the shipping promise while
 * the order waits to ship, else the idle end. None once it ended.
 */
export function nextDeadline(state: JourneyState, settings: JourneySettings): JourneyDeadline | null {
  if (state.ended) return null;
  const idle: JourneyDeadline = { kind: 'idle_end', atMs: state.lastEventAtMs + settings.idleDays * DAY_MS };
  const promiseMs = state.promisedShipBy ? Date.parse(state.promisedShipBy) : NaN;
  const waitsToShip = state.stage === 'placed' && !state.delayNotified && !Number.isNaN(promiseMs);
  return waitsToShip && promiseMs < idle.atMs ? { kind: 'ship_promise', atMs: promiseMs } : idle;
}

/** The deadline came: a missed promise sends the delay message (once); the idle end closes the journey. */
export function onDeadline(
  state: JourneyState,
  settings: JourneySettings,
  nowMs: number,
  delayEventId: string,
): { state: JourneyState; actions: JourneyAction[] } {
  const deadline = nextDeadline(state, settings);
  if (!deadline || deadline.atMs > nowMs) return { state, actions: [] };
  if (deadline.kind === 'idle_end')
    return { state: { ...state, ended: 'idle' }, actions: [{ kind: 'end', reason: 'idle' }] };
  const next = { ...state, delayNotified: true };
  if (state.userIds.length === 0) return { state: next, actions: [] };
  const message: JourneyMessage = {
    kind: 'order_delayed',
    eventId: delayEventId,
    templateCode: DELAY_TEMPLATE,
    at: new Date(nowMs).toISOString(),
  };
  return {
    state: { ...next, messages: keep([...state.messages, message]) },
    actions: [{ kind: 'send_delay_notice', userIds: state.userIds, promisedShipBy: state.promisedShipBy! }],
  };
}

const EVENT_ID = /^[A-Za-z0-9._:-]{1,180}$/;

/** Event id of the journey's delay message: from the order number when it fits an event id, else from the journey's first run. */
export function delayNoticeEventId(orderNumber: string, firstRunId: string): string {
  return EVENT_ID.test(orderNumber)
    ? `${orderNumber}.${DELAY_TEMPLATE}`
    : `order.${firstRunId}.${DELAY_TEMPLATE}`;
}

/** How long an event's notifications are held so a later event can fold them in (ORDER_SHIPPED only). */
export function holdForFoldMs(eventType: string | null | undefined, settings: JourneySettings): number {
  return eventType === 'ORDER_SHIPPED' ? settings.foldWindowMs : 0;
}

/** Whether this event folds held notices of another type into one message (ORDER_DELIVERED folds ORDER_SHIPPED). */
export function foldsHeld(
  eventType: string | null | undefined,
  settings: JourneySettings,
): 'ORDER_SHIPPED' | null {
  return eventType === 'ORDER_DELIVERED' && settings.foldWindowMs > 0 ? 'ORDER_SHIPPED' : null;
}

/** One message instead of two only when every recipient's shipping notice was held and is now cancelled. */
export function shouldFold(recipients: string[], heldFor: string[]): boolean {
  const held = new Set(heldFor);
  return recipients.length > 0 && recipients.every((r) => held.has(r));
}

/** What the journey's query answers (GET /api/orders/{orderNumber}/journey). */
export interface JourneyView extends Omit<JourneyState, 'lastEventAtMs' | 'delayNotified' | 'stage'> {
  state: JourneyStage;
  delayNotified: boolean;
  lastEventAt: string;
  deadline: { kind: JourneyDeadline['kind']; at: string } | null;
  settings: JourneySettings;
}

export function journeyView(state: JourneyState, settings: JourneySettings): JourneyView {
  const { lastEventAtMs, stage, ...rest } = state;
  const deadline = nextDeadline(state, settings);
  return {
    ...rest,
    state: stage,
    lastEventAt: new Date(lastEventAtMs).toISOString(),
    deadline: deadline ? { kind: deadline.kind, at: new Date(deadline.atMs).toISOString() } : null,
    settings,
  };
}

/** Names of the journey's messages (docs/contracts.md, "Signals, updates and queries"). */
export const JOURNEY_MESSAGES = {
  /** Signal: one of the order's events, `{ event: JourneyEvent, settings: JourneySettings }`. */
  orderEvent: 'orderEvent',
  /** Query: the journey as JourneyView. */
  orderJourney: 'orderJourney',
} as const;

/** Workflow type of the journey, for clients that start it by name (the event step's signal-with-start). */
export const ORDER_JOURNEY_WORKFLOW_TYPE = 'orderJourneyWorkflow';

/** The journey workflow's argument; a continue-as-new run carries the state on. */
export interface JourneyInput {
  orderNumber: string;
  settings: JourneySettings;
  state?: JourneyState;
}

/** Payload of the `orderEvent` signal. */
export interface JourneySignal {
  event: JourneyEvent;
  settings: JourneySettings;
}

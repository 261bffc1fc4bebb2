import {
  applyEvent,
  delayNoticeEventId,
  foldsHeld,
  holdForFoldMs,
  journeyView,
  MAX_KEPT,
  newJourney,
  nextDeadline,
  onDeadline,
  orderJourneyWorkflowId,
  shouldFold,
  type JourneyEvent,
  type JourneySettings,
  type JourneyState,
} from '../../src/domain/order-journey';

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-12-01T10:00:00Z');
const settings: JourneySettings = { shipPromiseHours: 0, foldWindowMs: 0, idleDays: 30 };

const event = (type: string, extra: Partial<JourneyEvent> = {}): JourneyEvent => ({
  eventId: `${type}-1`,
  type,
  occurredAt: new Date(T0).toISOString(),
  userIds: ['u_1'],
  templateCode: type.toLowerCase(),
  notifications: 1,
  ...extra,
});

function run(state: JourneyState, ...events: JourneyEvent[]): JourneyState {
  return events.reduce((s, e, i) => applyEvent(s, e, settings, T0 + i * 1000).state, state);
}

describe('order journey rules', () => {
  it('is keyed by the order number', () => {
    expect(orderJourneyWorkflowId('A-1001')).toBe('order-A-1001');
  });

  it('takes the promise from ORDER_CREATED data, else from ORDER_SHIP_PROMISE_HOURS, else has none', () => {
    const own = applyEvent(
      newJourney('A-1', T0),
      event('ORDER_CREATED', { promisedShipBy: '2026-12-03T18:00:00+05:30' }),
      { ...settings, shipPromiseHours: 48 },
      T0,
    ).state;
    expect(own.promisedShipBy).toBe('2026-12-03T12:30:00.000Z');
    const bySetting = applyEvent(
      newJourney('A-1', T0),
      event('ORDER_CREATED'),
      { ...settings, shipPromiseHours: 48 },
      T0,
    );
    expect(bySetting.state.promisedShipBy).toBe(new Date(T0 + 48 * HOUR).toISOString());
    expect(run(newJourney('A-1', T0), event('ORDER_CREATED')).promisedShipBy).toBeNull();
  });

  it('waits for the promise while the order is placed, then sends the delay message once', () => {
    const placed = run(
      newJourney('A-1', T0),
      event('ORDER_CREATED', { promisedShipBy: new Date(T0 + HOUR).toISOString() }),
    );
    expect(nextDeadline(placed, settings)).toEqual({ kind: 'ship_promise', atMs: T0 + HOUR });
    expect(onDeadline(placed, settings, T0 + HOUR - 1, 'A-1.order_delayed').actions).toEqual([]);
    const late = onDeadline(placed, settings, T0 + HOUR, 'A-1.order_delayed');
    expect(late.actions).toEqual([
      { kind: 'send_delay_notice', userIds: ['u_1'], promisedShipBy: new Date(T0 + HOUR).toISOString() },
    ]);
    expect(late.state.messages.at(-1)).toMatchObject({ kind: 'order_delayed', eventId: 'A-1.order_delayed' });
    // Once notified, only the idle end remains.
    expect(nextDeadline(late.state, settings)).toEqual({ kind: 'idle_end', atMs: T0 + 30 * DAY });
  });

  it('shipping in time means no delay message', () => {
    const shipped = run(
      newJourney('A-1', T0),
      event('ORDER_CREATED', { promisedShipBy: new Date(T0 + HOUR).toISOString() }),
      event('ORDER_SHIPPED'),
    );
    expect(shipped.stage).toBe('shipped');
    expect(nextDeadline(shipped, settings)?.kind).toBe('idle_end');
    expect(onDeadline(shipped, settings, T0 + 2 * HOUR, 'x').actions).toEqual([]);
  });

  it('ends on cancellation and on delivery, and then has no deadline', () => {
    const cancelled = applyEvent(
      run(newJourney('A-1', T0), event('ORDER_CREATED')),
      event('ORDER_CANCELLED'),
      settings,
      T0,
    );
    expect(cancelled.actions).toEqual([{ kind: 'end', reason: 'cancelled' }]);
    expect(cancelled.state.stage).toBe('cancelled');
    expect(nextDeadline(cancelled.state, settings)).toBeNull();
    const delivered = applyEvent(newJourney('A-1', T0), event('ORDER_DELIVERED'), settings, T0);
    expect(delivered.actions).toEqual([{ kind: 'end', reason: 'delivered' }]);
    expect(delivered.state.shippedAt).toBe(delivered.state.deliveredAt);
  });

  it('closes after the idle days since the last event', () => {
    const placed = run(newJourney('A-1', T0), event('ORDER_CREATED'));
    expect(nextDeadline(placed, settings)).toEqual({ kind: 'idle_end', atMs: T0 + 30 * DAY });
    const idle = onDeadline(placed, settings, T0 + 30 * DAY, 'x');
    expect(idle.actions).toEqual([{ kind: 'end', reason: 'idle' }]);
    expect(idle.state.ended).toBe('idle');
  });

  it('ignores a duplicate event and keeps only the latest events and messages', () => {
    const once = run(newJourney('A-1', T0), event('PAYMENT_FAILED'));
    expect(applyEvent(once, event('PAYMENT_FAILED'), settings, T0).state).toBe(once);
    const many = Array.from({ length: MAX_KEPT + 5 }, (_, i) =>
      event('PAYMENT_FAILED', { eventId: `p${i}` }),
    );
    const state = run(newJourney('A-1', T0), ...many);
    expect(state.eventsSeen).toBe(MAX_KEPT + 5);
    expect(state.events).toHaveLength(MAX_KEPT);
    expect(state.messages).toHaveLength(MAX_KEPT);
    expect(state.events[0].eventId).toBe('p5');
  });

  it('a folded delivery replaces the held shipping notice by one "shipped and delivered" message', () => {
    const state = run(
      newJourney('A-1', T0),
      event('ORDER_SHIPPED', { eventId: 's1' }),
      event('ORDER_DELIVERED', { eventId: 'd1', templateCode: 'order_shipped_delivered', folded: ['s1'] }),
    );
    expect(state.messages).toEqual([
      expect.objectContaining({
        kind: 'shipped_and_delivered',
        eventId: 'd1',
        templateCode: 'order_shipped_delivered',
      }),
    ]);
  });

  it('holds ORDER_SHIPPED for the fold window and lets ORDER_DELIVERED fold only when every recipient was held', () => {
    const fold = { ...settings, foldWindowMs: 120_000 };
    expect(holdForFoldMs('ORDER_SHIPPED', fold)).toBe(120_000);
    expect(holdForFoldMs('ORDER_SHIPPED', settings)).toBe(0);
    expect(holdForFoldMs('ORDER_CREATED', fold)).toBe(0);
    expect(foldsHeld('ORDER_DELIVERED', fold)).toBe('ORDER_SHIPPED');
    expect(foldsHeld('ORDER_DELIVERED', settings)).toBeNull();
    expect(shouldFold(['u_1', 'u_2'], ['u_2', 'u_1'])).toBe(true);
    expect(shouldFold(['u_1', 'u_2'], ['u_1'])).toBe(false);
    expect(shouldFold([], [])).toBe(false);
  });

  it('names the delay message by the order number when it fits an event id', () => {
    expect(delayNoticeEventId('A-1001', 'run')).toBe('A-1001.order_delayed');
    expect(delayNoticeEventId('A 1001/x', 'run-1')).toBe('order.run-1.order_delayed');
  });

  it('answers the query with the state, the events, the messages and the pending deadline', () => {
    const placed = run(
      newJourney('A-1', T0),
      event('ORDER_CREATED', { promisedShipBy: new Date(T0 + HOUR).toISOString() }),
    );
    expect(journeyView(placed, settings)).toMatchObject({
      orderNumber: 'A-1',
      state: 'placed',
      eventsSeen: 1,
      events: [expect.objectContaining({ type: 'ORDER_CREATED' })],
      messages: [expect.objectContaining({ kind: 'event', templateCode: 'order_created' })],
      deadline: { kind: 'ship_promise', at: new Date(T0 + HOUR).toISOString() },
    });
  });
});

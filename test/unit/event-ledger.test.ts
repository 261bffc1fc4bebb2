import { EventLedger } from '../../src/domain/event-ledger';

const T0 = Date.parse('2026-11-25T12:00:00Z');

describe("EventLedger (the event workflow's bookkeeping)", () => {
  it('keeps one wake-up per distinct send time and drops the times that came', () => {
    const ledger = new EventLedger();
    ledger.apply({
      recipients: [
        { userId: 'a', state: 'scheduled', sendAt: new Date(T0 + 1000).toISOString() },
        { userId: 'b', state: 'scheduled', sendAt: new Date(T0 + 1000).toISOString() },
        { userId: 'c', state: 'waiting_quiet_hours', sendAt: new Date(T0 + 5000).toISOString() },
      ],
      wakeTimes: [T0 + 1000, T0 + 5000],
      nextDeadlineMs: null,
    });
    ledger.addWakeTime(T0 + 1000);
    expect(ledger.nextTimerAt()).toBe(T0 + 1000);
    expect(ledger.takeDue(T0 + 999)).toBe(false);
    expect(ledger.takeDue(T0 + 1000)).toBe(true);
    expect(ledger.nextTimerAt()).toBe(T0 + 5000);
    expect(ledger.isSettled()).toBe(false);
  });

  it('waits for the channel deadline only while something sends, and settles when nothing waits or sends', () => {
    const ledger = new EventLedger();
    ledger.apply({
      recipients: [{ userId: 'a', state: 'sending', notificationId: 'n1' }],
      wakeTimes: [],
      nextDeadlineMs: T0 + 60_000,
    });
    expect(ledger.nextTimerAt()).toBe(T0 + 60_000);
    expect(ledger.deadlinePassed(T0 + 59_999)).toBe(false);
    expect(ledger.deadlinePassed(T0 + 60_000)).toBe(true);
    // A reconcile reports the complete picture: the deadline it gives replaces the old one.
    ledger.apply(
      {
        recipients: [{ userId: 'a', state: 'delivered', notificationId: 'n1' }],
        wakeTimes: [],
        nextDeadlineMs: null,
      },
      { deadlineIsComplete: true },
    );
    expect(ledger.isSettled()).toBe(true);
    expect(ledger.nextTimerAt()).toBeNull();
    expect(ledger.results('event-e1')).toEqual([
      { userId: 'a', workflowId: 'event-e1', notificationId: 'n1', state: 'delivered' },
    ]);
  });

  it('answers status per recipient (or the only one) and names why a control cannot apply', () => {
    const ledger = new EventLedger();
    ledger.apply({
      recipients: [
        { userId: 'a', state: 'scheduled', notificationId: 'n1', sendAt: '2026-11-25T13:00:00.000Z' },
        {
          userId: 'b',
          state: 'sending',
          notificationId: 'n2',
          channels: { email: { state: 'queued', attempts: 0 } },
        },
        { userId: 'c', state: 'failed', error: 'recipient "c" does not exist' },
      ],
    });
    expect(ledger.status('a')).toEqual({
      state: 'scheduled',
      sendAt: '2026-11-25T13:00:00.000Z',
      notificationId: 'n1',
      channels: {},
    });
    expect(ledger.status('b').channels).toEqual({ email: { state: 'queued', attempts: 0 } });
    expect(ledger.status().error).toMatch(/several recipients/);
    expect(ledger.status('zz').error).toMatch(/no notification for recipient "zz"/);
    expect(ledger.refusal('a', 'cancelled')).toBeNull();
    expect(ledger.refusal('b', 'cancelled')).toBeNull(); // until a provider is called (checked when applied)
    expect(ledger.refusal('b', 'rescheduled')).toMatch(/sending/);
    expect(ledger.refusal('c', 'cancelled')).toMatch(/failed/);
    expect(ledger.refusal(undefined, 'rescheduled')).toBeNull();
    expect(ledger.counts()).toEqual({ scheduled: 1, sending: 1, failed: 1 });
    const revision = ledger.revision;
    ledger.apply({ recipients: [{ userId: 'a', state: 'cancelled', notificationId: 'n1' }] });
    expect(ledger.revision).toBeGreaterThan(revision);
    expect(ledger.refusal(undefined, 'rescheduled')).toMatch(/nothing can be rescheduled/);
  });
});

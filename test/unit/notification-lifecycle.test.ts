import {
  admit,
  applyFailedReceipt,
  applyOutcome,
  controlRefusal,
  firstSendAt,
  onDeadline,
  openChannels,
  settledState,
  type NotificationView,
} from '../../src/domain/notification-lifecycle';

const NOW = Date.parse('2026-11-25T12:00:00Z');
const DEADLINE_MS = 60_000;

function sending(
  channels: NotificationView['channels'],
  fallbacks: NotificationView['fallbacks'] = {},
): NotificationView {
  return { state: 'sending', channels, fallbacks };
}
const queued = {
  state: 'queued' as const,
  attempts: 0,
  handOffs: 1,
  deadlineAt: new Date(NOW).toISOString(),
};

describe('notification lifecycle: scheduling', () => {
  it('sends at the later of sendAt and now + delay', () => {
    expect(firstSendAt(NOW, { delayMs: 0, sendAt: null })).toBe(NOW);
    expect(firstSendAt(NOW, { delayMs: 5000, sendAt: null })).toBe(NOW + 5000);
    expect(firstSendAt(NOW, { delayMs: 5000, sendAt: new Date(NOW + 60_000).toISOString() })).toBe(
      NOW + 60_000,
    );
    expect(firstSendAt(NOW, { delayMs: 90_000, sendAt: new Date(NOW + 60_000).toISOString() })).toBe(
      NOW + 90_000,
    );
  });

  it('waits for the send time, then for the end of quiet hours unless urgent', () => {
    const quietUntil = NOW + 3600_000;
    const inQuiet = () => quietUntil;
    expect(admit({ nowMs: NOW, sendAtMs: NOW + 1000, urgent: false, quietHoursEnd: inQuiet })).toEqual({
      state: 'scheduled',
      sendAtMs: NOW + 1000,
    });
    expect(admit({ nowMs: NOW, sendAtMs: NOW, urgent: false, quietHoursEnd: inQuiet })).toEqual({
      state: 'waiting_quiet_hours',
      sendAtMs: quietUntil,
    });
    expect(admit({ nowMs: NOW, sendAtMs: NOW, urgent: true, quietHoursEnd: inQuiet })).toEqual({
      state: 'sending',
    });
    expect(admit({ nowMs: NOW, sendAtMs: NOW, urgent: false, quietHoursEnd: () => null })).toEqual({
      state: 'sending',
    });
  });

  it('reschedules only waiting notifications, cancels sending ones too (until a provider is called), naming why not', () => {
    expect(controlRefusal('scheduled', 'cancelled')).toBeNull();
    expect(controlRefusal('waiting_quiet_hours', 'rescheduled')).toBeNull();
    expect(controlRefusal('sending', 'cancelled')).toBeNull();
    expect(controlRefusal('sending', 'rescheduled')).toBe(
      'notification is sending: only a scheduled notification can be rescheduled',
    );
    expect(controlRefusal('delivered', 'cancelled')).toBe(
      'notification is delivered: only a notification not yet handed to a provider can be cancelled',
    );
  });
});

describe('notification lifecycle: outcomes', () => {
  it('opens sendable channels as queued and records why the others are suppressed', () => {
    const channels = openChannels(
      [
        { channel: 'in_app', send: true },
        { channel: 'email', send: false, reason: 'preference: marketing off for email' },
      ],
      new Date(NOW).toISOString(),
      new Date(NOW).toISOString(),
    );
    expect(channels).toEqual({
      in_app: { ...queued, queuedAt: new Date(NOW).toISOString() },
      email: { state: 'suppressed', attempts: 0, reason: 'preference: marketing off for email' },
    });
    expect(settledState({ email: channels.email })).toBe('suppressed');
  });

  it('settles delivered, partially delivered and failed once no channel is open', () => {
    const view = sending({ in_app: queued, email: queued });
    const first = applyOutcome(
      view,
      { channel: 'in_app', state: 'delivered', attempts: 1 },
      NOW,
      DEADLINE_MS,
    );
    expect(first).toMatchObject({ state: 'sending', changed: true, openDelta: -1, enqueue: [] });
    const both = applyOutcome(
      first,
      { channel: 'email', state: 'delivered', attempts: 2, providerMessageId: 'm1' },
      NOW,
      DEADLINE_MS,
    );
    expect(both.state).toBe('delivered');
    expect(both.channels.email).toMatchObject({ state: 'delivered', attempts: 2, providerMessageId: 'm1' });
    expect(both.channels.email?.deadlineAt).toBeUndefined();
    const partial = applyOutcome(
      first,
      { channel: 'email', state: 'failed', attempts: 5, error: 'mailbox full' },
      NOW,
      DEADLINE_MS,
    );
    expect(partial.state).toBe('partially_delivered');
    const none = applyOutcome(
      sending({ email: queued }),
      { channel: 'email', state: 'failed', attempts: 5 },
      NOW,
      DEADLINE_MS,
    );
    expect(none.state).toBe('failed');
  });

  it("opens the fallback of a failed channel once, closes the failed channel's send record, and counts the fallback delivered as covering it", () => {
    const view = sending({ push: queued }, { push: 'sms' });
    const failed = applyOutcome(
      view,
      { channel: 'push', state: 'failed', attempts: 1, error: 'gone', permanent: true },
      NOW,
      DEADLINE_MS,
    );
    expect(failed).toMatchObject({
      state: 'sending',
      enqueue: ['sms'],
      cancelSendRecords: ['push'],
      openDelta: 0,
    });
    expect(failed.channels.push).toMatchObject({
      state: 'failed',
      reason: 'fell back to sms',
      fellBackTo: 'sms',
    });
    expect(failed.channels.sms).toMatchObject({
      state: 'queued',
      reason: 'fallback for push',
      deadlineAt: new Date(NOW + DEADLINE_MS).toISOString(),
    });
    const covered = applyOutcome(
      failed,
      { channel: 'sms', state: 'delivered', attempts: 1 },
      NOW,
      DEADLINE_MS,
    );
    expect(covered.state).toBe('delivered');
    // The fallback's own failure has no further fallback.
    const bothFailed = applyOutcome(
      failed,
      { channel: 'sms', state: 'failed', attempts: 3 },
      NOW,
      DEADLINE_MS,
    );
    expect(bothFailed).toMatchObject({ state: 'failed', enqueue: [] });
  });

  it('ignores duplicates and outcomes for unknown or cancelled notifications, but takes a late delivery', () => {
    const delivered = applyOutcome(
      sending({ email: queued }),
      { channel: 'email', state: 'delivered', attempts: 1 },
      NOW,
      DEADLINE_MS,
    );
    expect(
      applyOutcome(delivered, { channel: 'email', state: 'delivered', attempts: 1 }, NOW, DEADLINE_MS)
        .changed,
    ).toBe(false);
    expect(
      applyOutcome(delivered, { channel: 'email', state: 'failed', attempts: 2 }, NOW, DEADLINE_MS).changed,
    ).toBe(false);
    expect(
      applyOutcome(delivered, { channel: 'sms', state: 'delivered', attempts: 1 }, NOW, DEADLINE_MS).changed,
    ).toBe(false);
    expect(
      applyOutcome(
        { ...sending({ email: queued }), state: 'cancelled' },
        { channel: 'email', state: 'delivered', attempts: 1 },
        NOW,
        DEADLINE_MS,
      ).changed,
    ).toBe(false);
    // Given up at the deadline, delivered after all (the workflow may have closed): the row says delivered.
    const gaveUp = applyOutcome(
      sending({ email: queued }),
      { channel: 'email', state: 'failed', attempts: 1 },
      NOW,
      DEADLINE_MS,
    );
    const late = applyOutcome(
      gaveUp,
      { channel: 'email', state: 'delivered', attempts: 2 },
      NOW,
      DEADLINE_MS,
    );
    expect(late).toMatchObject({ state: 'delivered', changed: true, openDelta: 0 });
  });
});

describe('notification lifecycle: deadline reconcile', () => {
  const HORIZON = { nowMs: NOW, horizonMs: 24 * 3600_000 };
  const handedOff = { ...queued, queuedAt: new Date(NOW - 60_000).toISOString() };

  it('extends while the job waits or is being worked, or a live worker holds the send', () => {
    expect(onDeadline('email', handedOff, { job: 'queued', sendRecord: null }, HORIZON)).toEqual({
      action: 'extend',
    });
    expect(onDeadline('email', handedOff, { job: 'active', sendRecord: 'sending' }, HORIZON)).toEqual({
      action: 'extend',
    });
    expect(onDeadline('email', handedOff, { job: 'missing', sendRecord: 'sending' }, HORIZON)).toEqual({
      action: 'extend',
    });
  });

  it('hands off again a vanished job whose worker died mid-send (a stale claim), instead of extending forever', () => {
    expect(
      onDeadline('email', handedOff, { job: 'missing', sendRecord: 'sending', claimStale: true }, HORIZON),
    ).toEqual({ action: 'hand_off_again' });
  });

  it('takes a sent send record as delivered, whatever happened to the job', () => {
    expect(
      onDeadline(
        'email',
        handedOff,
        { job: 'missing', sendRecord: 'sent', providerMessageId: 'm9', attempts: 2 },
        HORIZON,
      ),
    ).toEqual({
      action: 'delivered',
      outcome: { channel: 'email', state: 'delivered', attempts: 2, providerMessageId: 'm9' },
    });
  });

  it("fails a channel only on a provider's answer; what our infrastructure lost is handed off again, however often", () => {
    expect(
      onDeadline('sms', handedOff, { job: 'failed', jobError: '503', sendRecord: 'failed' }, HORIZON),
    ).toMatchObject({ action: 'failed', outcome: { error: '503' } });
    expect(onDeadline('sms', handedOff, { job: 'missing', sendRecord: null }, HORIZON)).toEqual({
      action: 'hand_off_again',
    });
    expect(onDeadline('sms', handedOff, { job: 'completed', sendRecord: 'failed' }, HORIZON)).toEqual({
      action: 'hand_off_again',
    });
    expect(
      onDeadline('sms', { ...handedOff, handOffs: 40 }, { job: 'missing', sendRecord: null }, HORIZON),
    ).toEqual({ action: 'hand_off_again' });
    expect(
      onDeadline(
        'sms',
        handedOff,
        {
          job: 'failed',
          jobError: 'job stalled more than allowable limit',
          jobFailedByInfrastructure: true,
          sendRecord: null,
        },
        HORIZON,
      ),
    ).toEqual({ action: 'hand_off_again' });
  });

  it('expires a channel open past the horizon since its first hand-off, unless a provider call is in progress', () => {
    const old = { ...queued, queuedAt: new Date(NOW - 25 * 3600_000).toISOString() };
    expect(onDeadline('email', old, { job: 'missing', sendRecord: null }, HORIZON)).toMatchObject({
      action: 'expired',
      outcome: { channel: 'email', state: 'expired' },
    });
    expect(onDeadline('email', old, { job: 'queued', sendRecord: null }, HORIZON)).toMatchObject({
      action: 'expired',
    });
    expect(onDeadline('email', old, { job: 'active', sendRecord: 'sending' }, HORIZON)).toEqual({
      action: 'extend',
    });
    expect(onDeadline('email', old, { job: 'missing', sendRecord: 'sent' }, HORIZON)).toMatchObject({
      action: 'delivered',
    });
  });

  it('settles a notification whose only channels expired as expired, not failed', () => {
    expect(settledState({ email: { state: 'expired', attempts: 0 } })).toBe('expired');
    expect(
      settledState({ email: { state: 'expired', attempts: 0 }, in_app: { state: 'delivered', attempts: 1 } }),
    ).toBe('partially_delivered');
    expect(
      settledState({ email: { state: 'expired', attempts: 0 }, sms: { state: 'failed', attempts: 3 } }),
    ).toBe('expired');
  });
});

describe('notification lifecycle: failed receipts (docs/tracking-and-receipts.md)', () => {
  const delivered = { state: 'delivered' as const, attempts: 1 };
  const view: NotificationView = {
    state: 'delivered',
    channels: { sms: delivered, in_app: delivered },
    fallbacks: {},
  };

  it('moves a delivered channel to failed once, the notification following; no fallback, no open channel', () => {
    const step = applyFailedReceipt(view, 'sms', 'undelivered: Twilio error 30003');
    expect(step).toMatchObject({
      changed: true,
      state: 'partially_delivered',
      enqueue: [],
      cancelSendRecords: [],
      openDelta: 0,
    });
    expect(step.channels.sms).toEqual({
      state: 'failed',
      attempts: 1,
      error: 'undelivered: Twilio error 30003',
    });
    expect(applyFailedReceipt(step, 'sms', 'undelivered: again').changed).toBe(false);
    const alone = applyFailedReceipt({ ...view, channels: { email: delivered } }, 'email', 'bounced');
    expect(alone.state).toBe('failed');
  });

  it('changes nothing for a channel that is not delivered (open, suppressed, absent)', () => {
    const open = { state: 'sending' as const, channels: { sms: queued }, fallbacks: {} };
    expect(applyFailedReceipt(open, 'sms', 'undelivered').changed).toBe(false);
    expect(applyFailedReceipt(view, 'email', 'bounced').changed).toBe(false);
  });
});

import { retentionCutoffs, retentionSettingsFrom } from '../../src/operations/retention-settings';

describe('retention settings', () => {
  const DAY = 86_400_000;
  const now = new Date('2026-12-06T12:00:00Z');

  it('defaults: 365 days of notifications, 90 of attempts, 730 for unread inbox rows, hourly sweeps of 5000', () => {
    expect(retentionSettingsFrom({})).toEqual({
      notificationDays: 365,
      deliveryAttemptDays: 90,
      unreadNotificationDays: 730,
      sweepMs: 3_600_000,
      batch: 5000,
    });
  });

  it('cutoffs are whole days before now; the cap ledger keeps the longest window, at least a day', () => {
    const cut = retentionCutoffs(now, retentionSettingsFrom({}), 7 * DAY);
    expect(cut.notifications).toEqual(new Date('2025-12-06T12:00:00Z'));
    expect(cut.unreadNotifications).toEqual(new Date('2024-12-06T12:00:00Z'));
    expect(cut.deliveryAttempts).toEqual(new Date('2026-09-07T12:00:00Z'));
    expect(cut.capLedger).toEqual(new Date('2026-11-29T12:00:00Z'));
    expect(retentionCutoffs(now, retentionSettingsFrom({}), 0).capLedger).toEqual(
      new Date('2026-12-05T12:00:00Z'),
    );
  });

  it('0 keeps a family: notifications (and so unread ones), attempts, unread inbox rows', () => {
    const forever = retentionCutoffs(now, retentionSettingsFrom({ NOTIFICATION_RETENTION_DAYS: '0' }), 0);
    expect(forever.notifications).toBeNull();
    expect(forever.unreadNotifications).toBeNull();
    expect(forever.deliveryAttempts).not.toBeNull();
    const untilRead = retentionCutoffs(
      now,
      retentionSettingsFrom({ UNREAD_NOTIFICATION_RETENTION_DAYS: '0' }),
      0,
    );
    expect(untilRead.unreadNotifications).toBeNull();
    expect(untilRead.notifications).not.toBeNull();
    const attempts = retentionCutoffs(
      now,
      retentionSettingsFrom({ DELIVERY_ATTEMPT_RETENTION_DAYS: '0' }),
      0,
    );
    expect(attempts.deliveryAttempts).toBeNull();
  });

  it.each([
    [{ NOTIFICATION_RETENTION_DAYS: '-1' }, /^NOTIFICATION_RETENTION_DAYS must be 0 \(keep forever\)/],
    [
      { NOTIFICATION_RETENTION_DAYS: '1.5' },
      /^NOTIFICATION_RETENTION_DAYS must be a whole number, got "1.5"/,
    ],
    [{ DELIVERY_ATTEMPT_RETENTION_DAYS: 'x' }, /^DELIVERY_ATTEMPT_RETENTION_DAYS must be/],
    [
      { NOTIFICATION_RETENTION_DAYS: '30', DELIVERY_ATTEMPT_RETENTION_DAYS: '31' },
      /^DELIVERY_ATTEMPT_RETENTION_DAYS must be at most/,
    ],
    [
      { UNREAD_NOTIFICATION_RETENTION_DAYS: '100' },
      /^UNREAD_NOTIFICATION_RETENTION_DAYS must be 0 \(until read\) or at least/,
    ],
    [{ RETENTION_SWEEP_MS: '999' }, /^RETENTION_SWEEP_MS must be/],
    [{ RETENTION_BATCH: '0' }, /^RETENTION_BATCH must be/],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(() => retentionSettingsFrom(env)).toThrow(message);
  });

  it('accepts longer attempts when notifications are kept forever', () => {
    expect(
      retentionSettingsFrom({ NOTIFICATION_RETENTION_DAYS: '0', DELIVERY_ATTEMPT_RETENTION_DAYS: '400' })
        .deliveryAttemptDays,
    ).toBe(400);
  });
});

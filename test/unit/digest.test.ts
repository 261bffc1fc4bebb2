import { digestEventId, digestText, digestWorkflowId, nextLocalHour } from '../../src/domain/digest';

describe('digest rules', () => {
  it('closes a daily window at the next local hour', () => {
    const at = Date.parse('2026-12-06T10:00:00Z'); // 15:30 in Kolkata
    expect(new Date(nextLocalHour(at, 8, 'Asia/Kolkata')).toISOString()).toBe('2026-12-07T02:30:00.000Z');
    expect(new Date(nextLocalHour(at, 16, 'Asia/Kolkata')).toISOString()).toBe('2026-12-06T10:30:00.000Z');
    // Exactly at the hour: the next day's.
    const eight = Date.parse('2026-12-07T02:30:00Z');
    expect(new Date(nextLocalHour(eight, 8, 'Asia/Kolkata')).toISOString()).toBe('2026-12-08T02:30:00.000Z');
  });

  it('derives an envelope-valid event id from the key and the window start', () => {
    const target = {
      recipientId: 'ann@shop',
      key: 'daily.marketing',
      templateCode: 'daily_digest_marketing',
    };
    expect(digestEventId(target, 1700000000000)).toBe('digest.daily.marketing.ann:40:shop.1700000000000');
  });

  it("names the recipient by its opaque ref when the target has one (release 4's targets had none)", () => {
    const ref = '3f0c2a5e-0b1d-4c55-9a61-1f2e3d4c5b6a';
    const target = {
      recipientId: 'ann@shop',
      recipientRef: ref,
      key: 'daily.marketing',
      templateCode: 'daily_digest_marketing',
    };
    expect(digestEventId(target, 1700000000000)).toBe(`digest.daily.marketing.${ref}.1700000000000`);
    expect(digestWorkflowId(ref, target.key)).toBe(`digest-${ref}-daily.marketing`);
  });

  it('writes one line per item and counts the rest', () => {
    const item = { eventId: 'e1', occurredAt: '', summary: 'Mug: 2 left', data: {} };
    expect(digestText([item], 3)).toBe('- Mug: 2 left\n- and 3 more');
  });
});

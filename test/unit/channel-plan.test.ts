import type { Channel } from '../../src/domain/channels';
import { planChannels, type ChannelPlanInput } from '../../src/domain/channel-plan';

const everywhere: Record<Channel, boolean> = {
  in_app: true,
  email: true,
  sms: true,
  push: true,
  webhook: true,
};
const base: ChannelPlanInput = {
  channels: ['in_app', 'email', 'push'],
  category: 'inventory_alerts',
  fallbacks: { push: 'sms' },
  muted: false,
  disabled: new Set(),
  templated: new Set<Channel>(['in_app', 'email', 'sms', 'push']),
  reachable: everywhere,
};

describe('planChannels', () => {
  it('sends every requested channel that is allowed, templated and reachable', () => {
    const plan = planChannels(base);
    expect(plan.decisions).toEqual([
      { channel: 'in_app', send: true },
      { channel: 'email', send: true },
      { channel: 'push', send: true },
    ]);
    expect(plan.fallbacks).toEqual({ push: 'sms' });
  });

  it('suppresses an opted-out channel with the reason, but never a mandatory one', () => {
    const optedOut = planChannels({ ...base, disabled: new Set<Channel>(['email']) });
    expect(optedOut.decisions[1]).toEqual({
      channel: 'email',
      send: false,
      reason: 'preference: inventory_alerts off for email',
    });
    const mandatory = planChannels({
      ...base,
      category: 'order_updates',
      disabled: new Set<Channel>(['email']),
      muted: true,
    });
    expect(mandatory.decisions.map((d) => [d.channel, d.send])).toEqual([
      ['in_app', true],
      ['email', true],
      ['push', false],
    ]);
    expect(mandatory.decisions[2].reason).toBe('recipient muted all notifications');
  });

  it('hands an unreachable channel to its fallback at once', () => {
    const plan = planChannels({ ...base, reachable: { ...everywhere, push: false } });
    expect(plan.decisions.slice(2)).toEqual([
      {
        channel: 'push',
        send: false,
        unreachable: true,
        reason: 'recipient has no push address; fell back to sms',
      },
      { channel: 'sms', send: true },
    ]);
  });

  it('takes no fallback the recipient switched off or cannot receive', () => {
    const off = planChannels({
      ...base,
      reachable: { ...everywhere, push: false },
      disabled: new Set<Channel>(['sms']),
    });
    expect(off.decisions.map((d) => d.channel)).toEqual(['in_app', 'email', 'push']);
    const noPhone = planChannels({ ...base, reachable: { ...everywhere, sms: false } });
    expect(noPhone.fallbacks).toEqual({});
  });

  it('does not fall back from an opt-out, and not to a channel already requested', () => {
    expect(
      planChannels({ ...base, disabled: new Set<Channel>(['push']) }).decisions.map((d) => d.channel),
    ).toEqual(['in_app', 'email', 'push']);
    const both = planChannels({
      ...base,
      channels: ['push', 'sms'],
      reachable: { ...everywhere, push: false },
    });
    expect(both.decisions.map((d) => [d.channel, d.send])).toEqual([
      ['push', false],
      ['sms', true],
    ]);
  });

  it('needs no template for webhooks', () => {
    expect(planChannels({ ...base, channels: ['webhook'], templated: new Set() }).decisions).toEqual([
      { channel: 'webhook', send: true },
    ]);
  });
});

describe('planChannels: suppressed email addresses (docs/tracking-and-receipts.md)', () => {
  it('suppresses email to a bounced address with the reason, even where email is mandatory; the others still go', () => {
    const plan = planChannels({ ...base, suppressedEmail: 'bounced' });
    expect(plan.decisions).toEqual([
      { channel: 'in_app', send: true },
      { channel: 'email', send: false, reason: 'suppressed address: bounced' },
      { channel: 'push', send: true },
    ]);
    const order = planChannels({ ...base, category: 'order_updates', suppressedEmail: 'complained' });
    expect(order.decisions[1]).toEqual({
      channel: 'email',
      send: false,
      reason: 'suppressed address: complained',
    });
    expect(planChannels({ ...base, suppressedEmail: null }).decisions[1]).toEqual({
      channel: 'email',
      send: true,
    });
  });
});

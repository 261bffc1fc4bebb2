import type { Channel } from './channels';
import { consentMissingReason } from './consent';
import { isMandatory } from './event-catalog';
import type { ChannelDecision } from './notification-request';

/** What is known about one recipient when a notification is about to be sent. */
export interface ChannelPlanInput {
  /** Channels the event asks for, in order. */
  channels: Channel[];
  category: string;
  fallbacks: Partial<Record<Channel, Channel>>;
  muted: boolean;
  /** Channels the recipient switched off for this category. */
  disabled: ReadonlySet<Channel>;
  /** Channels the template has content for (webhook needs none). */
  templated: ReadonlySet<Channel>;
  /** Channels the recipient has an address on. */
  reachable: Readonly<Record<Channel, boolean>>;
  /** False when the category needs an opt-in (src/domain/consent.ts) the recipient has not given; default true. */
  consented?: boolean;
  /** Why the recipient's email address is suppressed (a provider's hard bounce or a complaint); null or absent: it is not. */
  suppressedEmail?: string | null;
}

export interface ChannelPlan {
  decisions: ChannelDecision[];
  /** Fallbacks still open at send time (push failed -> sms), only where the recipient may and can take them. */
  fallbacks: Partial<Record<Channel, Channel>>;
}

/**
 * Decides per channel whether to send, and why not: no opt-in where the category needs one, a mute or an opt-out (unless the category is
 * mandatory on that channel), no template, no address. An unreachable channel hands over to its
 * fallback at once (no push subscription -> sms).
 */
export function planChannels(input: ChannelPlanInput): ChannelPlan {
  const decide = (channel: Channel): ChannelDecision => {
    const mandatory = isMandatory(input.category, channel);
    if (input.consented === false && !mandatory)
      return { channel, send: false, reason: consentMissingReason(input.category) };
    if (input.muted && !mandatory)
      return { channel, send: false, reason: 'recipient muted all notifications' };
    if (input.disabled.has(channel) && !mandatory)
      return { channel, send: false, reason: `preference: ${input.category} off for ${channel}` };
    if (channel !== 'webhook' && !input.templated.has(channel))
      return { channel, send: false, reason: `no ${channel} template` };
    if (!input.reachable[channel])
      return { channel, send: false, reason: `recipient has no ${channel} address`, unreachable: true };
    // Even mandatory mail: the provider refuses a hard-bounced address, and mailing a complainer hurts the sender's reputation.
    if (channel === 'email' && input.suppressedEmail)
      return { channel, send: false, reason: `suppressed address: ${input.suppressedEmail}` };
    return { channel, send: true };
  };

  const decisions = input.channels.map(decide);
  for (const decision of [...decisions]) {
    const fallback = input.fallbacks[decision.channel];
    if (!decision.unreachable || !fallback || decisions.some((d) => d.channel === fallback)) continue;
    const replacement = decide(fallback);
    if (!replacement.send) continue;
    decision.reason += `; fell back to ${fallback}`;
    decisions.push(replacement);
  }

  const fallbacks: Partial<Record<Channel, Channel>> = {};
  for (const d of decisions) {
    const fallback = input.fallbacks[d.channel];
    if (d.send && fallback && decide(fallback).send) fallbacks[d.channel] = fallback;
  }
  return { decisions, fallbacks };
}

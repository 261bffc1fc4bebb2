import { CHANNELS, isChannel, type Channel } from './channels';

/**
 * Frequency caps (docs/digests-and-caps.md): per recipient, at most `max` notifications admitted in
 * `windowMs`, counted per category or per channel. Written comma-separated (FREQUENCY_CAPS):
 * `category:max/window[:suppress|digest]` (e.g. `marketing:2/7d`, `marketing:2/7d:digest`) or
 * `channel:<channel>:max/window` (e.g. `channel:sms:3/1d`, any category). Over a category cap a
 * notification is suppressed, or folded into the recipient's daily digest of that category; over a
 * channel cap only that channel is suppressed, the notification's other channels still go.
 */
export type FrequencyCap = CategoryCap | ChannelCap;

interface CapLimit {
  max: number;
  windowMs: number;
}

export interface CategoryCap extends CapLimit {
  scope: 'category';
  category: string;
  action: 'suppress' | 'digest';
}

export interface ChannelCap extends CapLimit {
  scope: 'channel';
  channel: Channel;
  action: 'suppress';
}

/** Marketing: at most 2 per recipient in 7 days, the rest suppressed. */
export const DEFAULT_FREQUENCY_CAPS = 'marketing:2/7d';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const RULE = /^(channel:)?([a-z0-9_]{1,64}):(\d{1,6})\/(\d{1,6})([smhd])(?::(suppress|digest))?$/;

/** Parses FREQUENCY_CAPS; `none` or an empty text is no cap. Throws naming the bad rule. */
export function parseFrequencyCaps(text: string): FrequencyCap[] {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed === 'none') return [];
  const caps: FrequencyCap[] = [];
  for (const part of trimmed.split(',').map((p) => p.trim())) {
    const cap = parseRule(part);
    if (caps.some((c) => capKey(c) === capKey(cap)))
      throw new Error(
        `"${part}": ${cap.scope === 'channel' ? 'channel ' : ''}${capName(cap)} is capped twice`,
      );
    caps.push(cap);
  }
  return caps;
}

function parseRule(part: string): FrequencyCap {
  const match = RULE.exec(part);
  if (!match)
    throw new Error(
      `"${part}" is not category:max/window[:suppress|digest] or channel:<channel>:max/window (window: 30m, 12h, 7d...)`,
    );
  const [, channelPrefix, name, max, amount, unit, action] = match;
  if (Number(amount) === 0) throw new Error(`"${part}": the window must be longer than 0`);
  const limit = { max: Number(max), windowMs: Number(amount) * UNITS[unit] };
  if (!channelPrefix)
    return {
      scope: 'category',
      category: name,
      ...limit,
      action: action === 'digest' ? 'digest' : 'suppress',
    };
  if (!isChannel(name)) throw new Error(`"${part}": ${name} is not a channel (${CHANNELS.join(', ')})`);
  if (action === 'digest')
    throw new Error(`"${part}": a channel cap only suppresses the channel (no :digest)`);
  return { scope: 'channel', channel: name, ...limit, action: 'suppress' };
}

/** The capped category or channel, as the reason names it. */
function capName(cap: FrequencyCap): string {
  return cap.scope === 'category' ? cap.category : cap.channel;
}

/**
 * What a cap counts under (`frequency_cap_sends.category`, and its advisory lock): the category, or
 * `channel:<channel>` (categories hold no colon, so the two never meet).
 */
export function capKey(cap: FrequencyCap): string {
  return cap.scope === 'category' ? cap.category : `channel:${cap.channel}`;
}

/**
 * The reason kept on a capped notification's channels, e.g. `frequency cap: marketing 2 per 7 d`,
 * or on the one channel over a channel cap, e.g. `frequency cap: sms 3 per 1 d`.
 */
export function capReason(cap: FrequencyCap): string {
  const [unit, size] = Object.entries(UNITS)
    .reverse()
    .find(([, ms]) => cap.windowMs % ms === 0)!;
  const folded = cap.action === 'digest' ? '; folded into the daily digest' : '';
  return `frequency cap: ${capName(cap)} ${cap.max} per ${cap.windowMs / size} ${unit}${folded}`;
}

/**
 * Frequency caps (docs/digests-and-caps.md): per recipient and category, at most `max` notifications
 * admitted in `windowMs`; over the cap a notification is suppressed, or folded into the recipient's
 * daily digest of that category. Written `category:max/window[:action]`, comma-separated
 * (FREQUENCY_CAPS), e.g. `marketing:2/7d` or `marketing:2/7d:digest`.
 */
export interface FrequencyCap {
  category: string;
  max: number;
  windowMs: number;
  action: 'suppress' | 'digest';
}

/** Marketing: at most 2 per recipient in 7 days, the rest suppressed. */
export const DEFAULT_FREQUENCY_CAPS = 'marketing:2/7d';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const RULE = /^([a-z0-9_]{1,64}):(\d{1,6})\/(\d{1,6})([smhd])(?::(suppress|digest))?$/;

/** Parses FREQUENCY_CAPS; `none` or an empty text is no cap. Throws naming the bad rule. */
export function parseFrequencyCaps(text: string): FrequencyCap[] {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed === 'none') return [];
  const caps: FrequencyCap[] = [];
  for (const part of trimmed.split(',').map((p) => p.trim())) {
    const match = RULE.exec(part);
    if (!match)
      throw new Error(`"${part}" is not category:max/window[:suppress|digest] (window: 30m, 12h, 7d...)`);
    const [, category, max, amount, unit, action] = match;
    if (Number(amount) === 0) throw new Error(`"${part}": the window must be longer than 0`);
    if (caps.some((c) => c.category === category)) throw new Error(`"${category}" is capped twice`);
    caps.push({
      category,
      max: Number(max),
      windowMs: Number(amount) * UNITS[unit],
      action: action === 'digest' ? 'digest' : 'suppress',
    });
  }
  return caps;
}

/** The reason kept on a capped notification's channels, e.g. `frequency cap: marketing 2 per 7 d`. */
export function capReason(cap: FrequencyCap): string {
  const [unit, size] = Object.entries(UNITS)
    .reverse()
    .find(([, ms]) => cap.windowMs % ms === 0)!;
  const folded = cap.action === 'digest' ? '; folded into the daily digest' : '';
  return `frequency cap: ${cap.category} ${cap.max} per ${cap.windowMs / size} ${unit}${folded}`;
}

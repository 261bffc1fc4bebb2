/**
 * Money, numbers and dates in the recipient's locale with `Intl` (docs/emails-and-locales.md). Formatters
 * are costly to build (tens of µs) and cheap to use, so each (locale, style) is built once per process.
 * A locale tag Intl does not know falls back to its language, then to `en`; a bad currency code or value
 * renders the value as given, never throws: a notification goes out with "1499 XYZ" rather than not at all.
 */

const formatters = new Map<string, Intl.NumberFormat | Intl.DateTimeFormat>();
/** Distinct (locale, style) pairs kept; locale tags come from recipient rows. */
const MAX_FORMATTERS = 500;

/** The first of the tag, its language and `en` that Intl supports. */
export function supportedLocale(locale: string): string {
  for (const candidate of [locale, languageOf(locale), 'en']) {
    try {
      if (candidate && Intl.NumberFormat.supportedLocalesOf([candidate]).length > 0) return candidate;
    } catch {
      // RangeError: not a well-formed tag; try the next.
    }
  }
  return 'en';
}

/** `de` of `de-AT`, `hi` of `hi-IN`. */
export function languageOf(locale: string): string {
  return locale.split(/[-_]/)[0].toLowerCase();
}

function cached<F extends Intl.NumberFormat | Intl.DateTimeFormat>(key: string, build: () => F): F {
  let formatter = formatters.get(key) as F | undefined;
  if (!formatter) {
    formatter = build();
    if (formatters.size >= MAX_FORMATTERS) formatters.delete(formatters.keys().next().value!);
    formatters.set(key, formatter);
  }
  return formatter;
}

function toNumber(value: unknown): number | null {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : null;
}

/** `₹1,499.00` (en-IN, INR), `1.499,00 €` (de, EUR); without a currency, a plain number. */
export function formatMoney(value: unknown, currency: unknown, locale: string): string {
  const amount = toNumber(value);
  if (amount === null) return String(value ?? '');
  if (typeof currency !== 'string' || !/^[A-Za-z]{3}$/.test(currency)) return formatNumber(amount, locale);
  const tag = supportedLocale(locale);
  const code = currency.toUpperCase();
  try {
    return cached(
      `m:${tag}:${code}`,
      () => new Intl.NumberFormat(tag, { style: 'currency', currency: code }),
    ).format(amount);
  } catch {
    return `${formatNumber(amount, locale)} ${code}`;
  }
}

/** `1,499` (en), `1.499` (de), `1,499` (hi); up to 3 decimals. */
export function formatNumber(value: unknown, locale: string): string {
  const n = toNumber(value);
  if (n === null) return String(value ?? '');
  const tag = supportedLocale(locale);
  return cached(`n:${tag}`, () => new Intl.NumberFormat(tag, { maximumFractionDigits: 3 })).format(n);
}

/** `25 November 2026` (en), `25. November 2026` (de); a time too when the value has one and `withTime`. */
export function formatDate(value: unknown, locale: string, withTime = false): string {
  const date =
    value instanceof Date
      ? value
      : typeof value === 'string' || typeof value === 'number'
        ? new Date(value)
        : null;
  if (!date || Number.isNaN(date.getTime())) return String(value ?? '');
  const tag = supportedLocale(locale);
  const options: Intl.DateTimeFormatOptions = withTime
    ? { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' }
    : { dateStyle: 'long', timeZone: 'UTC' };
  return cached(`d:${tag}:${withTime}`, () => new Intl.DateTimeFormat(tag, options)).format(date);
}

/**
 * Recipient quiet hours: a daily window of local wall-clock time during which
 * notifications should not be delivered.
 *
 * Pure and dependency-free: instants are converted to the recipient's local
 * wall-clock time with `Intl.DateTimeFormat` only (no date libraries), so the
 * results follow the IANA time-zone data shipped with the Node.js runtime.
 *
 * Semantics
 * - The window is `[start, end)` in local wall-clock time, at minute precision
 *   (local 06:59:59.999 is before "07:00"; local 07:00:00 is not).
 * - `start > end` means the window crosses midnight: "22:00"–"07:00" covers
 *   22:00–24:00 and 00:00–07:00.
 * - Membership depends only on the local wall-clock time of the instant. On a
 *   fall-back day, a wall-clock time that occurs twice is inside (or outside)
 *   the window both times; so the window ends at the FIRST occurrence of `end`,
 *   and if the repeated hour lies before `end` the window is entered again.
 * - On a spring-forward day, an `end` inside the skipped interval is never
 *   reached exactly; the window ends at the transition, i.e. the first instant
 *   whose local time is past `end` (e.g. 03:00 local in America/New_York).
 *
 * @module
 */

/**
 * Daily quiet-hours window for one recipient.
 *
 * `start` and `end` are zero-padded 24-hour local wall-clock times ("HH:MM",
 * "00:00"–"23:59"); `timezone` is an IANA zone name such as "Asia/Kolkata".
 * Use {@link validateQuietHours} to obtain a checked value from untrusted input.
 */
export interface QuietHours {
  /** Local time at which the quiet window opens (inclusive), "HH:MM". */
  start: string;
  /** Local time at which the quiet window closes (exclusive), "HH:MM". */
  end: string;
  /** IANA time-zone name of the recipient, e.g. "Europe/London". */
  timezone: string;
}

/** Field of {@link QuietHours} that failed validation (`'quietHours'` when the value itself is not an object). */
export type QuietHoursField = 'quietHours' | 'start' | 'end' | 'timezone';

/** Thrown by {@link validateQuietHours} (and by the other functions when handed a malformed value). */
export class InvalidQuietHoursError extends Error {
  constructor(
    /** The offending field. */
    readonly field: QuietHoursField,
    detail: string,
  ) {
    super(
      field === 'quietHours' ? `invalid quiet hours: ${detail}` : `invalid quiet hours: ${field}: ${detail}`,
    );
    this.name = 'InvalidQuietHoursError';
  }
}

const TIME_PATTERN = /^([01]\d|2[0-3]):([0-5]\d)$/;
const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
/** Safety bound for the segment walk in {@link quietHoursEndAfter}; real zones need at most two iterations. */
const MAX_SEGMENTS = 8;

/**
 * Checks untrusted input (e.g. a JSON column or request body) and returns a
 * fresh {@link QuietHours} holding only the three known fields.
 *
 * @throws {InvalidQuietHoursError} (an `Error`) whose message names the bad
 *   field: `start` / `end` when not a "HH:MM" 24-hour time, `end` when it equals
 *   `start` (an empty window), `timezone` when not a zone known to the runtime.
 */
export function validateQuietHours(q: unknown): QuietHours {
  if (typeof q !== 'object' || q === null || Array.isArray(q)) {
    throw new InvalidQuietHoursError(
      'quietHours',
      `expected an object with start, end and timezone, got ${describe(q)}`,
    );
  }
  const record = q as Record<string, unknown>;
  const start = parseTime('start', record.start);
  const end = parseTime('end', record.end);
  if (start === end) {
    throw new InvalidQuietHoursError(
      'end',
      `must differ from start (${describe(record.start)}): empty window`,
    );
  }
  const timezone = record.timezone;
  if (typeof timezone !== 'string' || timezone.trim() === '') {
    throw new InvalidQuietHoursError(
      'timezone',
      `expected an IANA time-zone name, got ${describe(timezone)}`,
    );
  }
  formatterFor(timezone); // throws InvalidQuietHoursError('timezone', ...) for unknown zones
  return { start: record.start as string, end: record.end as string, timezone };
}

/**
 * Whether the instant `at` falls inside the quiet window, judged by the local
 * wall-clock time of `at` in `q.timezone` (`start` inclusive, `end` exclusive).
 *
 * @throws {RangeError} if `at` is an invalid Date.
 * @throws {InvalidQuietHoursError} if `q` is malformed.
 */
export function isWithinQuietHours(at: Date, q: QuietHours): boolean {
  const window = compile(q);
  return window.contains(wallClock(instantOf(at), window.format).minuteOfDay);
}

/**
 * If `at` falls inside the quiet window, the instant the window ends (first instant at/after `at` whose local time is >= end, DST-correct); otherwise null.
 *
 * Precisely: the earliest instant after `at` that is outside the window.
 * Normally that is the instant the local clock shows `end`. On a spring-forward
 * day where `end` is skipped it is the DST transition (e.g. 03:00 local for
 * `end` "02:30" in America/New_York on 2026-03-08). On a fall-back day where
 * `end` occurs twice it is the first occurrence when `at` precedes it, and the
 * second occurrence when `at` is already in the repeated hour (which is inside
 * the window again). In the rare case where a backward clock jump moves the
 * local time from inside the window to before `start`, it is that transition.
 *
 * Cost: two `Intl` look-ups on an ordinary day, about twenty when a zone
 * transition has to be located (binary search to the second).
 *
 * @throws {RangeError} if `at` is an invalid Date.
 * @throws {InvalidQuietHoursError} if `q` is malformed.
 */
export function quietHoursEndAfter(at: Date, q: QuietHours): Date | null {
  const window = compile(q);
  let t = instantOf(at);
  let wall = wallClock(t, window.format);
  if (!window.contains(wall.minuteOfDay)) return null;

  for (let segment = 0; segment < MAX_SEGMENTS; segment++) {
    // While the UTC offset stays constant the local clock advances with real time,
    // so the next time it shows `end` is plain arithmetic; `end` is always outside the window.
    const untilEnd = mod(window.endMinute * MINUTE_MS - mod(wall.localMs, DAY_MS), DAY_MS);
    const candidate = t + untilEnd; // untilEnd > 0: the local time of t is inside, hence not `end`
    const atCandidate = wallClock(candidate, window.format);
    if (atCandidate.offsetMs === wall.offsetMs) return new Date(candidate);

    // The offset changes before the clock reaches `end`: find the transition instant.
    const transition = firstOffsetChange(t, candidate, wall.offsetMs, window.format);
    const atTransition = wallClock(transition, window.format);
    if (!window.contains(atTransition.minuteOfDay)) return new Date(transition);
    t = transition;
    wall = atTransition;
  }
  throw new Error(
    `quiet hours: could not find the end of the window after ${at.toISOString()} in ${q.timezone}`,
  );
}

/**
 * Combines a requested send time with quiet hours: returns the earliest instant >= notBefore that is outside the window.
 *
 * Returns `notBefore` itself (same Date object) when `q` is null/undefined or
 * `notBefore` is already outside the window; otherwise a new Date equal to
 * {@link quietHoursEndAfter}`(notBefore, q)`.
 *
 * @throws {RangeError} if `notBefore` is an invalid Date.
 * @throws {InvalidQuietHoursError} if `q` is malformed.
 */
export function nextAllowedSendTime(notBefore: Date, q: QuietHours | null | undefined): Date {
  if (q === null || q === undefined) return notBefore;
  return quietHoursEndAfter(notBefore, q) ?? notBefore;
}

// ---------------------------------------------------------------------------
// Internals

interface CompiledWindow {
  readonly endMinute: number;
  readonly format: Intl.DateTimeFormat;
  contains(minuteOfDay: number): boolean;
}

interface WallClock {
  /** The local wall-clock date-time (ms precision), encoded as if it were a UTC instant. */
  readonly localMs: number;
  /** Local minus UTC, in ms (whole seconds). */
  readonly offsetMs: number;
  /** Local hour * 60 + minute. */
  readonly minuteOfDay: number;
}

function compile(q: QuietHours): CompiledWindow {
  const { start, end, timezone } = validateQuietHours(q);
  const startMinute = minuteOf(start);
  const endMinute = minuteOf(end);
  const contains =
    startMinute < endMinute
      ? (m: number) => m >= startMinute && m < endMinute
      : (m: number) => m >= startMinute || m < endMinute; // crosses midnight
  return { endMinute, format: formatterFor(timezone), contains };
}

function parseTime(field: 'start' | 'end', value: unknown): number {
  if (typeof value !== 'string' || !TIME_PATTERN.test(value)) {
    throw new InvalidQuietHoursError(
      field,
      `expected a 24-hour "HH:MM" time (00:00-23:59), got ${describe(value)}`,
    );
  }
  return minuteOf(value);
}

function minuteOf(time: string): number {
  return Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object')
    return value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object';
  return `${typeof value} ${String(value)}`;
}

function instantOf(at: Date): number {
  const t = at instanceof Date ? at.getTime() : NaN;
  if (Number.isNaN(t)) throw new RangeError('quiet hours: expected a valid Date');
  return t;
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let format = formatters.get(timezone);
  if (format === undefined) {
    try {
      format = new Intl.DateTimeFormat('en-US', {
        timeZone: timezone,
        hourCycle: 'h23',
        era: 'short',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch (err) {
      if (err instanceof RangeError) {
        throw new InvalidQuietHoursError('timezone', `unknown IANA time zone ${JSON.stringify(timezone)}`);
      }
      throw err;
    }
    formatters.set(timezone, format);
  }
  return format;
}

/** Local wall-clock time of instant `t` (ms since epoch) — one `Intl` call. */
function wallClock(t: number, format: Intl.DateTimeFormat): WallClock {
  let year = 0;
  let month = 1;
  let day = 1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let bc = false;
  for (const part of format.formatToParts(t)) {
    switch (part.type) {
      case 'year':
        year = Number(part.value);
        break;
      case 'month':
        month = Number(part.value);
        break;
      case 'day':
        day = Number(part.value);
        break;
      case 'hour':
        hour = Number(part.value) % 24; // guard against "24" from engines that ignore hourCycle
        break;
      case 'minute':
        minute = Number(part.value);
        break;
      case 'second':
        second = Number(part.value);
        break;
      case 'era':
        bc = part.value === 'BC' || part.value === 'B';
        break;
      default:
        break;
    }
  }
  const local = new Date(0);
  local.setUTCFullYear(bc ? 1 - year : year, month - 1, day); // Date.UTC would map years 0-99 to 19xx
  local.setUTCHours(hour, minute, second, 0);
  const offsetMs = local.getTime() - (t - mod(t, 1000)); // Intl reports whole seconds
  return { localMs: t + offsetMs, offsetMs, minuteOfDay: hour * 60 + minute };
}

/**
 * First instant in (from, to] whose UTC offset differs from `offset`, given that
 * `from` has `offset` and `to` does not. Zone transitions fall on whole seconds,
 * so this is a binary search over seconds (~17 `Intl` calls for a 24 h range).
 */
function firstOffsetChange(from: number, to: number, offset: number, format: Intl.DateTimeFormat): number {
  let lo = Math.floor(from / 1000); // offset(lo) === offset: same second as `from`
  let hi = Math.ceil(to / 1000); // offset(hi) !== offset: `to` lands on a whole second
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (wallClock(mid * 1000, format).offsetMs === offset) lo = mid;
    else hi = mid;
  }
  return hi * 1000;
}

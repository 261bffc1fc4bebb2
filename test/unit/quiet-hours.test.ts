import {
  InvalidQuietHoursError,
  QuietHours,
  isWithinQuietHours,
  nextAllowedSendTime,
  quietHoursEndAfter,
  validateQuietHours,
} from '../../src/domain/quiet-hours';

const at = (iso: string): Date => new Date(iso);
const q = (start: string, end: string, timezone: string): QuietHours => ({ start, end, timezone });
const endAfter = (iso: string, quiet: QuietHours): string | null =>
  quietHoursEndAfter(at(iso), quiet)?.toISOString() ?? null;
const next = (iso: string, quiet: QuietHours | null | undefined): string =>
  nextAllowedSendTime(at(iso), quiet).toISOString();

function validationError(input: unknown): InvalidQuietHoursError {
  try {
    validateQuietHours(input);
  } catch (err) {
    if (err instanceof InvalidQuietHoursError) return err;
    throw err;
  }
  throw new Error('expected the quiet hours to be rejected');
}

describe('validateQuietHours', () => {
  it('returns a fresh value with only the known fields', () => {
    const input = { start: '22:00', end: '07:00', timezone: 'Asia/Kolkata', extra: true };
    const result = validateQuietHours(input);
    expect(result).toEqual({ start: '22:00', end: '07:00', timezone: 'Asia/Kolkata' });
    expect(result).not.toBe(input);
  });

  it('accepts the full range of times and zones such as UTC', () => {
    expect(validateQuietHours(q('00:00', '23:59', 'UTC'))).toEqual(q('00:00', '23:59', 'UTC'));
  });

  it('rejects an hour of 25 and names the field', () => {
    const err = validationError(q('25:00', '07:00', 'Asia/Kolkata'));
    expect(err).toBeInstanceOf(Error);
    expect(err.field).toBe('start');
    expect(err.message).toBe(
      'invalid quiet hours: start: expected a 24-hour "HH:MM" time (00:00-23:59), got "25:00"',
    );
    expect(validationError(q('22:00', '25:00', 'Asia/Kolkata')).field).toBe('end');
  });

  it.each(['24:00', '7:00', '07:60', '07:00:00', ' 07:00', '', 'noon'])('rejects the time %j', (bad) => {
    expect(validationError(q('22:00', bad, 'UTC')).field).toBe('end');
  });

  it('rejects an unknown time zone', () => {
    const err = validationError(q('22:00', '07:00', 'Mars/Base'));
    expect(err.field).toBe('timezone');
    expect(err.message).toBe('invalid quiet hours: timezone: unknown IANA time zone "Mars/Base"');
  });

  it('rejects a missing or empty time zone', () => {
    expect(validationError({ start: '22:00', end: '07:00' }).message).toMatch(
      /^invalid quiet hours: timezone: /,
    );
    expect(validationError(q('22:00', '07:00', '')).field).toBe('timezone');
  });

  it('rejects an empty window (start === end)', () => {
    const err = validationError(q('08:00', '08:00', 'UTC'));
    expect(err.field).toBe('end');
    expect(err.message).toMatch(/empty window/);
  });

  it.each([null, undefined, 'x', 42, []])('rejects the non-object %p', (bad) => {
    expect(validationError(bad).field).toBe('quietHours');
  });

  it('is applied by the other functions too', () => {
    expect(() => isWithinQuietHours(at('2026-01-01T00:00:00Z'), q('22:00', '07:00', 'Mars/Base'))).toThrow(
      /timezone/,
    );
    expect(() => nextAllowedSendTime(at('2026-01-01T00:00:00Z'), q('7', '07:00', 'UTC'))).toThrow(/start/);
    expect(() => isWithinQuietHours(new Date(NaN), q('22:00', '07:00', 'UTC'))).toThrow(RangeError);
  });
});

describe('window not crossing midnight (Asia/Tokyo, UTC+9, 09:00-17:00)', () => {
  const quiet = q('09:00', '17:00', 'Asia/Tokyo');

  it('inside', () => {
    expect(isWithinQuietHours(at('2026-06-15T03:00:00Z'), quiet)).toBe(true); // 12:00 JST
    expect(endAfter('2026-06-15T03:00:00Z', quiet)).toBe('2026-06-15T08:00:00.000Z'); // 17:00 JST
  });

  it('outside', () => {
    expect(isWithinQuietHours(at('2026-06-15T09:00:00Z'), quiet)).toBe(false); // 18:00 JST
    expect(isWithinQuietHours(at('2026-06-14T23:59:59Z'), quiet)).toBe(false); // 08:59:59 JST
    expect(endAfter('2026-06-15T09:00:00Z', quiet)).toBeNull();
  });

  it('exactly at start is inside', () => {
    expect(isWithinQuietHours(at('2026-06-15T00:00:00Z'), quiet)).toBe(true); // 09:00 JST
    expect(endAfter('2026-06-15T00:00:00Z', quiet)).toBe('2026-06-15T08:00:00.000Z');
  });

  it('exactly at end is outside; a millisecond earlier is inside', () => {
    expect(isWithinQuietHours(at('2026-06-15T08:00:00Z'), quiet)).toBe(false);
    expect(endAfter('2026-06-15T08:00:00Z', quiet)).toBeNull();
    expect(isWithinQuietHours(at('2026-06-15T07:59:59.999Z'), quiet)).toBe(true);
    expect(endAfter('2026-06-15T07:59:59.999Z', quiet)).toBe('2026-06-15T08:00:00.000Z');
  });
});

describe('window crossing midnight (Europe/Berlin in winter, UTC+1, 22:00-07:00)', () => {
  const quiet = q('22:00', '07:00', 'Europe/Berlin');

  it('before midnight', () => {
    expect(isWithinQuietHours(at('2026-01-15T22:30:00Z'), quiet)).toBe(true); // 23:30 CET
    expect(endAfter('2026-01-15T22:30:00Z', quiet)).toBe('2026-01-16T06:00:00.000Z'); // 07:00 CET next day
  });

  it('after midnight', () => {
    expect(isWithinQuietHours(at('2026-01-16T02:00:00Z'), quiet)).toBe(true); // 03:00 CET
    expect(endAfter('2026-01-16T02:00:00Z', quiet)).toBe('2026-01-16T06:00:00.000Z');
  });

  it('outside', () => {
    expect(isWithinQuietHours(at('2026-01-16T11:00:00Z'), quiet)).toBe(false); // 12:00 CET
    expect(endAfter('2026-01-16T11:00:00Z', quiet)).toBeNull();
  });

  it('boundaries: start inside, end outside', () => {
    expect(isWithinQuietHours(at('2026-01-15T21:00:00Z'), quiet)).toBe(true); // 22:00 CET
    expect(isWithinQuietHours(at('2026-01-15T20:59:59Z'), quiet)).toBe(false); // 21:59:59 CET
    expect(isWithinQuietHours(at('2026-01-16T06:00:00Z'), quiet)).toBe(false); // 07:00 CET
    expect(isWithinQuietHours(at('2026-01-15T23:00:00Z'), quiet)).toBe(true); // 00:00 CET
  });
});

describe('time zones with non-hour offsets', () => {
  it('Asia/Kolkata (UTC+05:30)', () => {
    const quiet = q('22:00', '07:00', 'Asia/Kolkata');
    expect(isWithinQuietHours(at('2026-05-10T16:29:59Z'), quiet)).toBe(false); // 21:59:59 IST
    expect(isWithinQuietHours(at('2026-05-10T16:30:00Z'), quiet)).toBe(true); // 22:00 IST
    expect(endAfter('2026-05-10T17:00:00Z', quiet)).toBe('2026-05-11T01:30:00.000Z'); // 22:30 IST -> 07:00 IST
    expect(endAfter('2026-05-10T20:00:00Z', quiet)).toBe('2026-05-11T01:30:00.000Z'); // 01:30 IST -> 07:00 IST
    expect(isWithinQuietHours(at('2026-05-11T01:30:00Z'), quiet)).toBe(false);
  });

  it('Asia/Kathmandu (UTC+05:45)', () => {
    const afternoon = q('13:00', '14:15', 'Asia/Kathmandu');
    expect(isWithinQuietHours(at('2026-05-10T07:14:00Z'), afternoon)).toBe(false); // 12:59 NPT
    expect(isWithinQuietHours(at('2026-05-10T07:15:00Z'), afternoon)).toBe(true); // 13:00 NPT
    expect(endAfter('2026-05-10T07:15:00Z', afternoon)).toBe('2026-05-10T08:30:00.000Z'); // 14:15 NPT
    expect(isWithinQuietHours(at('2026-05-10T08:30:00Z'), afternoon)).toBe(false);

    const night = q('23:00', '06:00', 'Asia/Kathmandu');
    expect(endAfter('2026-05-10T18:00:00Z', night)).toBe('2026-05-11T00:15:00.000Z'); // 23:45 NPT -> 06:00 NPT
  });
});

describe('America/New_York spring-forward (2026-03-08, 02:00 EST -> 03:00 EDT at 07:00Z)', () => {
  it('an end time inside the skipped hour ends the window at 03:00 EDT', () => {
    const quiet = q('22:00', '02:30', 'America/New_York');
    expect(endAfter('2026-03-08T05:00:00Z', quiet)).toBe('2026-03-08T07:00:00.000Z'); // 00:00 EST -> 03:00 EDT
    expect(endAfter('2026-03-08T06:59:59Z', quiet)).toBe('2026-03-08T07:00:00.000Z'); // 01:59:59 EST
    expect(endAfter('2026-03-08T03:30:00Z', quiet)).toBe('2026-03-08T07:00:00.000Z'); // 22:30 EST on 03-07
    expect(isWithinQuietHours(at('2026-03-08T07:00:00Z'), quiet)).toBe(false); // 03:00 EDT
    expect(next('2026-03-08T06:00:00Z', quiet)).toBe('2026-03-08T07:00:00.000Z');
  });

  it('a night spanning the transition is one hour shorter', () => {
    const quiet = q('22:00', '07:00', 'America/New_York');
    expect(endAfter('2026-03-08T03:00:00Z', quiet)).toBe('2026-03-08T11:00:00.000Z'); // 22:00 EST -> 07:00 EDT
    expect(endAfter('2026-03-07T03:00:00Z', quiet)).toBe('2026-03-07T12:00:00.000Z'); // the night before: 07:00 EST
  });

  it('a start time inside the skipped hour opens the window at 03:00 EDT', () => {
    const quiet = q('02:15', '06:00', 'America/New_York');
    expect(isWithinQuietHours(at('2026-03-08T06:59:59Z'), quiet)).toBe(false); // 01:59:59 EST
    expect(isWithinQuietHours(at('2026-03-08T07:00:00Z'), quiet)).toBe(true); // 03:00 EDT
    expect(endAfter('2026-03-08T07:00:00Z', quiet)).toBe('2026-03-08T10:00:00.000Z'); // 06:00 EDT
  });

  it('a window entirely inside the skipped hour never applies that day', () => {
    const quiet = q('02:00', '02:45', 'America/New_York');
    expect(isWithinQuietHours(at('2026-03-08T06:59:59Z'), quiet)).toBe(false);
    expect(isWithinQuietHours(at('2026-03-08T07:00:00Z'), quiet)).toBe(false);
    expect(isWithinQuietHours(at('2026-03-09T06:30:00Z'), quiet)).toBe(true); // 02:30 EDT the next day
  });
});

describe('America/New_York fall-back (2026-11-01, 02:00 EDT -> 01:00 EST at 06:00Z)', () => {
  const quiet = q('22:00', '01:30', 'America/New_York');

  it('an end time inside the repeated hour ends the window at its first occurrence', () => {
    expect(endAfter('2026-11-01T04:00:00Z', quiet)).toBe('2026-11-01T05:30:00.000Z'); // 00:00 EDT -> 01:30 EDT
    expect(endAfter('2026-11-01T05:10:00Z', quiet)).toBe('2026-11-01T05:30:00.000Z'); // 01:10 EDT
    expect(isWithinQuietHours(at('2026-11-01T05:30:00Z'), quiet)).toBe(false); // 01:30 EDT
    expect(next('2026-11-01T02:00:00Z', quiet)).toBe('2026-11-01T05:30:00.000Z'); // 22:00 EDT on 10-31
  });

  it('wall-clock semantics: the repeated local times before end are quiet again', () => {
    expect(isWithinQuietHours(at('2026-11-01T06:10:00Z'), quiet)).toBe(true); // 01:10 EST (second 01:10)
    expect(endAfter('2026-11-01T06:10:00Z', quiet)).toBe('2026-11-01T06:30:00.000Z'); // 01:30 EST
    expect(isWithinQuietHours(at('2026-11-01T06:30:00Z'), quiet)).toBe(false);
  });

  it('a night spanning the transition is one hour longer', () => {
    const night = q('22:00', '07:00', 'America/New_York');
    expect(endAfter('2026-11-01T02:00:00Z', night)).toBe('2026-11-01T12:00:00.000Z'); // 22:00 EDT -> 07:00 EST
    expect(endAfter('2026-11-01T06:30:00Z', night)).toBe('2026-11-01T12:00:00.000Z'); // 01:30 EST
  });

  it('a clock jump back to before start leaves the window at the transition', () => {
    const quiet2 = q('01:30', '05:00', 'America/New_York');
    expect(endAfter('2026-11-01T05:45:00Z', quiet2)).toBe('2026-11-01T06:00:00.000Z'); // 01:45 EDT -> 01:00 EST
    expect(isWithinQuietHours(at('2026-11-01T06:00:00Z'), quiet2)).toBe(false); // 01:00 EST
    expect(isWithinQuietHours(at('2026-11-01T06:30:00Z'), quiet2)).toBe(true); // 01:30 EST
    expect(endAfter('2026-11-01T06:30:00Z', quiet2)).toBe('2026-11-01T10:00:00.000Z'); // 05:00 EST
  });
});

describe('Europe/London', () => {
  const night = q('23:00', '07:00', 'Europe/London');

  it('uses BST in summer and GMT in winter', () => {
    expect(isWithinQuietHours(at('2026-07-01T21:59:00Z'), night)).toBe(false); // 22:59 BST
    expect(isWithinQuietHours(at('2026-07-01T22:00:00Z'), night)).toBe(true); // 23:00 BST
    expect(endAfter('2026-07-01T22:30:00Z', night)).toBe('2026-07-02T06:00:00.000Z'); // 07:00 BST
    expect(isWithinQuietHours(at('2026-12-01T22:30:00Z'), night)).toBe(false); // 22:30 GMT
    expect(endAfter('2026-12-01T23:30:00Z', night)).toBe('2026-12-02T07:00:00.000Z'); // 07:00 GMT
  });

  it('spring-forward (2026-03-29, 01:00 GMT -> 02:00 BST): end in the skipped hour', () => {
    const quiet = q('00:00', '01:30', 'Europe/London');
    expect(endAfter('2026-03-29T00:30:00Z', quiet)).toBe('2026-03-29T01:00:00.000Z'); // 00:30 GMT -> 02:00 BST
  });

  it('fall-back (2026-10-25, 02:00 BST -> 01:00 GMT): end in the repeated hour', () => {
    const quiet = q('00:00', '01:15', 'Europe/London');
    expect(endAfter('2026-10-24T23:30:00Z', quiet)).toBe('2026-10-25T00:15:00.000Z'); // 00:30 BST -> first 01:15
    expect(endAfter('2026-10-25T01:05:00Z', quiet)).toBe('2026-10-25T01:15:00.000Z'); // second 01:05 -> second 01:15
  });
});

describe('nextAllowedSendTime', () => {
  const quiet = q('22:00', '07:00', 'Asia/Kolkata');

  it('returns notBefore unchanged without quiet hours', () => {
    const notBefore = at('2026-05-10T17:00:00Z'); // would be 22:30 IST
    expect(nextAllowedSendTime(notBefore, null)).toBe(notBefore);
    expect(nextAllowedSendTime(notBefore, undefined)).toBe(notBefore);
    expect(notBefore.toISOString()).toBe('2026-05-10T17:00:00.000Z');
  });

  it('returns notBefore unchanged when it is outside the window', () => {
    const notBefore = at('2026-05-10T06:30:00Z'); // 12:00 IST
    expect(nextAllowedSendTime(notBefore, quiet)).toBe(notBefore);
    expect(next('2026-05-11T01:30:00Z', quiet)).toBe('2026-05-11T01:30:00.000Z'); // exactly 07:00 IST
  });

  it('defers a send inside the window to its end', () => {
    expect(next('2026-05-10T17:00:00Z', quiet)).toBe('2026-05-11T01:30:00.000Z');
    expect(next('2026-05-10T16:30:00Z', quiet)).toBe('2026-05-11T01:30:00.000Z'); // exactly 22:00 IST
  });
});

describe('invariants around DST transitions', () => {
  const zones = ['America/New_York', 'Europe/London', 'Australia/Lord_Howe', 'America/Santiago'];
  const windows: Array<[string, string]> = [
    ['22:00', '07:00'],
    ['00:30', '02:30'],
    ['01:15', '01:45'],
    ['23:30', '00:15'],
  ];
  const days = [
    '2026-03-07T12:00:00Z',
    '2026-03-28T12:00:00Z',
    '2026-04-04T00:00:00Z',
    '2026-09-05T00:00:00Z',
    '2026-10-03T12:00:00Z',
    '2026-10-24T12:00:00Z',
    '2026-10-31T12:00:00Z',
  ];
  const STEP = 25 * 60_000;
  const SAMPLE = 10 * 60_000;

  /** Describes every violation of "nextAllowedSendTime(t) is the first instant >= t outside the window". */
  function violations(quiet: QuietHours, from: number): string[] {
    const found: string[] = [];
    for (let t = from; t < from + 2 * 24 * 3600_000; t += STEP) {
      const result = nextAllowedSendTime(new Date(t), quiet).getTime();
      const where = `${JSON.stringify(quiet)} at ${new Date(t).toISOString()} -> ${new Date(result).toISOString()}`;
      if (result < t || result - t > 25 * 3600_000) found.push(`out of range: ${where}`);
      if (isWithinQuietHours(new Date(result), quiet)) found.push(`result inside: ${where}`);
      if (result > t && !isWithinQuietHours(new Date(result - 1), quiet)) found.push(`ends late: ${where}`);
      for (let s = t; s < result; s += SAMPLE) {
        if (!isWithinQuietHours(new Date(s), quiet))
          found.push(`skips ${new Date(s).toISOString()}: ${where}`);
      }
    }
    return found;
  }

  it.each(zones)('%s: the result is the first instant outside the window', (timezone) => {
    const found = windows.flatMap(([start, end]) =>
      days.flatMap((day) => violations(q(start, end, timezone), at(day).getTime())),
    );
    expect(found).toEqual([]);
  });
});

describe('cost', () => {
  it('uses a bounded number of Intl look-ups, even across a DST transition', () => {
    const spy = jest.spyOn(Intl.DateTimeFormat.prototype, 'formatToParts');
    try {
      quietHoursEndAfter(at('2026-06-15T03:00:00Z'), q('22:00', '07:00', 'America/New_York'));
      expect(spy.mock.calls.length).toBeLessThanOrEqual(3);
      spy.mockClear();
      quietHoursEndAfter(at('2026-03-08T03:00:00Z'), q('22:00', '07:00', 'America/New_York'));
      expect(spy.mock.calls.length).toBeLessThanOrEqual(30);
    } finally {
      spy.mockRestore();
    }
  });
});

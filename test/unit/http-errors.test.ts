import {
  classifyHttpResponse,
  DEFAULT_RETRY_AFTER_MS,
  MAX_RETRY_AFTER_MS,
  parseRetryAfter,
} from '../../src/delivery/providers/http-errors';
import { PermanentDeliveryError, ProviderRateLimitedError } from '../../src/delivery/providers/provider';

const now = Date.parse('2026-11-25T10:00:00Z');

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('2', now)).toBe(2_000);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('1.5', now)).toBe(1_500);
  });

  it('reads an HTTP-date relative to now (number or Date)', () => {
    expect(parseRetryAfter('Wed, 25 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 25 Nov 2026 10:01:00 GMT', new Date(now))).toBe(60_000);
    expect(parseRetryAfter('Wed, 25 Nov 2026 09:59:00 GMT', now)).toBe(0); // already passed
    expect(parseRetryAfter('Wednesday, 25-Nov-26 10:00:10 GMT', now)).toBe(10_000); // RFC 850
    expect(parseRetryAfter('Wed Nov 25 10:00:05 2026', now)).toBe(5_000); // asctime (no zone = GMT per RFC 9110)
  });

  it('defaults when missing or unparseable', () => {
    for (const v of [
      undefined,
      null,
      '',
      '   ',
      'soon',
      '-5',
      '2026-11-25',
      'Wed, 99 Foo 2026 10:00:00 GMT',
    ]) {
      expect(parseRetryAfter(v, now)).toBe(DEFAULT_RETRY_AFTER_MS);
    }
    expect(DEFAULT_RETRY_AFTER_MS).toBe(1_000);
  });

  it('caps at one hour', () => {
    expect(parseRetryAfter('86400', now)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter('Thu, 26 Nov 2026 10:00:00 GMT', now)).toBe(MAX_RETRY_AFTER_MS);
    expect(MAX_RETRY_AFTER_MS).toBe(3_600_000);
  });
});

describe('classifyHttpResponse', () => {
  it('passes 2xx', () => {
    for (const status of [200, 201, 202, 204]) expect(classifyHttpResponse('p', status, '')).toBeUndefined();
  });

  it('turns 429 into ProviderRateLimitedError with Retry-After', () => {
    const err = classifyHttpResponse('twilio', 429, '{"code":20429}', '7', now);
    expect(err).toBeInstanceOf(ProviderRateLimitedError);
    expect((err as ProviderRateLimitedError).retryAfterMs).toBe(7_000);
    expect((classifyHttpResponse('p', 429, '', null, now) as ProviderRateLimitedError).retryAfterMs).toBe(
      1_000,
    );
  });

  it.each([400, 401, 403, 404, 410, 413, 422, 301])(
    'makes %i permanent, with status and body excerpt',
    (status) => {
      const err = classifyHttpResponse('twilio', status, '{"code": 21211,\n "message": "Invalid To"}');
      expect(err).toBeInstanceOf(PermanentDeliveryError);
      expect((err as PermanentDeliveryError).statusCode).toBe(status);
      expect(err?.message).toBe(`twilio responded ${status}: {"code": 21211, "message": "Invalid To"}`);
    },
  );

  it.each([500, 502, 503, 504, 408])('keeps %i transient (plain Error)', (status) => {
    const err = classifyHttpResponse('p', status, 'upstream down');
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(PermanentDeliveryError);
    expect(err).not.toBeInstanceOf(ProviderRateLimitedError);
    expect(err?.message).toBe(`p responded ${status}: upstream down`);
  });

  it('truncates long bodies', () => {
    const err = classifyHttpResponse('p', 400, 'x'.repeat(5_000));
    expect(err?.message.length).toBeLessThan(250);
    expect(err?.message.endsWith('…')).toBe(true);
  });
});

import { PermanentDeliveryError, ProviderRateLimitedError } from './provider';

/** Used when a 429 carries no usable Retry-After. */
export const DEFAULT_RETRY_AFTER_MS = 1_000;
/** A provider asking for more than an hour is treated as an hour, so one bad header cannot park a queue. */
export const MAX_RETRY_AFTER_MS = 3_600_000;
/** How much of an error body goes into the error message (enough for a vendor error code and text). */
const EXCERPT_CHARS = 200;

/**
 * Milliseconds to wait according to a Retry-After header value: delta-seconds ("120") or an
 * HTTP-date (IMF-fixdate, RFC 850 or asctime). Missing or unparseable -> DEFAULT_RETRY_AFTER_MS; result clamped to [0, MAX_RETRY_AFTER_MS].
 */
export function parseRetryAfter(value: string | null | undefined, now: number | Date = Date.now()): number {
  const v = value?.trim();
  if (!v) return DEFAULT_RETRY_AFTER_MS;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(v)) {
    ms = Math.ceil(Number(v) * 1000); // decimals are non-standard but harmless to honour
  } else {
    // Only date-shaped values (month name + hh:mm:ss): V8's Date.parse also "parses" '-5' or '1.5' as years.
    // HTTP-dates are always GMT; asctime carries no zone and V8 would read it as local time.
    const at = /[a-z]{3}.*\d{1,2}:\d{2}:\d{2}/i.test(v)
      ? Date.parse(/GMT|UTC/i.test(v) ? v : `${v} GMT`)
      : NaN;
    if (Number.isNaN(at)) return DEFAULT_RETRY_AFTER_MS;
    ms = at - (typeof now === 'number' ? now : now.getTime());
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** First EXCERPT_CHARS of a response body on one line, for error messages and logs. */
export function bodyExcerpt(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS)}…` : flat;
}

/**
 * The error an HTTP response stands for, or undefined for 2xx.
 * 429 -> ProviderRateLimitedError; 5xx and 408 (the server gave up waiting) -> plain Error (transient);
 * any other status (4xx, and 3xx since adapters never follow redirects) -> PermanentDeliveryError.
 */
export function classifyHttpResponse(
  provider: string,
  status: number,
  body: string,
  retryAfter?: string | null,
  now: number = Date.now(),
): Error | undefined {
  if (status >= 200 && status < 300) return undefined;
  const excerpt = bodyExcerpt(body);
  const message = `${provider} responded ${status}${excerpt ? `: ${excerpt}` : ''}`;
  if (status === 429) return new ProviderRateLimitedError(message, parseRetryAfter(retryAfter, now));
  if (status >= 500 || status === 408) return new Error(message);
  return new PermanentDeliveryError(message, status);
}

export interface ProviderResponse {
  status: number;
  headers: Headers;
  body: string;
}

/**
 * fetch with a deadline covering connect, headers and body, then classify: resolves only on 2xx.
 * Timeouts and network failures become plain (transient) Errors naming the provider.
 */
export async function providerRequest(
  provider: string,
  url: string,
  init: RequestInit,
  timeoutMs: number,
): Promise<ProviderResponse> {
  let status: number;
  let headers: Headers;
  let body: string;
  try {
    // redirect 'manual': a redirected POST would be replayed (or turned into a GET) somewhere we did not choose.
    const res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    status = res.status;
    headers = res.headers;
    body = await res.text();
  } catch (err) {
    const e = err as Error & { cause?: { message?: string } };
    const detail =
      e.name === 'TimeoutError'
        ? `timed out after ${timeoutMs}ms`
        : `failed: ${e.cause?.message ?? e.message}`;
    throw new Error(`${provider} request ${detail}`, { cause: err });
  }
  const error = classifyHttpResponse(provider, status, body, headers.get('retry-after'));
  if (error) throw error;
  return { status, headers, body };
}

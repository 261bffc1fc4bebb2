import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import { blockedAddressReason, outboundUrlProblem, type OutboundPolicy } from '../../domain/outbound-url';
import { classifyHttpResponse, type ProviderResponse } from './http-errors';
import { PermanentDeliveryError } from './provider';

/** How much of a response body is read from a recipient-supplied URL; the rest is dropped unread. */
export const MAX_OUTBOUND_RESPONSE_BYTES = 64 * 1024;

export type LookupFunction = (
  hostname: string,
  options: LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

/** The connection went to (or would have gone to) an address the policy refuses. */
export class OutboundAddressRefusedError extends PermanentDeliveryError {
  constructor(
    readonly host: string,
    readonly reason: string,
  ) {
    super(`refused to connect: ${host} resolves to a ${reason}`);
  }
}

export interface GuardedRequestOptions {
  method: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  timeoutMs: number;
  /** Resolver; tests inject one to stand in for a rebinding DNS server. @defaultValue dns.lookup */
  lookup?: LookupFunction;
}

/**
 * An HTTP(S) request to a recipient-supplied URL (webhook, push endpoint), safe against SSRF:
 * - the URL passes `outboundUrlProblem` (scheme, host list, IP literals), else PermanentDeliveryError;
 * - every address the name resolves to is checked when connecting (a custom `lookup`), so a name that
 *   resolves to 127.0.0.1 or 169.254.169.254 (DNS rebinding included: checked on each connection, not
 *   once up front) is never connected to, and the connected socket's remote address is checked again;
 * - redirects are not followed (3xx is a permanent failure, like any other non-2xx but 408/429/5xx);
 * - at most MAX_OUTBOUND_RESPONSE_BYTES of the answer are read, and error messages carry the status
 *   only, never the body (they reach API callers through the notification status).
 */
export async function guardedRequest(
  provider: string,
  url: string,
  policy: OutboundPolicy,
  options: GuardedRequestOptions,
): Promise<ProviderResponse> {
  const problem = outboundUrlProblem(url, policy);
  if (problem) throw new PermanentDeliveryError(`${provider} refused the URL: it ${problem}`);
  const { status, headers, body } = await exchange(provider, new URL(url), policy, options);
  // The body of a recipient's server is never echoed: the status is enough to classify the answer.
  const error = classifyHttpResponse(provider, status, '', headers.get('retry-after'));
  if (error) throw error;
  return { status, headers, body };
}

interface RawResponse {
  status: number;
  headers: Headers;
  body: string;
}

/**
 * One request and its answer over a fresh connection, whatever the status: every address is checked
 * by the lookup and again once connected; a timeout or a refused address destroys the request.
 */
function exchange(
  provider: string,
  target: URL,
  policy: OutboundPolicy,
  options: GuardedRequestOptions,
): Promise<RawResponse> {
  return new Promise<RawResponse>((resolvePromise, reject) => {
    let settled = false;
    /** True for the first caller only: the request ends once, by an answer or by an error. */
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      return true;
    };
    const fail = (err: Error) => {
      if (!settle()) return;
      req.destroy();
      reject(err);
    };
    const transport = target.protocol === 'https:' ? https : http;
    const req = transport.request(
      target,
      {
        method: options.method,
        headers: options.headers,
        lookup: policyCheckedLookup(options.lookup ?? dnsLookup, policy),
        // A fresh connection per request: a pooled socket would skip the address check of this request's policy.
        agent: false,
      },
      (res) => readLimitedResponse(res, settle, resolvePromise, (err) => fail(networkError(provider, err))),
    );
    const timer = setTimeout(
      () => fail(new Error(`${provider} request timed out after ${options.timeoutMs}ms`)),
      options.timeoutMs,
    );
    req.on('socket', (socket: Socket) => refuseBlockedPeer(socket, target, policy, fail));
    req.on('error', (err) =>
      fail(
        err instanceof OutboundAddressRefusedError
          ? withProvider(provider, err)
          : networkError(provider, err),
      ),
    );
    req.end(options.body);
  });
}

/**
 * A lookup that resolves every address of the name and keeps only those the policy allows; it runs on
 * each connection, so a name rebound to a refused address (DNS rebinding) is caught too.
 */
function policyCheckedLookup(resolve: LookupFunction, policy: OutboundPolicy): LookupFunction {
  return (hostname, lookupOptions, callback) => {
    resolve(hostname, { ...lookupOptions, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const all = addresses as LookupAddress[];
      const allowed = all.filter((a) => !blockedAddressReason(a.address, policy.allowedCidrs));
      if (allowed.length === 0) {
        const reason = blockedAddressReason(all[0]?.address ?? '', policy.allowedCidrs) ?? 'no address';
        return callback(new OutboundAddressRefusedError(hostname, reason), '');
      }
      if (lookupOptions.all) return callback(null, allowed);
      callback(null, allowed[0].address, allowed[0].family);
    });
  };
}

/** Belt and braces: whatever path led to the connection (IP literal, resolver), the peer must be allowed. */
function refuseBlockedPeer(
  socket: Socket,
  target: URL,
  policy: OutboundPolicy,
  fail: (err: Error) => void,
): void {
  socket.once('connect', () => {
    const reason = socket.remoteAddress
      ? blockedAddressReason(socket.remoteAddress, policy.allowedCidrs)
      : null;
    if (reason) fail(new OutboundAddressRefusedError(target.hostname, reason));
  });
}

/** Reads at most MAX_OUTBOUND_RESPONSE_BYTES of the answer, then stops: never buffer an endless answer. */
function readLimitedResponse(
  res: http.IncomingMessage,
  settle: () => boolean,
  resolve: (response: RawResponse) => void,
  fail: (err: Error) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const done = () => {
    if (!settle()) return;
    resolve({
      status: res.statusCode ?? 0,
      headers: headersOf(res),
      body: Buffer.concat(chunks).toString('utf8'),
    });
    res.destroy();
  };
  res.on('data', (chunk: Buffer) => {
    const room = MAX_OUTBOUND_RESPONSE_BYTES - size;
    if (room > 0) chunks.push(chunk.subarray(0, room));
    size += chunk.length;
    if (size >= MAX_OUTBOUND_RESPONSE_BYTES) done();
  });
  res.on('end', done);
  res.on('error', fail);
}

function headersOf(res: http.IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return headers;
}

function withProvider(provider: string, err: OutboundAddressRefusedError): PermanentDeliveryError {
  return new PermanentDeliveryError(`${provider} ${err.message}`);
}

function networkError(provider: string, err: Error): Error {
  return new Error(`${provider} request failed: ${err.message}`, { cause: err });
}

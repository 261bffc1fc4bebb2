/**
 * Real HTTP servers standing in for Twilio, a webhook receiver and a Web Push service:
 * they record every request and answer from a programmable queue (default: a plausible 2xx).
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createECDH,
  createPublicKey,
  hkdfSync,
  randomBytes,
  createDecipheriv,
  verify,
  type ECDH,
} from 'node:crypto';
import type { OutboundPolicy } from '../../src/domain/outbound-url';
import type { PushSubscriptionRecord } from '../../src/delivery/providers/provider';
import { TwilioSmsProvider } from '../../src/delivery/providers/twilio-sms-provider';

/**
 * The stand-ins listen on http://127.0.0.1: providers that call recipient-supplied URLs refuse that
 * by default (https only, no loopback), so tests pass this development policy explicitly.
 */
export const LOCAL_STAND_IN_POLICY: OutboundPolicy = {
  allowHttp: true,
  allowedCidrs: ['127.0.0.0/8'],
  allowedHosts: null,
};
/** The same as environment for loadConfig (TestStack env, child processes). */
export const LOCAL_STAND_IN_ENV = {
  OUTBOUND_ALLOW_HTTP: 'true',
  OUTBOUND_ALLOWED_CIDRS: '127.0.0.0/8',
  PUSH_ALLOWED_HOSTS: '*',
};

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Body as UTF-8 text. */
  body: string;
  /** Body bytes (push payloads are binary). */
  rawBody: Buffer;
  /** Date.now() when the request was complete. */
  receivedAt: number;
}

export interface Reply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

/** A queued answer; `path` limits it to requests for that path (parallel senders arrive in any order). */
type Planned = { reply: Reply | 'hang' | HeldAnswer; path?: string };

/** An answer given only when the test says so (a request in flight). */
interface HeldAnswer {
  held: (respond: (reply: Reply) => void, request: RecordedRequest) => void;
}

export interface HeldRequest {
  /** Resolves when the held request has arrived. */
  arrived: Promise<RecordedRequest>;
  /** Answers it (default: the stand-in's usual reply). */
  release(reply?: Reply): void;
}

export class HttpStandIn {
  readonly requests: RecordedRequest[] = [];
  private readonly queue: Planned[] = [];
  private readonly events = new EventEmitter();
  private readonly server: Server;
  url = '';

  constructor(private readonly defaultReply: (req: RecordedRequest) => Reply) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const rawBody = Buffer.concat(chunks);
        const recorded = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: rawBody.toString('utf8'),
          rawBody,
          receivedAt: Date.now(),
        };
        this.requests.push(recorded);
        this.events.emit('request');
        const i = this.queue.findIndex((p) => p.path === undefined || p.path === recorded.path);
        const planned = i >= 0 ? this.queue.splice(i, 1)[0].reply : this.defaultReply(recorded);
        if (planned === 'hang') return; // never answer; close() drops the socket.
        if ('held' in planned) return planned.held((answer) => reply(res, answer), recorded);
        reply(res, planned);
      });
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Answer the next `times` requests with this reply (queued after earlier plans). */
  respondWith(status: number, body = '', headers: Record<string, string> = {}, times = 1): this {
    for (let i = 0; i < times; i++) this.queue.push({ reply: { status, body, headers } });
    return this;
  }

  /** Like respondWith, but only for requests to `path`. */
  respondTo(path: string, status: number, body = '', headers: Record<string, string> = {}, times = 1): this {
    for (let i = 0; i < times; i++) this.queue.push({ path, reply: { status, body, headers } });
    return this;
  }

  /** Read the next `times` requests but never answer them (client timeout tests). */
  hang(times = 1): this {
    for (let i = 0; i < times; i++) this.queue.push({ reply: 'hang' });
    return this;
  }

  /** Holds the answer to the next request until release(). */
  holdNext(): HeldRequest {
    let arrived!: (request: RecordedRequest) => void;
    const arrival = new Promise<RecordedRequest>((resolve) => (arrived = resolve));
    let answer: ((reply: Reply) => void) | null = null;
    let request: RecordedRequest | null = null;
    let released: Reply | undefined | null = null;
    const settle = () => {
      if (answer && request && released !== null) answer(released ?? this.defaultReply(request));
    };
    this.queue.push({
      reply: {
        held: (respond, req) => {
          answer = respond;
          request = req;
          arrived(req);
          settle();
        },
      },
    });
    return {
      arrived: arrival,
      release: (reply?: Reply) => {
        released = reply;
        settle();
      },
    };
  }

  /** Resolves once at least n requests arrived; rejects at the deadline. */
  waitForRequests(n: number, timeoutMs = 5_000): Promise<RecordedRequest[]> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.requests.length < n) return;
        cleanup();
        resolve(this.requests.slice(0, n));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`stand-in got ${this.requests.length} of ${n} requests within ${timeoutMs}ms`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.events.off('request', check);
      };
      this.events.on('request', check);
      check();
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections(); // includes hung requests
    await new Promise<void>((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }
}

function reply(res: ServerResponse, { status, body = '', headers = {} }: Reply): void {
  res.writeHead(status, headers);
  res.end(body);
}

const json = (status: number, value: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  body: JSON.stringify(value),
  headers: { 'content-type': 'application/json', ...headers },
});

/** Twilio Messages API: 201 with a message resource echoing the form. */
export function startTwilioStandIn(): Promise<HttpStandIn> {
  return new HttpStandIn((req) => {
    const form = new URLSearchParams(req.body);
    return json(201, {
      sid: `SM${randomBytes(16).toString('hex')}`,
      status: 'queued',
      to: form.get('To'),
      from: form.get('From'),
      messaging_service_sid: form.get('MessagingServiceSid'),
      body: form.get('Body'),
    });
  }).listen();
}

/** The Twilio provider pointed at a Twilio stand-in (account AC_test, from +15005550001). */
export function twilioProviderFor(standIn: HttpStandIn): TwilioSmsProvider {
  return new TwilioSmsProvider({
    baseUrl: standIn.url,
    accountSid: 'AC_test',
    authToken: 'token',
    from: '+15005550001',
  });
}

/** A customer's webhook endpoint: 200 {"received":true}. */
export function startWebhookReceiver(): Promise<HttpStandIn> {
  return new HttpStandIn(() => json(200, { received: true })).listen();
}

/** A push service (RFC 8030): 201 with the message's Location. */
export function startPushServiceStandIn(): Promise<HttpStandIn> {
  return new HttpStandIn(() => ({
    status: 201,
    headers: { location: `/message/${randomBytes(8).toString('hex')}` },
  })).listen();
}

/** A browser-side subscriber: real P-256 keys and auth secret, able to decrypt what it receives. */
export class PushSubscriber {
  private readonly ecdh: ECDH = createECDH('prime256v1');
  private readonly auth = randomBytes(16);
  readonly subscription: PushSubscriptionRecord;

  constructor(endpoint: string) {
    this.ecdh.generateKeys();
    this.subscription = {
      endpoint,
      keys: { p256dh: this.ecdh.getPublicKey().toString('base64url'), auth: this.auth.toString('base64url') },
    };
  }

  /** Decrypts an aes128gcm body (RFC 8291 / RFC 8188, single record) to text. */
  decrypt(body: Buffer): string {
    const salt = body.subarray(0, 16);
    const idLen = body.readUInt8(20);
    const serverKey = body.subarray(21, 21 + idLen);
    const record = body.subarray(21 + idLen);
    const shared = this.ecdh.computeSecret(serverKey);
    const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), this.ecdh.getPublicKey(), serverKey]);
    const ikm = Buffer.from(hkdfSync('sha256', shared, this.auth, keyInfo, 32));
    const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
    const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
    const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
    decipher.setAuthTag(record.subarray(-16));
    const padded = Buffer.concat([decipher.update(record.subarray(0, -16)), decipher.final()]);
    return padded.subarray(0, padded.lastIndexOf(2)).toString('utf8'); // strip 0x02 delimiter + zero padding
  }
}

/**
 * Checks an `Authorization: vapid t=<jwt>, k=<key>` header (RFC 8292): key matches, ES256 signature
 * verifies, and returns the JWT claims. Throws when anything is off.
 */
export function verifyVapidAuthorization(
  authorization: string | undefined,
  publicKey: string,
): Record<string, unknown> {
  const m = /^vapid t=([\w-]+\.[\w-]+\.[\w-]+), k=([\w-]+)$/.exec(authorization ?? '');
  if (!m) throw new Error(`not a vapid Authorization header: ${authorization}`);
  if (m[2] !== publicKey) throw new Error('vapid k= is not our public key');
  const [header, claims, signature] = m[1].split('.');
  const point = Buffer.from(publicKey, 'base64url');
  const key = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33).toString('base64url'),
    },
    format: 'jwk',
  });
  const ok = verify(
    'sha256',
    Buffer.from(`${header}.${claims}`),
    { key, dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature, 'base64url'),
  );
  if (!ok) throw new Error('vapid JWT signature does not verify');
  return JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as Record<string, unknown>;
}

import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { DEFAULT_PUSH_HOSTS } from '../../src/domain/outbound-url';
import {
  guardedRequest,
  MAX_OUTBOUND_RESPONSE_BYTES,
  type LookupFunction,
} from '../../src/delivery/providers/guarded-request';
import {
  PermanentDeliveryError,
  ProviderRateLimitedError,
  type OutgoingMessage,
} from '../../src/delivery/providers/provider';
import { TwilioSmsProvider } from '../../src/delivery/providers/twilio-sms-provider';
import {
  generateVapidKeys,
  PushSubscriptionsRejectedError,
  WebPushProvider,
} from '../../src/delivery/providers/web-push-provider';
import {
  signWebhook,
  verifyWebhookSignature,
  WebhookProvider,
} from '../../src/delivery/providers/webhook-provider';
import {
  LOCAL_STAND_IN_POLICY as local,
  PushSubscriber,
  startPushServiceStandIn,
  startTwilioStandIn,
  startWebhookReceiver,
  verifyVapidAuthorization,
  type HttpStandIn,
} from '../helpers/provider-stand-ins';

const ids = { notificationId: 'ntf_1', idempotencyKey: 'ntf_1.sms' };

/** The error a promise rejects with; fails the test if it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the send to fail');
}

describe('TwilioSmsProvider', () => {
  let twilio: HttpStandIn;
  let sms: TwilioSmsProvider;
  const message: OutgoingMessage<'sms'> = {
    ...ids,
    channel: 'sms',
    recipient: { id: 'u_1', phone: '+15005550006' },
    content: { text: 'Your order #42 has shipped' },
  };

  beforeEach(async () => {
    twilio = await startTwilioStandIn();
    sms = new TwilioSmsProvider({
      baseUrl: twilio.url,
      accountSid: 'AC123',
      authToken: 's3cret',
      from: '+15005550001',
    });
  });
  afterEach(() => twilio.close());

  it('posts the form with basic auth and the idempotency token, returning the sid', async () => {
    const receipt = await sms.send(message);
    const [req] = await twilio.waitForRequests(1);
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/2010-04-01/Accounts/AC123/Messages.json');
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from('AC123:s3cret').toString('base64')}`);
    expect(req.headers['i-twilio-idempotency-token']).toBe('ntf_1.sms');
    expect(Object.fromEntries(new URLSearchParams(req.body))).toEqual({
      To: '+15005550006',
      From: '+15005550001',
      Body: 'Your order #42 has shipped',
    });
    expect(receipt.providerMessageId).toMatch(/^SM[0-9a-f]{32}$/);
  });

  it('sends a Messaging Service SID as MessagingServiceSid', async () => {
    const mg = `MG${'a'.repeat(32)}`;
    await new TwilioSmsProvider({ baseUrl: twilio.url, accountSid: 'AC123', authToken: 's', from: mg }).send(
      message,
    );
    const form = new URLSearchParams((await twilio.waitForRequests(1))[0].body);
    expect(form.get('MessagingServiceSid')).toBe(mg);
    expect(form.has('From')).toBe(false);
  });

  it('refuses a recipient without phone before calling Twilio', async () => {
    const err = await rejectionOf(sms.send({ ...message, recipient: { id: 'u_2', phone: null } }));
    expect(err).toBeInstanceOf(PermanentDeliveryError);
    expect(err.message).toBe('recipient has no phone number');
    expect(twilio.requests).toHaveLength(0);
  });

  it('makes a 400 permanent, with status and Twilio error text', async () => {
    twilio.respondWith(400, JSON.stringify({ code: 21211, message: "The 'To' number is not valid." }));
    const err = await rejectionOf(sms.send(message));
    expect(err).toBeInstanceOf(PermanentDeliveryError);
    expect((err as PermanentDeliveryError).statusCode).toBe(400);
    expect(err.message).toContain('21211');
  });

  it('keeps a 503 transient', async () => {
    twilio.respondWith(503, 'Service Unavailable');
    const err = await rejectionOf(sms.send(message));
    expect(err).not.toBeInstanceOf(PermanentDeliveryError);
    expect(err).not.toBeInstanceOf(ProviderRateLimitedError);
    expect(err.message).toBe('twilio responded 503: Service Unavailable');
  });

  it('turns 429 + Retry-After: 2 into ProviderRateLimitedError(2000)', async () => {
    twilio.respondWith(429, '{"code":20429}', { 'retry-after': '2' });
    const err = await rejectionOf(sms.send(message));
    expect(err).toBeInstanceOf(ProviderRateLimitedError);
    expect((err as ProviderRateLimitedError).retryAfterMs).toBe(2_000);
  });
});

describe('WebhookProvider', () => {
  let receiver: HttpStandIn;
  const secret = 'whsec_test';
  const message: OutgoingMessage<'webhook'> = {
    notificationId: 'ntf_2',
    idempotencyKey: 'ntf_2.webhook',
    channel: 'webhook',
    recipient: { id: 'tenant_1' },
    content: { payload: { type: 'ORDER_SHIPPED', orderId: 42, note: 'ünïcode ✓' } },
  };

  beforeEach(async () => {
    receiver = await startWebhookReceiver();
  });
  afterEach(() => receiver.close());

  it('posts the signed JSON payload with id and idempotency headers', async () => {
    const before = Math.floor(Date.now() / 1000);
    await new WebhookProvider({ secret, defaultUrl: `${receiver.url}/hooks/tenant`, policy: local }).send(
      message,
    );
    const [req] = await receiver.waitForRequests(1);
    expect(req.path).toBe('/hooks/tenant');
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body)).toEqual(message.content.payload);
    expect(req.headers['x-notification-id']).toBe('ntf_2');
    expect(req.headers['idempotency-key']).toBe('ntf_2.webhook');
    const ts = Number(req.headers['x-notification-timestamp']);
    expect(ts).toBeGreaterThanOrEqual(before);
    // The documented recipe, computed independently of signWebhook: id, timestamp and body are signed.
    const recipe = createHmac('sha256', secret).update(`ntf_2.${ts}.${req.body}`).digest('hex');
    expect(req.headers['x-notification-signature']).toBe(`v1=${recipe}`);
    expect(signWebhook(secret, 'ntf_2', ts, req.rawBody)).toBe(`v1=${recipe}`);

    expect(verifyWebhookSignature(secret, req.headers, req.rawBody)).toBe(true);
    expect(verifyWebhookSignature(secret, req.headers, req.body.replace('42', '43'))).toBe(false);
    // The id is signed: a valid signature does not carry over to another notification id.
    expect(
      verifyWebhookSignature(secret, { ...req.headers, 'x-notification-id': 'ntf_other' }, req.rawBody),
    ).toBe(false);
    expect(verifyWebhookSignature('other-secret', req.headers, req.rawBody)).toBe(false);
    // Replay window: the same request is refused ten minutes later.
    expect(verifyWebhookSignature(secret, req.headers, req.rawBody, 300, (ts + 600) * 1000)).toBe(false);
  });

  it('prefers the recipient URL over the default', async () => {
    const provider = new WebhookProvider({ secret, defaultUrl: 'http://127.0.0.1:1/unused', policy: local });
    await provider.send({ ...message, recipient: { id: 'u', webhookUrl: `${receiver.url}/mine` } });
    expect((await receiver.waitForRequests(1))[0].path).toBe('/mine');
  });

  it('is permanent without any URL', async () => {
    const err = await rejectionOf(new WebhookProvider({ secret }).send(message));
    expect(err).toBeInstanceOf(PermanentDeliveryError);
    expect(err.message).toMatch(/no webhook URL/);
  });

  it('gives up on a silent receiver within about timeoutMs, as a transient error', async () => {
    receiver.hang();
    const started = Date.now();
    const err = await rejectionOf(
      new WebhookProvider({ secret, defaultUrl: receiver.url, timeoutMs: 300, policy: local }).send(message),
    );
    const elapsed = Date.now() - started;
    expect(err).not.toBeInstanceOf(PermanentDeliveryError);
    expect(err.message).toBe('http-webhook request timed out after 300ms');
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2_000);
    expect(receiver.requests).toHaveLength(1);
  });

  it("signs with the endpoint's own secrets, both during a rotation, and an independent HMAC (openssl, Python) agrees", async () => {
    const [current, previous] = ['whsec_current_0123456789abcdef', 'whsec_previous_0123456789abcdef'];
    const recipient = {
      id: 'u_rot',
      webhookUrl: `${receiver.url}/mine`,
      webhookSecrets: [current, previous],
    };
    await new WebhookProvider({ secret, policy: local }).send({ ...message, recipient });
    const [req] = await receiver.waitForRequests(1);
    const values = String(req.headers['x-notification-signature']).split(',');
    expect(values).toHaveLength(2);
    // Receivers holding either secret accept; the tenant secret does not sign an endpoint that has its own.
    expect(verifyWebhookSignature(current, req.headers, req.rawBody)).toBe(true);
    expect(verifyWebhookSignature(previous, req.headers, req.rawBody)).toBe(true);
    expect(verifyWebhookSignature(secret, req.headers, req.rawBody)).toBe(false);

    const signed = Buffer.concat([
      Buffer.from(`${req.headers['x-notification-id']}.${req.headers['x-notification-timestamp']}.`),
      req.rawBody,
    ]);
    const openssl = execFileSync('openssl', ['dgst', '-sha256', '-hmac', current], { input: signed })
      .toString()
      .trim()
      .split(/\s+/)
      .pop();
    const python = execFileSync(
      'python3',
      [
        '-c',
        'import hmac, hashlib, sys; print(hmac.new(sys.argv[1].encode(), sys.stdin.buffer.read(), hashlib.sha256).hexdigest())',
        previous,
      ],
      { input: signed },
    )
      .toString()
      .trim();
    expect(values).toEqual([`v1=${openssl}`, `v1=${python}`]);
  });
});

describe('outbound URLs (SSRF)', () => {
  let receiver: HttpStandIn;
  const message: OutgoingMessage<'webhook'> = {
    notificationId: 'ntf_ssrf',
    idempotencyKey: 'ntf_ssrf.webhook',
    channel: 'webhook',
    recipient: { id: 'u_ssrf' },
    content: { payload: { hello: 'world' } },
  };
  /** A resolver that answers every name with `address`, as a rebinding DNS server would for its second answer. */
  const resolvesTo =
    (address: string): LookupFunction =>
    (_hostname, options, callback) => {
      const family = address.includes(':') ? 6 : 4;
      if (options.all) callback(null, [{ address, family }]);
      else callback(null, address, family);
    };
  const send = (url: string, options: Partial<ConstructorParameters<typeof WebhookProvider>[0]> = {}) =>
    new WebhookProvider({ secret: 'whsec_ssrf_test_secret', ...options }).send({
      ...message,
      recipient: { id: 'u_ssrf', webhookUrl: url },
    });

  beforeEach(async () => {
    receiver = await startWebhookReceiver();
  });
  afterEach(() => receiver.close());

  it('refuses plain http and loopback by default, and never connects', async () => {
    const http = await rejectionOf(send(`${receiver.url}/hook`));
    expect(http).toBeInstanceOf(PermanentDeliveryError);
    expect(http.message).toBe('http-webhook refused the URL: it must be an https URL');
    const loopback = await rejectionOf(
      send(`${receiver.url}/hook`, { policy: { ...local, allowedCidrs: [] } }),
    );
    expect(loopback).toBeInstanceOf(PermanentDeliveryError);
    expect(loopback.message).toBe('http-webhook refused the URL: it points to a loopback address');
    const metadata = await rejectionOf(send('https://169.254.169.254/latest/meta-data/', { policy: local }));
    expect(metadata.message).toBe(
      'http-webhook refused the URL: it points to a link-local or metadata address',
    );
    expect(receiver.requests).toHaveLength(0);
  });

  it('checks the address a name resolves to when connecting (DNS rebinding), not the name', async () => {
    const port = new URL(receiver.url).port;
    const url = `http://hooks.customer.example:${port}/hook`;
    const policy = { ...local, allowedCidrs: [] };
    for (const address of ['127.0.0.1', '::ffff:127.0.0.1', '169.254.169.254', '10.0.0.7']) {
      const err = await rejectionOf(send(url, { policy, lookup: resolvesTo(address) }));
      expect(err).toBeInstanceOf(PermanentDeliveryError);
      expect(err.message).toMatch(
        /^http-webhook refused to connect: hooks\.customer\.example resolves to a (loopback|private|link-local or metadata) address$/,
      );
    }
    expect(receiver.requests).toHaveLength(0);
    // The same name and resolver with loopback explicitly allowed: the request goes out, to the resolved address.
    await send(url, { policy: local, lookup: resolvesTo('127.0.0.1') });
    expect((await receiver.waitForRequests(1))[0].headers.host).toBe(`hooks.customer.example:${port}`);
  });

  it("never echoes the answer of a recipient's server and reads at most MAX_OUTBOUND_RESPONSE_BYTES of it", async () => {
    receiver.respondWith(500, 'internal: redis_password=hunter2');
    const err = await rejectionOf(send(`${receiver.url}/hook`, { policy: local }));
    expect(err.message).toBe('http-webhook responded 500');
    receiver.respondWith(200, 'x'.repeat(5 * 1024 * 1024));
    const res = await guardedRequest('test', `${receiver.url}/big`, local, {
      method: 'GET',
      headers: {},
      timeoutMs: 5_000,
    });
    expect(res.body.length).toBe(MAX_OUTBOUND_RESPONSE_BYTES);
  });

  it('does not follow redirects (a 3xx is permanent)', async () => {
    receiver.respondWith(307, '', { location: 'http://169.254.169.254/latest/meta-data/' });
    const err = await rejectionOf(send(`${receiver.url}/hook`, { policy: local }));
    expect(err).toBeInstanceOf(PermanentDeliveryError);
    expect(err.message).toBe('http-webhook responded 307');
    expect(receiver.requests).toHaveLength(1);
  });

  it('limits push endpoints to the configured push services', async () => {
    const vapid = { subject: 'mailto:ops@shop.example', ...generateVapidKeys() };
    const device = new PushSubscriber(`${receiver.url}/wpush/device`);
    const push = {
      notificationId: 'ntf_p',
      idempotencyKey: 'ntf_p.push',
      channel: 'push' as const,
      recipient: { id: 'u', pushSubscriptions: [device.subscription] },
      content: { title: 't', body: 'b', url: '/' },
    };
    const strictDefault = await rejectionOf(new WebPushProvider({ vapid }).send(push));
    expect(strictDefault.message).toBe('web-push refused the URL: it must be an https URL');
    const hosts = await rejectionOf(
      new WebPushProvider({ vapid, policy: { ...local, allowedHosts: DEFAULT_PUSH_HOSTS } }).send(push),
    );
    expect(hosts).toBeInstanceOf(PermanentDeliveryError);
    expect(hosts.message).toBe('web-push refused the URL: it host 127.0.0.1 is not an allowed host');
    expect(receiver.requests).toHaveLength(0);
    await new WebPushProvider({ vapid, policy: { ...local, allowedHosts: ['127.0.0.1'] } }).send(push);
    expect(receiver.requests).toHaveLength(1);
  });
});

describe('WebPushProvider', () => {
  let pushService: HttpStandIn;
  const vapidKeys = generateVapidKeys();
  const vapid = { subject: 'mailto:ops@shop.example', ...vapidKeys };
  const content = {
    title: 'Order shipped',
    body: 'Order #42 is on its way',
    url: 'https://shop.example/orders/42',
  };
  const messageFor = (...subscribers: PushSubscriber[]): OutgoingMessage<'push'> => ({
    notificationId: 'ntf_3',
    idempotencyKey: 'ntf_3.push',
    channel: 'push',
    recipient: { id: 'u_3', pushSubscriptions: subscribers.map((s) => s.subscription) },
    content,
  });

  beforeEach(async () => {
    pushService = await startPushServiceStandIn();
  });
  afterEach(() => pushService.close());

  it('delivers an aes128gcm-encrypted payload with a VAPID Authorization', async () => {
    const device = new PushSubscriber(`${pushService.url}/wpush/v2/device-1`);
    const receipt = await new WebPushProvider({
      vapid,
      ttlSeconds: 600,
      urgency: 'high',
      policy: local,
    }).send(messageFor(device));
    const [req] = await pushService.waitForRequests(1);

    expect(req.path).toBe('/wpush/v2/device-1');
    expect(req.headers['content-encoding']).toBe('aes128gcm');
    expect(req.headers['content-type']).toBe('application/octet-stream');
    expect(req.headers.ttl).toBe('600');
    expect(req.headers.urgency).toBe('high');
    expect(req.headers.topic).toMatch(/^[\w-]{32}$/);
    const claims = verifyVapidAuthorization(req.headers.authorization, vapidKeys.publicKey);
    expect(claims).toMatchObject({ aud: pushService.url, sub: vapid.subject });
    expect(req.body).not.toContain('Order #42'); // encrypted on the wire
    expect(JSON.parse(device.decrypt(req.rawBody))).toEqual({ ...content, notificationId: 'ntf_3' });
    expect(receipt.providerMessageId).toMatch(/^\/message\/[0-9a-f]{16}$/);
    expect(receipt.expiredPushEndpoints).toBeUndefined();
  });

  it('reports a 410 subscription as expired while another one accepts', async () => {
    const gone = new PushSubscriber(`${pushService.url}/gone`);
    const alive = new PushSubscriber(`${pushService.url}/alive`);
    pushService.respondTo('/gone', 410, 'push subscription has unsubscribed or expired.');
    const receipt = await new WebPushProvider({ vapid, policy: local }).send(messageFor(gone, alive));
    const reqs = await pushService.waitForRequests(2);
    expect(reqs.map((r) => r.path).sort()).toEqual(['/alive', '/gone']);
    expect(receipt.expiredPushEndpoints).toEqual([gone.subscription.endpoint]);
    expect(receipt.providerMessageId).toBeDefined();
  });

  it('fails permanently when every subscription is gone, still naming them', async () => {
    const a = new PushSubscriber(`${pushService.url}/a`);
    const b = new PushSubscriber(`${pushService.url}/b`);
    pushService.respondWith(410, '', {}, 1).respondWith(404, '', {}, 1);
    const err = await rejectionOf(new WebPushProvider({ vapid, policy: local }).send(messageFor(a, b)));
    expect(err).toBeInstanceOf(PushSubscriptionsRejectedError);
    expect(err).toBeInstanceOf(PermanentDeliveryError);
    expect(err.message).toBe('all push subscriptions expired');
    expect((err as PushSubscriptionsRejectedError).expiredPushEndpoints.sort()).toEqual(
      [a.subscription.endpoint, b.subscription.endpoint].sort(),
    );
  });

  it('is permanent without subscriptions, so the caller can fall back to sms', async () => {
    const err = await rejectionOf(new WebPushProvider({ vapid, policy: local }).send(messageFor()));
    expect(err).toBeInstanceOf(PermanentDeliveryError);
    expect(err.message).toBe('recipient has no push subscription');
    expect(pushService.requests).toHaveLength(0);
  });

  it('keeps a push service 5xx transient', async () => {
    pushService.respondWith(502, 'bad gateway');
    const err = await rejectionOf(
      new WebPushProvider({ vapid, policy: local }).send(
        messageFor(new PushSubscriber(`${pushService.url}/x`)),
      ),
    );
    expect(err).not.toBeInstanceOf(PermanentDeliveryError);
    expect(err.message).toBe('web-push responded 502');
  });

  it('rejects a bad VAPID config at construction', () => {
    expect(() => new WebPushProvider({ vapid: { ...vapid, subject: 'not a url' } })).toThrow(/subject/i);
  });
});

import { createHash } from 'node:crypto';
import { DEV_PAYLOAD_KEY, withDevPayloadEncryption } from '../../src/temporal/payload-codec';
import { connect } from 'node:net';
import { SignJWT } from 'jose';
import { buildApp } from '../../src/api/app';
import { loadConfig, type Config } from '../../src/config';
import {
  ADMIN_KEY,
  ApiTestApp,
  apiTestEnv,
  JWT_AUDIENCE,
  JWT_ISSUER,
  JWT_SECRET,
  orderCreated,
  SERVICE_KEY,
  token,
} from '../helpers/api-app';
import { SseClient } from '../helpers/api-sse';
import { NodeProcess } from '../helpers/node-process';
import { TestStack } from '../helpers/test-stack';

/** Issue 10, points 1, 2, 4, 5 and 6: each test fails without its guard. */
describe('HTTP API: security hardening', () => {
  const stack = new TestStack({ env: apiTestEnv(), deliveryWorkers: false });
  const api = new ApiTestApp(stack);
  const apps: ApiTestApp[] = [];
  beforeAll(async () => {
    await stack.start();
    await api.start({ listen: true });
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await api.close();
    await stack.stop();
  });

  /** An extra app on the same stack, with its own rate-limit namespace. */
  async function appWith(configure: (config: Config) => Config, listen = false): Promise<ApiTestApp> {
    const app = new ApiTestApp(stack);
    apps.push(app);
    return app.start({
      listen,
      configure: (c) => configure({ ...c, queuePrefix: `{sec-${stack.uid('p')}}` }),
    });
  }

  const sign = (claims: Record<string, unknown>, build: (jwt: SignJWT) => SignJWT = (jwt) => jwt) =>
    build(new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('u_sec').setIssuedAt()).sign(
      new TextEncoder().encode(JWT_SECRET),
    );
  const bearer = (jwt: string) => ({ authorization: `Bearer ${jwt}` });

  describe('tokens', () => {
    it('refuses a token without exp', async () => {
      const forever = await sign({}, (jwt) => jwt.setIssuer(JWT_ISSUER).setAudience(JWT_AUDIENCE));
      const res = await api.inject({
        method: 'GET',
        url: '/api/notifications/unread-count',
        headers: bearer(forever),
      });
      expect(res.statusCode).toBe(401);
      expect(res.json().message).toBe('invalid token: token claim exp missing');
    });

    it('grants admin only through the configured claim of the configured issuer and audience', async () => {
      const url = '/api/templates?code=order_created';
      const admin = (build: (jwt: SignJWT) => SignJWT) =>
        sign({ roles: ['admin'] }, (jwt) => build(jwt.setExpirationTime('5m')));
      expect(
        (
          await api.inject({
            method: 'GET',
            url,
            headers: bearer(await admin((j) => j.setIssuer(JWT_ISSUER).setAudience(JWT_AUDIENCE))),
          })
        ).statusCode,
      ).toBe(200);
      // The old implicit claims no longer make an operator.
      const roleClaim = await sign({ role: 'admin' }, (j) =>
        j.setIssuer(JWT_ISSUER).setAudience(JWT_AUDIENCE).setExpirationTime('5m'),
      );
      expect((await api.inject({ method: 'GET', url, headers: bearer(roleClaim) })).statusCode).toBe(403);
      // Another issuer, or a token for another audience: not ours at all.
      expect(
        (
          await api.inject({
            method: 'GET',
            url,
            headers: bearer(await admin((j) => j.setIssuer('https://evil.test').setAudience(JWT_AUDIENCE))),
          })
        ).statusCode,
      ).toBe(401);
      expect(
        (
          await api.inject({
            method: 'GET',
            url,
            headers: bearer(await admin((j) => j.setIssuer(JWT_ISSUER))),
          })
        ).statusCode,
      ).toBe(401);

      // Without issuer and audience configured, roles=admin gives nothing.
      const unchecked = await appWith((c) => ({
        ...c,
        api: { ...c.api, jwt: { secret: JWT_SECRET, adminClaim: { name: 'roles', value: 'admin' } } },
      }));
      expect(
        (await unchecked.inject({ method: 'GET', url, headers: bearer(await admin((j) => j)) })).statusCode,
      ).toBe(403);

      expect(() => loadConfig({ JWT_JWKS_URL: 'https://id.test/jwks' })).toThrow(
        /JWT_ISSUER, JWT_AUDIENCE: required with JWT_JWKS_URL/,
      );
      expect(() =>
        loadConfig({ JWT_JWKS_URL: 'https://id.test/jwks', JWT_ISSUER: 'https://id.test' }),
      ).toThrow(/required with JWT_JWKS_URL/);
      expect(() => loadConfig({ JWT_SECRET, JWT_ADMIN_CLAIM: 'roles=admin' })).toThrow(
        /required with JWT_ADMIN_CLAIM/,
      );
      expect(
        loadConfig({ JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE, JWT_ADMIN_CLAIM: 'https://shop.test/roles=ops' })
          .api.jwt?.adminClaim,
      ).toEqual({ name: 'https://shop.test/roles', value: 'ops' });
    });

    it('ends an SSE stream when its token expires', async () => {
      const stream = await SseClient.open(`${api.url}/api/notifications/stream`, {
        authorization: `Bearer ${await token(stack.uid('u'), { ttl: '2s' })}`,
      });
      try {
        expect(stream.status).toBe(200);
        await stream.waitUntil(() => stream.ended, 6000);
        expect(stream.events.map((e) => e.event)).toEqual(['token_expired']);
      } finally {
        stream.close();
      }
    });
  });

  describe('brute force and slow clients', () => {
    const withLimit = (c: Config, trustProxy: Config['api']['trustProxy'] = false) => ({
      ...c,
      api: { ...c.api, trustProxy, rateLimit: { ...c.api.rateLimit, authFailuresPerAddress: 3 } },
    });
    const status = (app: ApiTestApp, key: string, headers: Record<string, string> = {}) =>
      app.inject({
        method: 'GET',
        url: '/api/notifications/notification-none-u_0/status',
        headers: { 'x-api-key': key, ...headers },
      });

    it('answers 429 with Retry-After to an address that keeps failing, before any other work, whatever X-Forwarded-For says', async () => {
      const app = await appWith((c) => withLimit(c));
      const codes = [];
      for (let i = 0; i < 3; i++)
        codes.push(
          (await status(app, `wrong-key-${i}-0123456789`, { 'x-forwarded-for': `203.0.113.${i}` }))
            .statusCode,
        );
      expect(codes).toEqual([401, 401, 401]);

      const fork = jest.spyOn(stack.orm.em, 'fork');
      try {
        const blocked = await status(app, SERVICE_KEY, { 'x-forwarded-for': '198.51.100.7' });
        expect(blocked.statusCode).toBe(429);
        expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
        expect(blocked.json()).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
        // Refused before the request got an EntityManager (or a key was checked).
        expect(fork).not.toHaveBeenCalled();
      } finally {
        fork.mockRestore();
      }
      // The limit is the address's, not the API's: another address still gets in.
      expect(
        (
          await app.inject({
            method: 'GET',
            url: '/api/notifications/notification-none-u_0/status',
            remoteAddress: '192.0.2.9',
            headers: { 'x-api-key': SERVICE_KEY },
          })
        ).statusCode,
      ).toBe(404);
    });

    it('takes the client address from X-Forwarded-For only with TRUST_PROXY', async () => {
      const app = await appWith((c) => withLimit(c, ['127.0.0.1']));
      for (let i = 0; i < 3; i++)
        expect(
          (await status(app, 'wrong-key-0123456789', { 'x-forwarded-for': '203.0.113.50' })).statusCode,
        ).toBe(401);
      expect((await status(app, SERVICE_KEY, { 'x-forwarded-for': '203.0.113.50' })).statusCode).toBe(429);
      expect((await status(app, SERVICE_KEY, { 'x-forwarded-for': '203.0.113.51' })).statusCode).toBe(404);

      expect(loadConfig({}).api.trustProxy).toBe(false);
      expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).api.trustProxy).toEqual([
        '10.0.0.0/8',
        '127.0.0.1',
      ]);
      expect(loadConfig({ TRUST_PROXY: '2' }).api.trustProxy).toBe(2);
      expect(() => loadConfig({ TRUST_PROXY: 'everyone' })).toThrow(/TRUST_PROXY/);
    });

    it('drops a client that sends its headers too slowly', async () => {
      const app = await appWith(
        (c) => ({ ...c, api: { ...c.api, headersTimeoutMs: 1000, requestTimeoutMs: 2000 } }),
        true,
      );
      const port = Number(new URL(app.url).port);
      const started = Date.now();
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port }, () =>
          socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'),
        );
        let data = '';
        socket.on('data', (chunk) => (data += chunk));
        socket.on('close', () => resolve(data));
        socket.on('error', reject);
        setTimeout(() => (socket.destroy(), reject(new Error('connection still open after 8 s'))), 8000);
      });
      expect(answer === '' || answer.startsWith('HTTP/1.1 408')).toBe(true);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(() => loadConfig({ API_HEADERS_TIMEOUT_MS: '20000', API_REQUEST_TIMEOUT_MS: '10000' })).toThrow(
        /API_HEADERS_TIMEOUT_MS/,
      );
    });
  });

  describe('links', () => {
    it('refuses an action URL that is not https, http or relative, naming the field, for events and direct sends', async () => {
      for (const actionUrl of [
        'javascript:alert(1)',
        ' JaVa\tScRiPt:alert(1)',
        'data:text/html,<script>alert(1)</script>',
        'vbscript:msgbox',
      ]) {
        const event = await api.service({
          method: 'POST',
          url: '/api/events',
          payload: orderCreated(stack.uid('evt'), 'u_1', { options: { actionUrl } }),
        });
        expect({ actionUrl, status: event.statusCode, fields: event.json().fields }).toEqual({
          actionUrl,
          status: 400,
          fields: ['options.actionUrl'],
        });
        const direct = await api.service({
          method: 'POST',
          url: '/api/notifications',
          payload: {
            userId: 'u_1',
            templateCode: 'order_created',
            variables: { orderNumber: 'A-1', total: 1, currency: 'INR' },
            options: { actionUrl },
          },
        });
        expect({ actionUrl, status: direct.statusCode, fields: direct.json().fields }).toEqual({
          actionUrl,
          status: 400,
          fields: ['options.actionUrl'],
        });
      }
      for (const actionUrl of [
        'https://shop.test/o/1',
        'http://shop.test/o/1',
        '/profile/orders/9',
        'orders/9?x=1#top',
      ]) {
        const res = await api.service({
          method: 'POST',
          url: '/api/events',
          payload: orderCreated(stack.uid('evt'), 'u_nobody', { options: { actionUrl } }),
        });
        expect({ actionUrl, status: res.statusCode }).toEqual({ actionUrl, status: 202 });
      }
    });

    it('refuses template links with another scheme, and renders a link from data safe', async () => {
      const code = `sec_links_${stack.id}`;
      const version = (fields: Record<string, string>) =>
        api.admin({
          method: 'POST',
          url: `/api/templates/${code}/versions`,
          payload: {
            channel: 'in_app',
            category: 'order_updates',
            fields: { title: 'T', body: 'B', ...fields },
          },
        });
      const script = await version({ actionUrl: 'javascript:alert(1)' });
      expect(script.statusCode).toBe(400);
      expect(script.json()).toMatchObject({ fields: ['fields.actionUrl'], in: 'body' });
      const email = await api.admin({
        method: 'POST',
        url: `/api/templates/${code}/versions`,
        payload: {
          channel: 'email',
          category: 'order_updates',
          fields: { subject: 'S', text: 'T', html: '<a href="java&#115;cript:alert(1)">x</a>' },
        },
      });
      expect(email.statusCode).toBe(400);
      expect(email.json().fields).toEqual(['fields.html']);
      expect((await version({ actionUrl: '/orders/{{orderNumber}}' })).statusCode).toBe(201);

      // A variable may still carry a bad link at render time: it renders empty (HTML: "#").
      const preview = await api.admin({
        method: 'POST',
        url: `/api/templates/${code}/preview`,
        payload: {
          channel: 'email',
          fields: { subject: 'S', text: 'T', html: '<a href="{{link}}">go</a>', url: '{{link}}' },
          variables: { link: 'javascript:alert(1)' },
        },
      });
      expect(preview.statusCode).toBe(200);
      expect(preview.json().rendered).toMatchObject({ html: '<a href="#">go</a>', url: '' });
    });
  });

  describe('secrets', () => {
    it('answers /readyz without connection strings or passwords', async () => {
      const leaky = new Error(
        'connect ECONNREFUSED for postgres://svc:hunter2@db.internal:5432/notifications',
      );
      const app = await buildApp({
        config: stack.config,
        orm: stack.orm,
        redis: stack.redis,
        notifications: stack.client,
        queues: stack.queues,
        temporalClient: { workflowService: { getSystemInfo: () => Promise.reject(leaky) } } as never,
      });
      try {
        const res = await app.inject({ method: 'GET', url: '/readyz' });
        expect(res.statusCode).toBe(503);
        expect(res.json()).toMatchObject({
          status: 'not_ready',
          checks: { temporal: { ok: false }, postgres: { ok: true } },
        });
        expect(res.body).not.toMatch(/hunter2|postgres:\/\/|db\.internal/);
      } finally {
        await app.close();
      }
    });

    it('refuses to start with a known placeholder secret', async () => {
      const api = new NodeProcess('src/bin/api.ts', [], {
        TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS!,
        DATABASE_URL: process.env.TEST_DATABASE_URL!,
        PORT: '0',
        API_KEYS: 'checkout:change-me-service-key-0001',
        JWT_SECRET: 'change-me-jwt-secret-at-least-32-chars',
      });
      const exit = await api.exited;
      expect(exit.code).toBe(1);
      expect(api.output.filter((line) => line.startsWith('error: '))).toEqual([
        expect.stringMatching(
          /^error: invalid configuration: JWT_SECRET, API_KEYS: a known placeholder secret/,
        ),
      ]);

      const sha = (value: string) => createHash('sha256').update(value).digest('hex');
      expect(() => loadConfig({ ADMIN_API_KEYS: `oncall:${sha('dev-admin-key-not-secret')}` })).toThrow(
        /known placeholder/,
      );
      expect(() =>
        loadConfig({ DATABASE_URL: 'postgres://postgres:postgres@db:5432/notifications' }),
      ).toThrow(/DATABASE_URL \(password\): a known placeholder/);
      expect(() =>
        loadConfig({ ADMIN_API_KEYS: 'dev-admin:dev-admin-key-not-secret' }, { allowDevCredentials: true }),
      ).not.toThrow();
      // The dev payload key is published here: refused outside `npm run dev`, under any key id.
      const devKeys = withDevPayloadEncryption({});
      expect(() => loadConfig(devKeys)).toThrow(/PAYLOAD_ENCRYPTION_KEYS: a known placeholder/);
      expect(() => loadConfig({ PAYLOAD_ENCRYPTION_KEYS: `prod-1:${DEV_PAYLOAD_KEY}` })).toThrow(
        /PAYLOAD_ENCRYPTION_KEYS/,
      );
      expect(() => loadConfig(devKeys, { allowDevCredentials: true })).not.toThrow();
      expect(() =>
        loadConfig({ PAYLOAD_ENCRYPTION_KEYS: `prod-1:${Buffer.alloc(32, 7).toString('base64')}` }),
      ).not.toThrow();
    });
  });

  describe('scopes', () => {
    const READER = 'reader-key-0123456789';
    const PUBLISHER = 'publisher-key-0123456789';
    it('answers 403 to a key without the scope of the route; unscoped and admin keys keep every scope', async () => {
      const keys = loadConfig({
        API_KEYS: `checkout:${SERVICE_KEY},reader[read]:${READER},publisher[events+sends]:${PUBLISHER}`,
      }).api.serviceKeys;
      const app = await appWith((c) => ({ ...c, api: { ...c.api, serviceKeys: keys } }));
      const calls = {
        events: { method: 'POST', url: '/api/events', payload: orderCreated(stack.uid('evt'), 'u_nobody') },
        sends: {
          method: 'POST',
          url: '/api/notifications',
          payload: {
            userId: 'u_nobody',
            templateCode: 'order_created',
            variables: { orderNumber: 'A-1', total: 1, currency: 'INR' },
          },
        },
        recipients: { method: 'PUT', url: `/api/recipients/${stack.uid('u')}`, payload: { name: 'Asha' } },
        control: { method: 'POST', url: '/api/notifications/notification-none-u_0/cancel', payload: {} },
        read: { method: 'GET', url: '/api/notifications/notification-none-u_0/status' },
      } as const;
      const outcome = async (key: string) => {
        const out: Record<string, number> = {};
        for (const [scope, call] of Object.entries(calls))
          out[scope] = (await app.inject({ ...call, headers: { 'x-api-key': key } })).statusCode;
        return out;
      };
      expect(await outcome(READER)).toEqual({
        events: 403,
        sends: 403,
        recipients: 403,
        control: 403,
        read: 404,
      });
      expect(await outcome(PUBLISHER)).toEqual({
        events: 202,
        sends: 202,
        recipients: 403,
        control: 403,
        read: 403,
      });
      const unscoped = await outcome(SERVICE_KEY);
      const admin = await outcome(ADMIN_KEY);
      for (const out of [unscoped, admin])
        expect(Object.values(out).every((code) => code !== 403)).toBe(true);

      const denied = await app.inject({ ...calls.recipients, headers: { 'x-api-key': READER } });
      expect(denied.json().message).toBe(
        'forbidden: API key "reader" lacks the scope "recipients" this route needs',
      );

      expect(() => loadConfig({ API_KEYS: `a[publish]:${READER}` })).toThrow(
        /API_KEYS: entry 1: unknown scope "publish"/,
      );
      expect(() => loadConfig({ ADMIN_API_KEYS: `a[read]:${READER}` })).toThrow(
        /ADMIN_API_KEYS: entry 1: admin keys take no scopes/,
      );
    });
  });
});

import { createHash } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { ApiKeyVerifier } from '../../src/api/auth/api-keys';
import { SessionStore } from '../../src/api/auth/sessions';
import type { Config } from '../../src/config';
import { duplicateRedis } from '../../src/redis-connection';
import { ADMIN_KEY, ApiTestApp, apiTestEnv, SERVICE_KEY, token } from '../helpers/api-app';
import { SseClient } from '../helpers/api-sse';
import { TestStack } from '../helpers/test-stack';

/** docs/contracts.md, "Browser surfaces": cookie sessions, CSRF, no login prompt for the pages' calls. */
describe('HTTP API: browser sessions', () => {
  const stack = new TestStack({ env: apiTestEnv(), deliveryWorkers: false });
  const api = new ApiTestApp(stack);
  const apps: ApiTestApp[] = [];
  const streams: SseClient[] = [];
  beforeAll(async () => {
    await stack.start();
    await api.start({ listen: true });
  });
  afterAll(async () => {
    for (const s of streams) s.close();
    for (const app of apps) await app.close();
    await api.close();
    await stack.stop();
  });

  const ADMIN_ROUTE = '/api/templates?code=order_created';

  /** The `ns_session` Set-Cookie line of an answer. */
  function setCookieOf(res: LightMyRequestResponse): string {
    const lines = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
    const line = lines.find((l) => l.startsWith('ns_session='));
    if (!line) throw new Error(`no ns_session cookie set (status ${res.statusCode}: ${res.body})`);
    return line;
  }
  const cookieHeader = (setCookie: string) => setCookie.split(';')[0];
  const redisKey = (cookie: string, prefix = stack.config.queuePrefix) =>
    `${prefix}:api-session:${createHash('sha256').update(cookie.slice('ns_session='.length)).digest('hex')}`;

  async function signIn(
    body: Record<string, unknown>,
    app = api,
  ): Promise<{ cookie: string; csrfToken: string; res: LightMyRequestResponse }> {
    const res = await app.inject({ method: 'POST', url: '/api/session', payload: body });
    expect(res.statusCode).toBe(200);
    return { cookie: cookieHeader(setCookieOf(res)), csrfToken: res.json().csrfToken, res };
  }

  it('opens an admin session: HttpOnly, SameSite=Strict, Path=/ cookie, stored in Redis for SESSION_TTL_MS', async () => {
    const { cookie, res } = await signIn({ adminKey: ADMIN_KEY });
    const setCookie = setCookieOf(res);
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).toMatch(/; Path=\//);
    expect(setCookie).not.toMatch(/; Secure/);
    expect(setCookie).toMatch(/; Max-Age=28800(;|$)/);
    expect(cookie).toMatch(/^ns_session=[A-Za-z0-9_-]{43}$/);
    expect(res.json()).toEqual({
      kind: 'key',
      subject: 'oncall',
      admin: true,
      csrfToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      expiresAt: expect.any(String),
    });
    expect(Date.parse(res.json().expiresAt) - Date.now()).toBeGreaterThan(8 * 3600_000 - 60_000);

    const ttl = await stack.redis.pttl(redisKey(cookie));
    expect(ttl).toBeGreaterThan(8 * 3600_000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(8 * 3600_000);
    // Only the hash of the cookie names the record.
    expect(
      await stack.redis.exists(
        `${stack.config.queuePrefix}:api-session:${cookie.slice('ns_session='.length)}`,
      ),
    ).toBe(0);

    // Secure when the request came over https.
    const https = await api.inject({
      method: 'POST',
      url: '/api/session',
      payload: { adminKey: ADMIN_KEY },
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(setCookieOf(https)).not.toMatch(/; Secure/); // X-Forwarded-Proto counts only with TRUST_PROXY
    const trusted = await appWith((c) => ({ ...c, api: { ...c.api, trustProxy: true } }));
    const overHttps = await trusted.inject({
      method: 'POST',
      url: '/api/session',
      payload: { adminKey: ADMIN_KEY },
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(setCookieOf(overHttps)).toMatch(/; Secure/);
  });

  it('lets the cookie open admin routes; unsafe methods need the CSRF token', async () => {
    const { cookie, csrfToken } = await signIn({ adminKey: ADMIN_KEY });
    expect((await api.inject({ method: 'GET', url: ADMIN_ROUTE, headers: { cookie } })).statusCode).toBe(200);
    expect(
      (await api.inject({ method: 'GET', url: '/api/session', headers: { cookie } })).json(),
    ).toMatchObject({ kind: 'key', subject: 'oncall', csrfToken });

    const code = `sess_${stack.id}`;
    const preview = (headers: Record<string, string>) =>
      api.inject({
        method: 'POST',
        url: `/api/templates/${code}/preview`,
        payload: { channel: 'in_app', fields: { title: 'Hi {{n}}' }, variables: { n: 'A' } },
        headers: { cookie, ...headers },
      });
    const missing = await preview({});
    expect(missing.statusCode).toBe(403);
    expect(missing.json().message).toBe('missing or wrong CSRF token (X-CSRF-Token)');
    expect((await preview({ 'x-csrf-token': `${csrfToken.slice(0, -1)}x` })).statusCode).toBe(403);
    expect((await preview({ 'x-csrf-token': 'short' })).statusCode).toBe(403);
    const right = await preview({ 'x-csrf-token': csrfToken });
    expect(right.statusCode).toBe(200);
    expect(right.json().rendered).toEqual({ title: 'Hi A' });
  });

  it("lets the queue dashboard's own buttons act on the cookie from the same origin only (Sec-Fetch-Site)", async () => {
    const { cookie } = await signIn({ adminKey: ADMIN_KEY });
    const pauseAll = (headers: Record<string, string>) =>
      api.inject({ method: 'PUT', url: '/admin/queues/api/queues/pause', headers: { cookie, ...headers } });
    expect((await pauseAll({})).statusCode).toBe(403);
    expect((await pauseAll({ 'sec-fetch-site': 'cross-site' })).statusCode).toBe(403);
    expect((await pauseAll({ 'sec-fetch-site': 'same-site' })).statusCode).toBe(403);
    expect(await stack.queues.queue('email').isPaused()).toBe(false);
    expect((await pauseAll({ 'sec-fetch-site': 'same-origin' })).statusCode).toBe(200);
    expect(await stack.queues.queue('email').isPaused()).toBe(true);
    const resumeAll = await api.inject({
      method: 'PUT',
      url: '/admin/queues/api/queues/resume',
      headers: { cookie, 'sec-fetch-site': 'same-origin' },
    });
    expect(resumeAll.statusCode).toBe(200);
    expect(await stack.queues.queue('email').isPaused()).toBe(false);
    // Our own API keeps asking for the token, same origin or not.
    const preview = await api.inject({
      method: 'POST',
      url: '/api/templates/x/preview',
      payload: { channel: 'in_app', fields: { title: 'Hi' } },
      headers: { cookie, 'sec-fetch-site': 'same-origin' },
    });
    expect(preview.statusCode).toBe(403);
  });

  it('signs out: the cookie is cleared and the old cookie answers 401', async () => {
    const { cookie, csrfToken } = await signIn({ adminKey: ADMIN_KEY });
    expect(
      (await api.inject({ method: 'DELETE', url: '/api/session', headers: { cookie } })).statusCode,
    ).toBe(403);
    const out = await api.inject({
      method: 'DELETE',
      url: '/api/session',
      headers: { cookie, 'x-csrf-token': csrfToken },
    });
    expect(out.statusCode).toBe(204);
    const cleared = setCookieOf(out);
    expect(cleared).toMatch(/^ns_session=;/);
    expect(cleared).toMatch(/Expires=Thu, 01 Jan 1970|Max-Age=0/);
    expect(await stack.redis.exists(redisKey(cookie))).toBe(0);

    const after = await api.inject({ method: 'GET', url: '/api/session', headers: { cookie } });
    expect(after.statusCode).toBe(401);
    expect(after.json().message).toBe('no session (signed out or expired)');
    const admin = await api.inject({ method: 'GET', url: ADMIN_ROUTE, headers: { cookie } });
    expect(admin.statusCode).toBe(401);
    expect(admin.json().message).toBe('no session (signed out or expired)');
  });

  it("opens a shopper session with a token: the user's routes and the SSE stream, not the admin routes", async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const { cookie, res } = await signIn({ token: await token(userId) });
    expect(res.json()).toMatchObject({ kind: 'user', subject: userId, admin: false });

    const feed = await api.inject({ method: 'GET', url: '/api/notifications', headers: { cookie } });
    expect(feed.statusCode).toBe(200);
    expect(feed.json()).toMatchObject({ items: [] });
    expect(
      (await api.inject({ method: 'GET', url: '/api/preferences', headers: { cookie } })).statusCode,
    ).toBe(200);
    expect((await api.inject({ method: 'GET', url: ADMIN_ROUTE, headers: { cookie } })).statusCode).toBe(403);

    const stream = await SseClient.open(`${api.url}/api/notifications/stream`, { cookie });
    streams.push(stream);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
  });

  it('ends a token session at the token exp: Redis TTL, expiresAt and the SSE stream', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const { cookie, res } = await signIn({ token: await token(userId, { ttl: '3s' }) });
    expect(await stack.redis.pttl(redisKey(cookie))).toBeLessThanOrEqual(3000);
    expect(Date.parse(res.json().expiresAt)).toBeLessThanOrEqual(Date.now() + 3000);
    expect(setCookieOf(res)).toMatch(/; Max-Age=[0-3](;|$)/);

    const stream = await SseClient.open(`${api.url}/api/notifications/stream`, { cookie });
    streams.push(stream);
    expect(stream.status).toBe(200);
    await stream.waitUntil(() => stream.ended, 10_000);
    expect(stream.events.map((e) => e.event)).toEqual(['token_expired']);
    expect(JSON.parse(stream.events[0].data)).toEqual({ reason: 'expired' });
    const later = await api.inject({ method: 'GET', url: '/api/session', headers: { cookie } });
    expect(later.statusCode).toBe(401);
  });

  it('ends the streams of a session within a heartbeat of its sign-out, on another API process too', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const { cookie, csrfToken } = await signIn({ token: await token(userId) });
    // A second API process (same Redis) with a short heartbeat holds the stream; the first signs out.
    const other = new ApiTestApp(stack);
    apps.push(other);
    await other.start({ listen: true, sseHeartbeatMs: 200 });
    const stream = await SseClient.open(`${other.url}/api/notifications/stream`, { cookie });
    streams.push(stream);
    expect(stream.status).toBe(200);
    // Heartbeats pass while the session lives.
    await stream.waitUntil(() => stream.comments.length >= 3, 10_000);
    expect(stream.ended).toBe(false);
    expect(
      (
        await api.inject({
          method: 'DELETE',
          url: '/api/session',
          headers: { cookie, 'x-csrf-token': csrfToken },
        })
      ).statusCode,
    ).toBe(204);
    await stream.waitUntil(() => stream.ended, 10_000);
    expect(stream.events.map((e) => [e.event, e.data])).toEqual([
      ['token_expired', '{"reason":"signed_out"}'],
    ]);
  });

  it('refuses a service key (403), an invalid key (401, counted by the failure limiter) and a malformed body (400)', async () => {
    const service = await api.inject({
      method: 'POST',
      url: '/api/session',
      payload: { adminKey: SERVICE_KEY },
    });
    expect(service.statusCode).toBe(403);
    expect(service.json().message).toBe('service keys cannot open a browser session');
    expect(service.headers['set-cookie']).toBeUndefined();

    const limited = await appWith((c) => ({
      ...c,
      api: { ...c.api, rateLimit: { ...c.api.rateLimit, authFailuresPerAddress: 2 } },
    }));
    const attempt = (adminKey: string) =>
      limited.inject({
        method: 'POST',
        url: '/api/session',
        payload: { adminKey },
        remoteAddress: '203.0.113.77',
      });
    const wrong = await attempt('not-a-key-0123456789');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().message).toBe('invalid API key');
    expect(wrong.headers['www-authenticate']).toBeUndefined();
    expect((await attempt('still-not-a-key-0123')).statusCode).toBe(401);
    // Over the budget: even the right key is refused from that address, and header credentials too.
    const blocked = await attempt(ADMIN_KEY);
    expect(blocked.statusCode).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(
      (
        await limited.inject({
          method: 'GET',
          url: ADMIN_ROUTE,
          remoteAddress: '203.0.113.77',
          headers: { 'x-api-key': ADMIN_KEY },
        })
      ).statusCode,
    ).toBe(429);

    const invalidToken = await api.inject({
      method: 'POST',
      url: '/api/session',
      payload: { token: 'not.a.jwt' },
    });
    expect(invalidToken.statusCode).toBe(401);
    expect(invalidToken.json().message).toMatch(/^invalid token/);

    for (const [payload, fields] of [
      [{}, ['adminKey', 'token']],
      [{ adminKey: ADMIN_KEY, token: 'x' }, ['adminKey', 'token']],
      [{ adminKey: ADMIN_KEY, password: 'x' }, ['password']],
      [{ adminKey: 42 }, ['adminKey']],
    ] as const) {
      const res = await api.inject({ method: 'POST', url: '/api/session', payload });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ fields, in: 'body' });
    }
  });

  it("answers the pages' own calls (X-Requested-With: fetch) without a Basic challenge, others with it", async () => {
    const plain = await api.inject({ method: 'GET', url: ADMIN_ROUTE });
    expect(plain.statusCode).toBe(401);
    expect(plain.headers['www-authenticate']).toMatch(/^Basic realm=/);
    const fetched = await api.inject({
      method: 'GET',
      url: ADMIN_ROUTE,
      headers: { 'x-requested-with': 'fetch' },
    });
    expect(fetched.statusCode).toBe(401);
    expect(fetched.headers['www-authenticate']).toBeUndefined();
    const wrongKey = await api.inject({
      method: 'GET',
      url: '/admin/queues',
      headers: { 'x-requested-with': 'fetch', 'x-api-key': 'wrong-0123456789abcdef' },
    });
    expect(wrongKey.statusCode).toBe(401);
    expect(wrongKey.headers['www-authenticate']).toBeUndefined();
    // The queue dashboard still prompts a browser for its Basic credentials.
    expect((await api.inject({ method: 'GET', url: '/admin/queues' })).headers['www-authenticate']).toMatch(
      /^Basic realm=/,
    );
  });

  it('refuses a forged or unknown cookie with 401', async () => {
    for (const value of ['x'.repeat(43), 'forged', '']) {
      const res = await api.inject({
        method: 'GET',
        url: ADMIN_ROUTE,
        headers: { cookie: `ns_session=${value}` },
      });
      expect(res.statusCode).toBe(401);
      expect(res.json().message).toBe('no session (signed out or expired)');
    }
    expect(
      (await api.inject({ method: 'GET', url: '/api/session', headers: { cookie: 'ns_session=forged' } }))
        .statusCode,
    ).toBe(401);
    expect((await api.inject({ method: 'GET', url: '/api/session' })).statusCode).toBe(401);
  });

  it('lets header credentials win over the cookie', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const { cookie } = await signIn({ adminKey: ADMIN_KEY });
    // A user token with an admin cookie: the token decides (no admin route), and no CSRF is asked for.
    const asUser = await api.inject({
      method: 'GET',
      url: ADMIN_ROUTE,
      headers: { cookie, authorization: `Bearer ${await token(userId)}` },
    });
    expect(asUser.statusCode).toBe(403);
    expect(
      (
        await api.inject({
          method: 'PUT',
          url: '/api/preferences',
          payload: { muted: true },
          headers: { cookie, authorization: `Bearer ${await token(userId)}` },
        })
      ).statusCode,
    ).toBe(200);
    // A wrong key with a good cookie is still a wrong key.
    expect(
      (
        await api.inject({
          method: 'GET',
          url: ADMIN_ROUTE,
          headers: { cookie, 'x-api-key': 'wrong-0123456789abcdef' },
        })
      ).statusCode,
    ).toBe(401);
    // A service key with an admin cookie: a service key (no operator route).
    expect(
      (await api.inject({ method: 'GET', url: ADMIN_ROUTE, headers: { cookie, 'x-api-key': SERVICE_KEY } }))
        .statusCode,
    ).toBe(403);
  });

  it('ends the sessions of an admin key that is no longer configured', async () => {
    const { cookie } = await signIn({ adminKey: ADMIN_KEY });
    const rotated = await appWith((c) => ({
      ...c,
      queuePrefix: stack.config.queuePrefix,
      api: {
        ...c.api,
        adminKeys: [
          { name: 'new-oncall', sha256: createHash('sha256').update('another-admin-key-0123').digest('hex') },
        ],
      },
    }));
    expect((await rotated.inject({ method: 'GET', url: ADMIN_ROUTE, headers: { cookie } })).statusCode).toBe(
      401,
    );
    expect((await api.inject({ method: 'GET', url: ADMIN_ROUTE, headers: { cookie } })).statusCode).toBe(200);
  });

  it('documents the session, dashboard and dev routes in /docs (DEV_LOGIN off: no dev routes)', async () => {
    const doc = (await api.inject({ method: 'GET', url: '/docs/json' })).json<{
      paths: Record<string, Record<string, { tags?: string[] }>>;
    }>();
    expect(Object.keys(doc.paths['/api/session']).sort()).toEqual(['delete', 'get', 'post']);
    for (const path of [
      '/api/admin/overview',
      '/api/admin/search',
      '/api/admin/failed-jobs',
      '/api/admin/failed-jobs/retry',
      '/api/admin/recipients',
      '/api/admin/recipients/{id}/preferences',
    ]) {
      expect([path, Object.values(doc.paths[path] ?? {}).map((op) => op.tags)]).toEqual([
        path,
        expect.arrayContaining([['operators']]),
      ]);
    }
    expect(Object.keys(doc.paths).filter((path) => path.startsWith('/api/dev/'))).toEqual([]);
  });

  it('fails closed when Redis does not answer: 503, never a session', async () => {
    // A real client that cannot reach Redis, failing fast like the API's own session connection.
    const offline = duplicateRedis(stack.redis, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    });
    const sessions = new SessionStore(
      offline,
      stack.config.queuePrefix,
      60_000,
      new ApiKeyVerifier([], stack.config.api.adminKeys),
    );
    const unavailable = {
      statusCode: 503,
      message: 'browser sessions unavailable: Redis does not answer, try again later',
    };
    await expect(
      sessions.open({ kind: 'key', name: 'oncall', admin: true, scopes: [] }, new Date()),
    ).rejects.toMatchObject(unavailable);
    await expect(sessions.find('x'.repeat(43))).rejects.toMatchObject(unavailable);
    await expect(sessions.close('x'.repeat(43))).rejects.toMatchObject(unavailable);
    offline.disconnect();
  });

  describe('the widget on a shop origin (WIDGET_ORIGINS)', () => {
    const SHOP = 'https://shop.example';
    let widget: ApiTestApp;
    beforeAll(async () => {
      widget = await appWith(
        (c) => ({ ...c, api: { ...c.api, widgetOrigins: [SHOP, 'http://localhost:8080'] } }),
        true,
      );
    });
    const corsHeaders = (res: { headers: Record<string, unknown> }) =>
      Object.keys(res.headers).filter((h) => h.startsWith('access-control-'));
    const preflight = (url: string, method: string, origin = SHOP) =>
      widget.inject({
        method: 'OPTIONS',
        url,
        headers: {
          origin,
          'access-control-request-method': method,
          'access-control-request-headers': 'authorization, content-type',
        },
      });

    it('allows the shopper routes from an allowed origin, without credentials', async () => {
      const userId = stack.uid('u');
      await stack.createRecipient({ id: userId });
      const feed = await widget.inject({
        method: 'GET',
        url: '/api/notifications',
        headers: { origin: SHOP, authorization: `Bearer ${await token(userId)}` },
      });
      expect(feed.statusCode).toBe(200);
      expect(feed.headers['access-control-allow-origin']).toBe(SHOP);
      expect(feed.headers.vary).toMatch(/Origin/);
      expect(feed.headers['access-control-allow-credentials']).toBeUndefined();
      // A refusal is readable by the widget too.
      const refused = await widget.inject({
        method: 'GET',
        url: '/api/notifications/unread-count',
        headers: { origin: SHOP, 'x-requested-with': 'fetch' },
      });
      expect(refused.statusCode).toBe(401);
      expect(refused.headers['access-control-allow-origin']).toBe(SHOP);

      for (const [url, method] of [
        ['/api/notifications', 'GET'],
        ['/api/notifications/unread-count', 'GET'],
        ['/api/notifications/0b6f2c3e-1111-4a4a-9b9b-123456789abc/read', 'POST'],
        ['/api/notifications/read-all', 'POST'],
        ['/api/notifications/stream', 'GET'],
        ['/api/preferences', 'PUT'],
      ]) {
        const res = await preflight(url, method);
        expect([url, res.statusCode]).toEqual([url, 204]);
        expect(res.headers).toMatchObject({
          'access-control-allow-origin': SHOP,
          'access-control-allow-headers': 'authorization, content-type, last-event-id, x-requested-with',
          vary: 'Origin',
        });
        expect(String(res.headers['access-control-allow-methods']).split(', ')).toContain(method);
        expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      }
      expect((await preflight('/api/preferences', 'GET')).headers['access-control-allow-methods']).toBe(
        'GET, PUT',
      );

      // The stream (hijacked by the SSE route) carries the header as well.
      const stream = await SseClient.open(
        `${widget.url}/api/notifications/stream?access_token=${await token(userId)}`,
        { origin: SHOP },
      );
      streams.push(stream);
      expect(stream.status).toBe(200);
      expect(stream.headers['access-control-allow-origin']).toBe(SHOP);
    });

    it('gives another origin, and the service routes, no CORS headers', async () => {
      const userId = stack.uid('u');
      const other = await widget.inject({
        method: 'GET',
        url: '/api/notifications',
        headers: { origin: 'https://evil.example', authorization: `Bearer ${await token(userId)}` },
      });
      expect(other.statusCode).toBe(200);
      expect(corsHeaders(other)).toEqual([]);
      const otherPreflight = await preflight('/api/notifications', 'GET', 'https://evil.example');
      expect(otherPreflight.statusCode).toBe(403);
      expect(corsHeaders(otherPreflight)).toEqual([]);
      // A scheme or port away is another origin.
      expect(corsHeaders(await preflight('/api/notifications', 'GET', 'http://shop.example'))).toEqual([]);

      // POST /api/notifications publishes (a service route): its preflight is refused, even from the shop.
      const publish = await preflight('/api/notifications', 'POST');
      expect(publish.statusCode).toBe(403);
      expect(publish.json().message).toMatch(/not a shopper route/);
      expect(corsHeaders(publish)).toEqual([]);
      const published = await widget.inject({
        method: 'POST',
        url: '/api/notifications',
        headers: { origin: SHOP, 'x-api-key': SERVICE_KEY },
        payload: { userId, templateCode: 'nope' },
      });
      expect(corsHeaders(published)).toEqual([]);
      // Neither the session nor the operator routes are open cross-origin.
      expect(
        corsHeaders(
          await widget.inject({
            method: 'POST',
            url: '/api/session',
            headers: { origin: SHOP },
            payload: { adminKey: ADMIN_KEY },
          }),
        ),
      ).toEqual([]);
      expect((await preflight('/api/session', 'POST')).statusCode).toBe(404);
      expect(
        corsHeaders(
          await widget.inject({
            method: 'GET',
            url: ADMIN_ROUTE,
            headers: { origin: SHOP, 'x-api-key': ADMIN_KEY },
          }),
        ),
      ).toEqual([]);
      // Without WIDGET_ORIGINS nobody is allowed.
      expect(
        (
          await api.inject({
            method: 'OPTIONS',
            url: '/api/notifications',
            headers: { origin: SHOP, 'access-control-request-method': 'GET' },
          })
        ).statusCode,
      ).toBe(403);
    });
  });

  async function appWith(configure: (config: Config) => Config, listen = false): Promise<ApiTestApp> {
    const app = new ApiTestApp(stack);
    apps.push(app);
    return app.start({
      listen,
      configure: (c) => configure({ ...c, queuePrefix: `{sess-${stack.uid('p')}}` }),
    });
  }
});

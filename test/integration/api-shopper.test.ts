import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { Notification, Preference, Recipient } from '../../src/db/entities';
import { ApiTestApp, apiTestEnv, insertDeliveredNotification, orderCreated, token } from '../helpers/api-app';
import { SseClient } from '../helpers/api-sse';
import { TestStack } from '../helpers/test-stack';

describe('HTTP API: shopper-facing routes', () => {
  const stack = new TestStack({ env: apiTestEnv() });
  const api = new ApiTestApp(stack);
  const streams: SseClient[] = [];
  beforeAll(async () => {
    await stack.start();
    await api.start({ listen: true, sseHeartbeatMs: 200 });
  });
  afterEach(() => {
    for (const s of streams.splice(0)) s.close();
  });
  afterAll(async () => {
    await api.close();
    await stack.stop();
  });

  async function openStream(userId: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const client = await SseClient.open(`${api.url}/api/notifications/stream`, {
      authorization: `Bearer ${await token(userId)}`,
      ...headers,
    });
    streams.push(client);
    return client;
  }

  describe('notification center', () => {
    it('lists my delivered notifications newest first with cursor pagination and an unread filter', async () => {
      const userId = stack.uid('u');
      const other = stack.uid('u');
      await stack.createRecipient({ id: userId });
      await stack.createRecipient({ id: other });
      const base = Date.now() - 60_000;
      const mine: Notification[] = [];
      for (let i = 0; i < 5; i++) {
        mine.push(
          await insertDeliveredNotification(stack, userId, {
            title: `n${i}`,
            createdAt: new Date(base + i * 1000),
            readAt: i % 2 === 0 ? new Date() : null,
          }),
        );
      }
      await insertDeliveredNotification(stack, userId, {
        title: 'not delivered yet',
        createdAt: new Date(base + 10_000),
        deliveredAt: null,
      });
      await insertDeliveredNotification(stack, other, {
        title: 'someone else',
        createdAt: new Date(base + 20_000),
      });

      const first = await api.as(userId, { method: 'GET', url: '/api/notifications?limit=2' });
      expect(first.statusCode).toBe(200);
      expect(first.json().items.map((n: { title: string }) => n.title)).toEqual(['n4', 'n3']);
      expect(first.json().items[0]).toMatchObject({
        id: mine[4].id,
        read: true,
        category: 'order_updates',
        body: 'Thanks for your order.',
      });
      const second = await api.as(userId, {
        method: 'GET',
        url: `/api/notifications?limit=2&cursor=${first.json().nextCursor}`,
      });
      expect(second.json().items.map((n: { title: string }) => n.title)).toEqual(['n2', 'n1']);
      const last = await api.as(userId, {
        method: 'GET',
        url: `/api/notifications?limit=2&cursor=${second.json().nextCursor}`,
      });
      expect(last.json()).toMatchObject({ items: [{ title: 'n0' }], nextCursor: null });

      const unread = await api.as(userId, { method: 'GET', url: '/api/notifications?unread=true' });
      expect(unread.json().items.map((n: { title: string }) => n.title)).toEqual(['n3', 'n1']);
      expect(
        (await api.as(userId, { method: 'GET', url: '/api/notifications/unread-count' })).json(),
      ).toEqual({ count: 2 });
    });

    it('validates the query string', async () => {
      const cases: [string, string][] = [
        ['limit=0', 'limit'],
        ['limit=abc', 'limit'],
        ['unread=yes', 'unread'],
        ['cursor=bm9wZQ', 'cursor'],
        ['colour=red', 'colour'],
      ];
      for (const [query, field] of cases) {
        const res = await api.as('u_any', { method: 'GET', url: `/api/notifications?${query}` });
        expect({ query, status: res.statusCode, fields: res.json().fields, in: res.json().in }).toEqual({
          query,
          status: 400,
          fields: [field],
          in: 'querystring',
        });
      }
    });

    it('marks one and then all read, idempotently', async () => {
      const userId = stack.uid('u');
      await stack.createRecipient({ id: userId });
      const a = await insertDeliveredNotification(stack, userId);
      await insertDeliveredNotification(stack, userId);
      await insertDeliveredNotification(stack, userId);

      const read = await api.as(userId, { method: 'POST', url: `/api/notifications/${a.id}/read` });
      expect(read.statusCode).toBe(200);
      expect(read.json()).toEqual({ id: a.id, readAt: expect.any(String) });
      const again = await api.as(userId, { method: 'POST', url: `/api/notifications/${a.id}/read` });
      expect(again.json().readAt).toBe(read.json().readAt);
      expect(
        (await api.as(userId, { method: 'GET', url: '/api/notifications/unread-count' })).json(),
      ).toEqual({ count: 2 });

      const all = await api.as(userId, { method: 'POST', url: '/api/notifications/read-all' });
      expect(all.json()).toEqual({ updated: 2 });
      expect(
        (await api.as(userId, { method: 'GET', url: '/api/notifications/unread-count' })).json(),
      ).toEqual({ count: 0 });
      expect(
        (await api.as(userId, { method: 'POST', url: `/api/notifications/${a.id.toUpperCase()}/read` }))
          .statusCode,
      ).toBe(200);
      expect(
        (await api.as(userId, { method: 'POST', url: '/api/notifications/not-a-uuid/read' })).json(),
      ).toMatchObject({ fields: ['id'], in: 'params' });
    });

    it("never shows, marks or streams another user's notifications: 404 like a missing one", async () => {
      const owner = stack.uid('u');
      const intruder = stack.uid('u');
      await stack.createRecipient({ id: owner });
      await stack.createRecipient({ id: intruder });
      const n = await insertDeliveredNotification(stack, owner);

      const list = await api.as(intruder, { method: 'GET', url: '/api/notifications' });
      expect(list.json().items).toEqual([]);
      const mark = await api.as(intruder, { method: 'POST', url: `/api/notifications/${n.id}/read` });
      const missing = await api.as(intruder, {
        method: 'POST',
        url: '/api/notifications/00000000-0000-4000-8000-000000000000/read',
      });
      expect(mark.statusCode).toBe(404);
      expect(mark.json()).toEqual(missing.json());
      expect((await api.as(intruder, { method: 'POST', url: '/api/notifications/read-all' })).json()).toEqual(
        { updated: 0 },
      );
      const em = stack.orm.em.fork();
      expect((await em.findOneOrFail(Notification, { id: n.id })).readAt).toBeNull();

      // A stream only carries the subject's own feed; the owner's stream gets it.
      const ownerStream = await openStream(owner);
      const intruderStream = await openStream(intruder);
      const eventId = stack.uid('evt');
      await api.service({ method: 'POST', url: '/api/events', payload: orderCreated(eventId, owner) });
      await ownerStream.waitUntil(() => ownerStream.events.length > 0, 10_000);
      await stack.client.eventResult(eventId);
      expect(intruderStream.events).toEqual([]);
      // Heartbeats prove the intruder's stream stayed open the whole time.
      expect(intruderStream.comments).toContain('ping');

      // The shopper routes refuse service keys: a key holder is not a user.
      const withKey = await api.service({ method: 'GET', url: '/api/notifications' });
      expect(withKey.statusCode).toBe(403);
    });

    it('answers 401 for a missing, malformed, expired or wrongly signed token', async () => {
      const cases = [
        {},
        { authorization: 'Bearer not.a.jwt' },
        { authorization: `Bearer ${await token('u_1', { ttl: '-1m' })}` },
        { authorization: `Bearer ${(await token('u_1')).slice(0, -4)}AAAA` },
      ];
      for (const headers of cases) {
        const res = await api.inject({ method: 'GET', url: '/api/notifications', headers });
        expect(res.statusCode).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Bearer');
      }
      const expired = await api.inject({
        method: 'GET',
        url: '/api/notifications',
        headers: { authorization: `Bearer ${await token('u_1', { ttl: '-1m' })}` },
      });
      expect(expired.json().message).toBe('invalid token: token expired');
    });

    it('verifies asymmetric tokens against a JWKS URL, with issuer and audience', async () => {
      const { publicKey, privateKey } = await generateKeyPair('RS256');
      const stranger = await generateKeyPair('RS256');
      const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
      const jwks = createServer((_req, res) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })),
      );
      await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
      const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
      const idp = new ApiTestApp(stack);
      await idp.start({
        configure: (c) => ({
          ...c,
          api: { ...c.api, jwt: { jwksUrl, issuer: 'https://id.shop.test', audience: 'notifications' } },
        }),
      });
      const sign = (
        key: Parameters<SignJWT['sign']>[0],
        claims: { aud?: string } = { aud: 'notifications' },
      ) => {
        let jwt = new SignJWT({})
          .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
          .setSubject('u_jwks')
          .setIssuer('https://id.shop.test')
          .setExpirationTime('5m');
        if (claims.aud) jwt = jwt.setAudience(claims.aud);
        return jwt.sign(key);
      };
      const call = async (jwt: string) =>
        idp.inject({
          method: 'GET',
          url: '/api/notifications/unread-count',
          headers: { authorization: `Bearer ${jwt}` },
        });
      try {
        expect((await call(await sign(privateKey))).json()).toEqual({ count: 0 });
        const wrongAudience = await call(await sign(privateKey, { aud: 'billing' }));
        expect(wrongAudience.statusCode).toBe(401);
        expect(wrongAudience.json().message).toBe('invalid token: token claim aud invalid');
        expect((await call(await sign(stranger.privateKey))).statusCode).toBe(401);
        // An HS256 token is not accepted where keys come from a JWKS.
        expect((await call(await token('u_jwks'))).statusCode).toBe(401);
      } finally {
        await idp.close();
        await new Promise((resolve) => jwks.close(resolve));
      }
    });
  });

  describe('GET /api/notifications/stream (SSE)', () => {
    it('receives a notification created by an event within a second', async () => {
      const userId = stack.uid('u');
      await stack.createRecipient({ id: userId });
      const stream = await openStream(userId);
      expect(stream.status).toBe(200);
      expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);

      const eventId = stack.uid('evt');
      const posted = Date.now();
      const res = await api.service({
        method: 'POST',
        url: '/api/events',
        payload: orderCreated(eventId, userId),
      });
      expect(res.statusCode).toBe(202);
      // From the POST: event workflow, notification workflow, BullMQ in-app job, Redis pub/sub, SSE.
      await stream.waitUntil(() => stream.events.length > 0, 1000);
      const [event] = stream.events;
      const stored = await stack.orm.em.fork().findOneOrFail(Notification, { eventId, recipientId: userId });
      expect(event).toMatchObject({ id: stored.id, event: 'notification' });
      expect(JSON.parse(event.data)).toMatchObject({
        id: stored.id,
        title: stored.title,
        actionUrl: '/profile/orders/9',
      });
      expect(event.receivedAt - stored.deliveredAt!.getTime()).toBeLessThan(1000);
      expect(event.receivedAt - posted).toBeLessThan(1000);
    });

    it('accepts the token as ?access_token=, replays missed notifications after Last-Event-ID', async () => {
      const userId = stack.uid('u');
      await stack.createRecipient({ id: userId });
      const seen = await insertDeliveredNotification(stack, userId, {
        createdAt: new Date(Date.now() - 3000),
      });
      const missed = await insertDeliveredNotification(stack, userId, {
        createdAt: new Date(Date.now() - 1000),
      });
      const stream = await SseClient.open(
        `${api.url}/api/notifications/stream?access_token=${await token(userId)}`,
        { 'last-event-id': seen.id },
      );
      streams.push(stream);
      expect(stream.status).toBe(200);
      await stream.waitUntil(() => stream.events.length > 0, 5000);
      expect(stream.events.map((e) => e.id)).toEqual([missed.id]);
    });

    it('refuses a stream without a valid token', async () => {
      const none = await SseClient.open(`${api.url}/api/notifications/stream`);
      expect(none.status).toBe(401);
      const bad = await SseClient.open(`${api.url}/api/notifications/stream?access_token=nope`);
      expect(bad.status).toBe(401);
      expect(JSON.parse(bad.body)).toMatchObject({
        statusCode: 401,
        message: expect.stringMatching(/invalid token/),
      });
    });

    it('ends open streams when the app closes', async () => {
      const other = new ApiTestApp(stack);
      await other.start({ listen: true });
      const userId = stack.uid('u');
      const stream = await SseClient.open(`${other.url}/api/notifications/stream`, {
        authorization: `Bearer ${await token(userId)}`,
      });
      expect(stream.status).toBe(200);
      await other.close();
      await stream.waitUntil(() => stream.ended, 5000);
      expect(stream.ended).toBe(true);
    });
  });

  describe('preferences', () => {
    it('reads the full matrix, changes cells, mute and quiet hours', async () => {
      const userId = stack.uid('u');
      await stack.createRecipient({ id: userId });
      const initial = await api.as(userId, { method: 'GET', url: '/api/preferences' });
      expect(initial.statusCode).toBe(200);
      expect(initial.json()).toMatchObject({
        muted: false,
        quietHours: null,
        channels: { marketing: { email: true, sms: true }, order_updates: { email: true } },
        mandatory: { order_updates: ['in_app', 'email'] },
      });

      const changed = await api.as(userId, {
        method: 'PUT',
        url: '/api/preferences',
        payload: {
          muted: true,
          quietHours: { start: '22:00', end: '07:00', timezone: 'Europe/London' },
          channels: { marketing: { email: false, push: false }, order_updates: { sms: false } },
        },
      });
      expect(changed.statusCode).toBe(200);
      expect(changed.json()).toMatchObject({
        muted: true,
        quietHours: { start: '22:00', end: '07:00', timezone: 'Europe/London' },
        channels: {
          marketing: { email: false, push: false, sms: true },
          order_updates: { sms: false, email: true },
        },
      });
      const em = stack.orm.em.fork();
      expect(await em.count(Preference, { recipientId: userId, enabled: false })).toBe(3);
      expect(await em.findOneOrFail(Recipient, { id: userId })).toMatchObject({
        muted: true,
        quietHours: { start: '22:00' },
      });

      const back = await api.as(userId, {
        method: 'PUT',
        url: '/api/preferences',
        payload: { quietHours: null, channels: { marketing: { email: true } } },
      });
      expect(back.json()).toMatchObject({
        muted: true,
        quietHours: null,
        channels: { marketing: { email: true, push: false } },
      });
    });

    it('refuses to switch off a mandatory channel, naming it, and changes nothing', async () => {
      const userId = stack.uid('u');
      await stack.createRecipient({ id: userId });
      const res = await api.as(userId, {
        method: 'PUT',
        url: '/api/preferences',
        payload: {
          muted: true,
          channels: { payment_updates: { email: false }, marketing: { email: false } },
        },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({
        fields: ['channels.payment_updates.email'],
        message: expect.stringMatching(/mandatory/),
      });
      expect((await api.as(userId, { method: 'GET', url: '/api/preferences' })).json()).toMatchObject({
        muted: false,
        channels: { marketing: { email: true } },
      });
    });

    it('validates categories, channels and quiet hours; 404 for a user with no recipient record', async () => {
      const userId = stack.uid('u');
      await stack.createRecipient({ id: userId });
      const cases: [Record<string, unknown>, string][] = [
        [{ channels: { gossip: { email: false } } }, 'channels.gossip'],
        [{ channels: { marketing: { fax: false } } }, 'channels.marketing.fax'],
        [{ channels: { marketing: { email: 'no' } } }, 'channels.marketing.email'],
        [{ quietHours: { start: '22:00', end: '7am', timezone: 'UTC' } }, 'quietHours.end'],
        [{ quietHours: { start: '22:00', end: '07:00', timezone: 'Nowhere/City' } }, 'quietHours.timezone'],
        [{ muted: 'yes' }, 'muted'],
      ];
      for (const [payload, field] of cases) {
        const res = await api.as(userId, { method: 'PUT', url: '/api/preferences', payload });
        expect({ field, status: res.statusCode, fields: res.json().fields }).toEqual({
          field,
          status: 400,
          fields: [field],
        });
      }
      expect((await api.as(stack.uid('ghost'), { method: 'GET', url: '/api/preferences' })).statusCode).toBe(
        404,
      );
    });
  });
});

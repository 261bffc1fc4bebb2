import { Cluster, Redis } from 'ioredis';
import { parseInfoMemory } from '../../src/api/redis-backpressure';
import { Notification } from '../../src/db/entities';
import { ApiTestApp, apiTestEnv, orderCreated, token } from '../helpers/api-app';
import { childEnvFor, NodeProcess } from '../helpers/node-process';
import { SseClient } from '../helpers/api-sse';
import { PrivateRedisCluster } from '../helpers/redis-cluster';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/**
 * The whole service on a real Redis Cluster through REDIS_CLUSTER_NODES (docs/production.md, "Redis"):
 * the stack's one connection (connectRedis) is an ioredis Cluster, and the API, the workflow worker and
 * the channel workers run on it: an event reaches the inbox live over SSE (pub/sub) and the mailbox
 * (BullMQ on per-queue slots), the per-user rate limit counts in the cluster, an erasure finds the
 * shopper's session wherever it sits (SCAN on every master), the backpressure probe sees the fullest
 * master, and the channel worker process (src/bin/worker.ts) takes REDIS_CLUSTER_NODES from its env.
 * A CROSSSLOT answer would fail any of them.
 */
describe('the service on a Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  let cluster: PrivateRedisCluster;
  let stack: TestStack;
  let api: ApiTestApp;
  const streams: SseClient[] = [];

  beforeAll(async () => {
    cluster = await PrivateRedisCluster.start(3);
    stack = new TestStack({
      env: apiTestEnv({
        REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','),
        API_RATE_LIMIT_PER_USER: '5',
      }),
    });
    await stack.start();
    api = await new ApiTestApp(stack).start({ listen: true, sseHeartbeatMs: 200 });
  }, 90_000);

  afterAll(async () => {
    for (const stream of streams) stream.close();
    await api?.close();
    await stack?.stop();
    cluster?.stop();
  });

  const queueKeysOf = (channel: string) =>
    cluster.keys(`${stack.config.queuePrefix.replace(/}$/, '')}:send-${channel}}:*`);

  it('connects the stack to the cluster', () => {
    expect(stack.redis).toBeInstanceOf(Cluster);
    expect(stack.config.redisClusterNodes).toEqual(cluster.nodes);
  });

  it("delivers an event in-app over SSE and by email, each queue's keys on one master", async () => {
    const shopper = stack.uid('u');
    await stack.createRecipient({ id: shopper });
    const stream = await SseClient.open(`${api.url}/api/notifications/stream`, {
      authorization: `Bearer ${await token(shopper)}`,
    });
    streams.push(stream);
    expect(stream.status).toBe(200);

    const eventId = stack.uid('evt');
    const posted = await api.service({
      method: 'POST',
      url: '/api/events',
      payload: orderCreated(eventId, shopper),
    });
    expect(posted.statusCode).toBe(202);

    await stream.waitUntil(() => stream.events.length > 0, 20_000);
    const stored = await waitFor(async () => {
      const row = await stack.orm.em.fork().findOne(Notification, { eventId, recipientId: shopper });
      return row?.channelStates?.email?.state === 'delivered' ? row : undefined;
    }, 30_000);
    expect(stream.events[0]).toMatchObject({ id: stored.id, event: 'notification' });
    const [mail] = await stack.smtp.waitForMessages(`${shopper}@example.test`);
    expect(mail.raw).toContain(`A-${eventId.slice(-4)}`);

    // Each queue's keys sit on one master (one hash tag, one slot), whichever master that is.
    for (const channel of ['email', 'in_app'])
      expect(new Set(queueKeysOf(channel).map((k) => k.port)).size).toBe(1);
  }, 60_000);

  it('counts the per-user rate limit in the cluster: the sixth call in the window is refused', async () => {
    const shopper = stack.uid('u');
    await stack.createRecipient({ id: shopper });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await api.as(shopper, { method: 'GET', url: '/api/notifications' })).statusCode);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(await stack.redis.exists(`${stack.config.queuePrefix}:api-rate-limit:user:${shopper}`)).toBe(1);
  });

  it("erases shoppers' sessions and rate-limit counters, scanning every master", async () => {
    const sessionKeys = () => cluster.keys(`${stack.config.queuePrefix}:api-session:*`);
    // A keyless SCAN on an ioredis Cluster goes to one node picked at random: five erasures make a scan
    // of one master only miss the sessions' master in all but (1/3)^5 of the runs.
    for (let round = 0; round < 5; round++) {
      const shopper = stack.uid('u');
      await stack.createRecipient({ id: shopper });
      const signedIn = await api.inject({
        method: 'POST',
        url: '/api/session',
        payload: { token: await token(shopper) },
      });
      expect(signedIn.statusCode).toBe(200);
      expect((await api.as(shopper, { method: 'GET', url: '/api/notifications' })).statusCode).toBe(200);
      expect(sessionKeys()).toHaveLength(1);

      const erased = await api.admin({ method: 'DELETE', url: `/api/recipients/${shopper}` });
      expect(erased.statusCode).toBe(200);
      expect(erased.json()).toMatchObject({ erased: true, redisKeys: 2 });
      expect(sessionKeys()).toEqual([]);
      expect(cluster.keys(`${stack.config.queuePrefix}:api-rate-limit:user:${shopper}`)).toEqual([]);
    }
  }, 60_000);

  it('answers 429 while any one master is nearly full (INFO memory of every master, the fullest wins)', async () => {
    const shopper = stack.uid('u');
    await stack.createRecipient({ id: shopper });
    const publish = () =>
      api.service({ method: 'POST', url: '/api/events', payload: orderCreated(stack.uid('evt'), shopper) });
    const port = cluster.ports[cluster.ports.length - 1];
    const admin = new Redis({ host: '127.0.0.1', port });
    const fillers: string[] = [];
    try {
      // One master of three past REDIS_BACKPRESSURE_RATIO (80 %) with room for writes still: maxmemory 4 MB
      // above its use, then filled to 85 % with keys of its own slots (a key of another master answers MOVED).
      const memory = async () => parseInfoMemory(await admin.info('memory'));
      await admin.config('SET', 'maxmemory', String((await memory()).usedMemory + 4 * 1024 * 1024));
      for (let n = 0, filled = await memory(); filled.usedMemory < 0.85 * filled.maxMemory; n++) {
        const stored = await admin.set(`filler:{${n}}`, 'x'.repeat(128 * 1024)).catch(() => null);
        if (stored) fillers.push(`filler:{${n}}`);
        filled = await memory();
      }
      const refused = await waitFor(async () => {
        const res = await publish();
        return res.statusCode === 429 ? res : undefined;
      }, 5_000);
      expect(refused.headers['retry-after']).toBe('5');
      // Not a lucky pick of one node: every probe sees the full master. A probe's answer is kept for a
      // second, so the next probe needs that second to pass (nothing to poll for).
      for (let probe = 0; probe < 3; probe++) {
        await new Promise((resolve) => setTimeout(resolve, 1100));
        expect((await publish()).statusCode).toBe(429);
      }
      await admin.config('SET', 'maxmemory', '0');
      await waitFor(async () => ((await publish()).statusCode === 202 ? true : undefined), 5_000);
    } finally {
      for (const key of fillers) await admin.del(key);
      await admin.config('SET', 'maxmemory', '0');
      admin.disconnect();
    }
  }, 30_000);

  it('runs the email worker as a real process (src/bin/worker.ts) on the cluster', async () => {
    await stack.stopDeliveryWorkers();
    const worker = await NodeProcess.worker(
      'email',
      childEnvFor(stack.config, { METRICS_PORT: '0', DELIVERY_CHANNELS: 'email' }),
    );
    try {
      const shopper = stack.uid('u');
      await stack.createRecipient({ id: shopper });
      const eventId = await stack.publishEmail(shopper);
      const result = await stack.client.eventResult(eventId);
      expect(result.notifications[0].state).toBe('delivered');
      expect(stack.smtp.messagesTo(`${shopper}@example.test`)).toHaveLength(1);
      expect(worker.output.join('\n')).not.toMatch(/CROSSSLOT|unreachable/);
    } finally {
      expect(await worker.stop()).toEqual({ code: 0, signal: null });
    }
  }, 60_000);
});

import { randomBytes, randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { Cluster } from 'ioredis';
import { loadConfig, type Config } from '../../src/config';
import type { Channel } from '../../src/domain/channels';
import { openOrm, type Orm } from '../../src/db/orm';
import { createProviders } from '../../src/delivery/providers/create-providers';
import { SendQueues } from '../../src/delivery/send-queues';
import { LEAN_LIFECYCLE } from '../../src/release-0/notification-owner';
import { connectTemporalClient } from '../../src/runtime/connections';
import { startDeliveryWorkers, type DeliveryWorkers } from '../../src/runtime/delivery-workers';
import { PrivateRedisCluster } from '../helpers/redis-cluster';
import { SmtpPeer } from '../helpers/smtp-peer';
import { waitFor } from '../helpers/wait-for';

/**
 * The delivery path on a real Redis Cluster (three masters started here, docs/production.md, "Redis"):
 * jobs enqueued one by one and in bulk, channel workers with the email rate limiter, the live feed's
 * publish, all through an ioredis Cluster connection. With REDIS_KEY_LAYOUT=spread each queue's keys
 * hash to a slot of their own; BullMQ's multi-key scripts would fail with CROSSSLOT otherwise.
 */
describe('delivery on a Redis Cluster', () => {
  const id = randomBytes(4).toString('hex');
  const recipient = `u_cluster_${id}`;
  let cluster: PrivateRedisCluster;
  let connection: Cluster;
  let smtp: SmtpPeer;
  let config: Config;
  let orm: Orm;
  let temporalClient: Client;
  let delivery: DeliveryWorkers | null = null;
  const logs: string[] = [];

  beforeAll(async () => {
    cluster = await PrivateRedisCluster.start(3);
    connection = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: null } });
    smtp = await new SmtpPeer().start();
    config = loadConfig({
      TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
      DATABASE_URL: process.env.TEST_DATABASE_URL,
      QUEUE_PREFIX: `{cluster-${id}}`,
      SMTP_URL: smtp.url,
      SEND_EMAIL_RATE_MAX: '50',
      // A window longer than the test: the limiter key (checked for its slot at the end) expires with it.
      SEND_EMAIL_RATE_DURATION_MS: '120000',
    });
    orm = await openOrm(config.databaseUrl, { poolMax: 5 });
    temporalClient = await connectTemporalClient(config.temporal);
    await orm.em
      .fork()
      .getConnection()
      .execute(`insert into recipients (id, email) values (?, ?)`, [recipient, `${recipient}@example.test`]);
  }, 60_000);

  afterAll(async () => {
    await delivery?.close();
    await temporalClient?.connection.close();
    await orm?.close();
    connection?.disconnect();
    await smtp?.stop();
    cluster?.stop();
  });

  /** Lean-path rows with one channel queued, as an event's first step leaves them (one event per row). */
  async function sendingRows(channel: Channel, count: number, subject: string): Promise<string[]> {
    const rows: { id: string }[] = await orm.em
      .fork()
      .getConnection()
      .execute(
        `insert into notifications (event_id, recipient_id, template_code, category, priority, state, workflow_id,
          channels, content, lifecycle, channel_states)
       select ? || g, ?, 'order_created', 'order_updates', 'normal', 'sending', 'event-' || ? || g,
          ?::jsonb, ?::jsonb, ?, ?::jsonb
         from generate_series(1, ?) g
       returning id`,
        [
          `evt_cluster_${channel}_${randomUUID()}_`,
          recipient,
          `evt_cluster_${channel}`,
          JSON.stringify([channel]),
          JSON.stringify({
            email: { subject, html: `<p>${subject}</p>`, text: subject },
            in_app: { title: subject, body: 'b' },
          }),
          LEAN_LIFECYCLE,
          JSON.stringify({
            [channel]: { state: 'queued', attempts: 0, handOffs: 1, queuedAt: new Date().toISOString() },
          }),
          count,
        ],
      );
    return rows.map((r) => r.id);
  }

  const states = async (ids: string[]) =>
    (
      await orm.em
        .fork()
        .getConnection()
        .execute<{ state: string }[]>(
          `select state from notifications where id in (select (jsonb_array_elements_text(?::jsonb))::uuid)`,
          [JSON.stringify(ids)],
        )
    ).map((r) => r.state);

  it('enqueues, rate-limits and delivers through the cluster, each queue in its own slot, jobs of the single layout drained too', async () => {
    const queues = (layout: 'spread' | 'single') =>
      new SendQueues({ connection, prefix: config.queuePrefix, layout, channels: config.channels });
    // Jobs a deployment enqueued before switching to the spread layout.
    const legacy = queues('single');
    const legacyIds = await sendingRows('email', 2, `legacy ${id}`);
    for (const notificationId of legacyIds)
      await legacy.enqueue({ notificationId, channel: 'email' }, 'normal');
    await legacy.close();

    const spread = queues('spread');
    const emailIds = await sendingRows('email', 6, `spread ${id}`);
    await spread.enqueueBulk('email', emailIds.slice(0, 3), 'normal');
    for (const notificationId of emailIds.slice(3))
      await spread.enqueue({ notificationId, channel: 'email' }, 'high');
    const inAppIds = await sendingRows('in_app', 4, `feed ${id}`);
    await spread.enqueueBulk('in_app', inAppIds, 'normal');
    expect(await spread.backlog('email')).toBe(6);

    delivery = startDeliveryWorkers({
      config,
      orm,
      redis: connection,
      temporalClient,
      providers: createProviders(config, orm, connection),
      log: (line) => logs.push(line),
    });
    const all = [...legacyIds, ...emailIds, ...inAppIds];
    await waitFor(
      async () => ((await states(all)).every((s) => s === 'delivered') ? true : undefined),
      60_000,
    );
    const mails = await smtp.waitForMessages(`${recipient}@example.test`, 8);
    expect(mails.filter((m) => m.raw.includes(`Subject: legacy ${id}`))).toHaveLength(2);
    expect(mails.filter((m) => m.raw.includes(`Subject: spread ${id}`))).toHaveLength(6);
    expect(logs).toContainEqual(expect.stringContaining('channel email: 2 jobs under the single key layout'));
    expect(logs.filter((l) => /CROSSSLOT|MOVED|failed/i.test(l))).toEqual([]);
    await spread.close();

    // Each queue's keys (its limiter included) share one slot; the queues are in different slots.
    const slotOf = async (key: string) => Number(await connection.cluster('KEYSLOT', key));
    const keys = cluster.keys(`*cluster-${id}*`);
    const slots = new Map<string, Set<number>>();
    for (const { key } of keys) {
      const queue = /:send-([a-z_]+)}/.exec(key)?.[1] ?? 'single layout';
      slots.set(queue, (slots.get(queue) ?? new Set()).add(await slotOf(key)));
    }
    expect([...slots.keys()].sort()).toEqual(['email', 'in_app', 'single layout']);
    for (const [queue, of] of slots) expect({ queue, slots: of.size }).toEqual({ queue, slots: 1 });
    expect(new Set([...slots.values()].map((s) => [...s][0])).size).toBe(3);
    expect(keys.map((k) => k.key)).toContainEqual(`{cluster-${id}:send-email}:send-email:limiter`);
  });
});

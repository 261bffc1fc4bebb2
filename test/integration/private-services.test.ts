import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { Notification } from '../../src/db/entities';
import { openOrm } from '../../src/db/orm';
import { PrivatePostgres, PrivateRedis } from '../helpers/private-services';
import { TestStack } from '../helpers/test-stack';

/**
 * The private services fault tests use (test/helpers/private-services.ts): the faults really happen,
 * and a TestStack pointed at them uses them (never the machine's shared Postgres and Redis).
 */
/** Opens and closes a TCP connection to a local port (rejects with the socket's error, e.g. ECONNREFUSED). */
function tcpConnect(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end();
      resolve();
    });
    socket.once('error', reject);
  });
}

/** The error `run` rejects with; fails the test when it resolves. */
async function rejection(run: () => Promise<unknown>): Promise<Error> {
  try {
    await run();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('private services for fault tests', () => {
  let redis: PrivateRedis;
  let pg: PrivatePostgres;

  beforeAll(async () => {
    [redis, pg] = await Promise.all([PrivateRedis.start(), PrivatePostgres.start()]);
  });
  afterAll(async () => {
    await redis?.close();
    await pg?.close();
  });

  function client(): Redis {
    const r = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    r.on('error', () => undefined);
    return r;
  }

  it('Redis: refuses writes with OOM, accepts them again, flushes, stops and comes back empty on the same port', async () => {
    const r = client();
    try {
      await r.connect();
      await r.set('k', 'v');
      await redis.refuseWrites();
      expect(String(await rejection(() => r.set('k2', 'v')))).toMatch(/OOM command not allowed/);
      expect(await r.get('k')).toBe('v'); // reads still work
      await redis.acceptWrites();
      await r.set('k2', 'v');
      expect(await redis.dbsize()).toBe(2);
      await redis.flush();
      expect(await redis.dbsize()).toBe(0);
    } finally {
      r.disconnect();
    }

    const before = client();
    await before.set('k3', 'v');
    before.disconnect();
    await redis.stop();
    expect(redis.running).toBe(false);
    expect(String(await rejection(() => tcpConnect(redis.port)))).toMatch(/ECONNREFUSED/);
    const port = redis.port;
    await redis.restart();
    expect(redis.port).toBe(port);
    expect(await redis.dbsize()).toBe(0); // no persistence: a restart loses everything, as the fault intends

    await redis.stop('kill');
    expect(redis.running).toBe(false);
    await redis.restart();
    expect(await redis.dbsize()).toBe(0);
  });

  it('Postgres: a migrated database that a fast or immediate stop takes away and a restart brings back with its data', async () => {
    const url = await pg.createDatabase('faults');
    expect(url).toBe(pg.url('faults'));
    const orm = await openOrm(url, { poolMax: 2 });
    const count = async () =>
      Number(
        (await orm.em.fork().getConnection().execute('select count(*)::int as n from notifications'))[0].n,
      );
    try {
      expect(await count()).toBe(0);
      await orm.em
        .fork()
        .getConnection()
        .execute("create table fault_probe (v text); insert into fault_probe values ('kept')");

      await pg.stop('fast');
      expect(pg.running).toBe(false);
      expect(String(await rejection(() => tcpConnect(pg.port)))).toMatch(/ECONNREFUSED/);
      expect(String(await rejection(count))).toMatch(
        /ECONNREFUSED|terminating connection|Connection terminated/,
      );
      await pg.restart();
      expect(await count()).toBe(0); // the pool reconnects on the same URL

      await pg.stop('immediate');
      expect(String(await rejection(count))).toMatch(
        /ECONNREFUSED|terminating connection|Connection terminated/,
      );
      await pg.restart();
      expect((await orm.em.fork().getConnection().execute('select v from fault_probe'))[0].v).toBe('kept');
    } finally {
      await orm.close();
    }
    expect(String(await rejection(() => pg.createDatabase('Bad-Name')))).toMatch(
      /database name "Bad-Name" must match/,
    );
  });

  it('a TestStack with DATABASE_URL and REDIS_URL of the private services delivers through them only', async () => {
    const stack = new TestStack({
      env: { DATABASE_URL: await pg.createDatabase('stack'), REDIS_URL: redis.url },
    });
    await stack.start();
    try {
      const userId = stack.uid('u');
      await stack.createRecipient({ id: userId });
      const eventId = await stack.publishEmail(userId);
      expect((await stack.client.eventResult(eventId)).notifications[0].state).toBe('delivered');
      await stack.smtp.waitForMessages(`${userId}@example.test`, 1);

      const orm = await openOrm(pg.url('stack'), { poolMax: 1 });
      try {
        expect(await orm.em.fork().count(Notification, { eventId })).toBe(1);
      } finally {
        await orm.close();
      }
      expect(await redis.dbsize()).toBeGreaterThan(0); // the BullMQ queues live in the private Redis
      const shared = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
        lazyConnect: true,
        maxRetriesPerRequest: 1,
      });
      try {
        expect(await stack.queueKeys(shared)).toEqual([]);
      } finally {
        shared.disconnect();
      }
    } finally {
      await stack.stop();
    }
  });
});

import { Queue } from 'bullmq';
import { DeliveryAttempt, Notification } from '../../src/db/entities';
import { sendJobId } from '../../src/domain/channels';
import { openOrm, type Orm } from '../../src/db/orm';
import { PostgresRecovery } from '../../src/delivery/infrastructure-recovery';
import { TwilioSmsProvider } from '../../src/delivery/providers/twilio-sms-provider';
import { PrivatePostgres, PrivateRedis } from '../helpers/private-services';
import { startTwilioStandIn } from '../helpers/provider-stand-ins';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/**
 * I4 in the channel workers (docs/contracts.md, "BullMQ", infrastructure errors): an outage of our
 * own Postgres or Redis never spends a delivery attempt nor fails a job. Real faults on a private
 * Postgres cluster and a private Redis: stopped, backends terminated, writes refused.
 */

/** How long Postgres stays down: longer than the whole attempt budget the channels have in this test. */
const OUTAGE_MS = 6_000;
const NOTIFICATIONS = 8;

describe('channel workers while our own infrastructure fails', () => {
  let pg: PrivatePostgres;
  let redis: PrivateRedis;
  let stack: TestStack;
  const lines: string[] = [];

  beforeAll(async () => {
    [pg, redis] = await Promise.all([PrivatePostgres.start(), PrivateRedis.start()]);
    stack = new TestStack({
      env: {
        DATABASE_URL: await pg.createDatabase('worker_faults'),
        // Small provider budgets (about 3 s of retries in all): spending them on the outage would fail every job.
        SEND_IN_APP_BACKOFF_MS: '200',
        SEND_EMAIL_BACKOFF_MS: '200',
        SEND_EMAIL_ATTEMPTS: '4',
      },
      deliveryWorkers: false,
    });
    await stack.start();
  });
  afterAll(async () => {
    await stack?.stop();
    await pg?.close();
    await redis?.close();
    if (lines.length) process.stdout.write(`${lines.join('\n')}\n`);
  });

  it('Postgres stopped: every in-app and email notification is delivered once, with no attempt spent and no failed attempt recorded', async () => {
    const userIds = Array.from({ length: NOTIFICATIONS }, () => stack.uid('u'));
    await Promise.all(userIds.map((id) => stack.createRecipient({ id })));
    const eventIds = await Promise.all(
      userIds.map(async (userId) => {
        const id = stack.uid('evt');
        await stack.client.publishNotification({
          id,
          userId,
          templateCode: 'order_created',
          variables: { orderNumber: id, total: 5, currency: 'INR' },
          options: { channels: ['in_app', 'email'] },
        });
        return id;
      }),
    );
    // Every job is in its queue before the outage; the workers start while Postgres is down.
    await waitFor(
      async () =>
        (await stack.queues.backlog('in_app')) >= NOTIFICATIONS &&
        (await stack.queues.backlog('email')) >= NOTIFICATIONS
          ? true
          : undefined,
      30_000,
    );
    const em = () => stack.orm.em.fork();
    const notificationIds = (await em().find(Notification, { eventId: { $in: eventIds } })).map((n) => n.id);
    expect(notificationIds).toHaveLength(NOTIFICATIONS);

    await pg.stop('fast');
    stack.startDeliveryWorkers();
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    await pg.restart();
    const restartedAt = Date.now();

    const finals = await waitFor(
      async () => {
        const rows = await em().find(Notification, { id: { $in: notificationIds } });
        return rows.every((n) =>
          ['in_app', 'email'].every((c) =>
            ['delivered', 'failed', 'expired'].includes(n.channelStates[c as 'email']?.state ?? ''),
          ),
        )
          ? rows
          : undefined;
      },
      45_000,
      250,
    );
    for (const n of finals) {
      expect({ id: n.id, inApp: n.channelStates.in_app?.state, email: n.channelStates.email?.state }).toEqual(
        { id: n.id, inApp: 'delivered', email: 'delivered' },
      );
    }

    const attempts = await em().find(DeliveryAttempt, { notificationId: { $in: notificationIds } });
    expect(attempts.filter((a) => a.status === 'failed').map((a) => a.error)).toEqual([]);
    const delivered = attempts.filter((a) => a.status === 'delivered');
    expect(delivered).toHaveLength(2 * NOTIFICATIONS);
    // The outage spent nothing: each send is the channel's first attempt, in Postgres and in BullMQ.
    expect(delivered.map((a) => a.attempt)).toEqual(delivered.map(() => 1));
    for (const channel of ['in_app', 'email'] as const) {
      for (const id of notificationIds) {
        const job = await stack.queues.queue(channel).getJob(sendJobId(id, channel));
        // BullMQ counts the run that completed: 1 is the send itself, the outage's retries are not there.
        expect({ job: job?.id, state: await job?.getState(), attemptsMade: job?.attemptsMade }).toEqual({
          job: sendJobId(id, channel),
          state: 'completed',
          attemptsMade: 1,
        });
      }
    }
    for (const userId of userIds) await stack.smtp.waitForMessages(`${userId}@example.test`, 1);
    expect(stack.smtp.messages).toHaveLength(NOTIFICATIONS);

    // How long after Postgres answered again each send went out: the workers' probe promotes the waiting jobs within about a second.
    const waits = delivered.map((a) => a.startedAt.getTime() - restartedAt).sort((a, b) => a - b);
    lines.push(
      `worker faults: ${OUTAGE_MS} ms Postgres outage; sends after restart: min ${waits[0]} ms, median ${waits[Math.floor(waits.length / 2)]} ms, max ${waits[waits.length - 1]} ms`,
    );
    expect(waits[waits.length - 1]).toBeLessThan(5_000);
  });
  it("in-app: Postgres cutting the provider's own write (its connection terminated) is ours: no failed attempt, delivered as attempt 1", async () => {
    await stack.stopDeliveryWorkers();
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const eventId = stack.uid('evt');
    await stack.client.publishNotification({
      id: eventId,
      userId,
      templateCode: 'order_created',
      variables: { orderNumber: eventId, total: 5, currency: 'INR' },
      options: { channels: ['in_app'] },
    });
    await waitFor(async () => ((await stack.queues.backlog('in_app')) >= 1 ? true : undefined), 30_000);
    const { notification } = await stack.deliveryAttempts(eventId, userId);
    // A share lock lets the claim (FOR SHARE) through but holds the provider's UPDATE of the row.
    const trx = await stack.orm.em.getConnection().getKnex().transaction();
    await trx.raw('select 1 from notifications where id = ? for share', [notification.id]);
    const sql = (query: string) => stack.orm.em.fork().getConnection().execute(query);
    const providerWrite = `wait_event_type = 'Lock' and query like 'update notifications set delivered_at%'`;
    stack.startDeliveryWorkers();
    try {
      await waitFor(
        async () =>
          (await sql(`select 1 from pg_stat_activity where ${providerWrite}`)).length === 1
            ? true
            : undefined,
        15_000,
      );
      await sql(`select pg_terminate_backend(pid) from pg_stat_activity where ${providerWrite}`);
      await waitFor(
        async () =>
          (await stack.queues.queue('in_app').getJob(sendJobId(notification.id, 'in_app')))?.delay
            ? true
            : undefined,
        5_000,
      ).catch(() => undefined);
    } finally {
      await trx.commit();
    }
    const done = await waitFor(
      async () => {
        const found = await stack.deliveryAttempts(eventId, userId);
        return found.notification.channelStates.in_app?.state === 'delivered' ? found.attempts : undefined;
      },
      20_000,
      250,
    );
    expect(done.map((a) => ({ status: a.status, attempt: a.attempt }))).toEqual([
      { status: 'delivered', attempt: 1 },
    ]);
  });

  it('Redis refusing writes twice while a send waits on Postgres: the job is neither failed nor charged, and sent once', async () => {
    // Its own database (a table lock below must not touch the other test's) and its queues in the private Redis.
    const url = await pg.createDatabase('redis_faults');
    const redisStack = new TestStack({
      env: { DATABASE_URL: url, REDIS_URL: redis.url, DELIVERY_DEADLINE_MS: '120000' },
      lockDurationMs: 1000,
      deliveryWorkers: false,
    });
    await redisStack.start();
    const admin: Orm = await openOrm(url, { poolMax: 2 });
    try {
      const userId = redisStack.uid('u');
      await redisStack.createRecipient({ id: userId });
      const eventId = await redisStack.publishEmail(userId);
      await waitFor(async () => ((await redisStack.queues.backlog('email')) >= 1 ? true : undefined), 30_000);
      const { notification } = await redisStack.deliveryAttempts(eventId, userId);

      // Every send blocks on its first read of the notification while this transaction holds the table.
      const locker = admin.em.getConnection().getKnex();
      const trx = await locker.transaction();
      await trx.raw('lock table notifications in access exclusive mode');
      const sql = (query: string) => admin.em.fork().getConnection().execute(query);
      const blockedSends = async () =>
        (
          await sql(
            `select pid from pg_stat_activity where wait_event_type = 'Lock' and query like '%from notifications n left join recipients r%'`,
          )
        ).map((r) => Number(r.pid));
      redisStack.startDeliveryWorkers();
      try {
        await waitFor(async () => ((await blockedSends()).length === 1 ? true : undefined), 15_000);
        // Twice (BullMQ's default tolerates one stall): Redis refuses writes until the job's lock is gone, the blocked
        // send's connection is cut (its error can go nowhere: Redis refuses the move), then Redis takes writes again.
        for (let round = 1; round <= 2; round++) {
          await redis.refuseWrites();
          await new Promise((resolve) => setTimeout(resolve, 2_500));
          await sql(
            `select pg_terminate_backend(pid) from pg_stat_activity where wait_event_type = 'Lock' and query like '%from notifications n left join recipients r%'`,
          );
          await waitFor(async () => ((await blockedSends()).length === 0 ? true : undefined), 5_000);
          await redis.acceptWrites();
          // The stall check puts the job back and it runs again (blocked again on the table); BullMQ's default would fail it.
          const job = () => redisStack.queues.queue('email').getJob(sendJobId(notification.id, 'email'));
          const next = await waitFor(async () => {
            if ((await blockedSends()).length === 1) return 'ran again';
            const j = await job();
            return (await j?.getState()) === 'failed' ? `failed: ${j?.failedReason}` : undefined;
          }, 15_000);
          expect({ round, next }).toEqual({ round, next: 'ran again' });
        }
      } finally {
        await trx.commit();
      }

      await redisStack.smtp.waitForMessages(`${userId}@example.test`, 1);
      const done = await waitFor(async () => {
        const { notification: n, attempts } = await redisStack.deliveryAttempts(eventId, userId);
        return n.channelStates.email?.state === 'delivered' ? attempts : undefined;
      }, 20_000);
      expect(done.map((a) => ({ status: a.status, attempt: a.attempt }))).toEqual([
        { status: 'delivered', attempt: 1 },
      ]);
      const job = await redisStack.queues.queue('email').getJob(sendJobId(notification.id, 'email'));
      expect({ state: await job?.getState(), attemptsMade: job?.attemptsMade }).toEqual({
        state: 'completed',
        attemptsMade: 1,
      });
      expect(redisStack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(1);
    } finally {
      await redisStack.stop();
      await admin.close();
    }
  });
  it('PostgresRecovery promotes the jobs put back for Postgres once the probe answers, and not before', async () => {
    const queue = new Queue('recovery-probe', {
      connection: { host: '127.0.0.1', port: redis.port },
      prefix: `{recovery-${stack.id}}`,
    });
    let postgresUp = false;
    const logged: string[] = [];
    const recovery = new PostgresRecovery(
      async () => {
        if (!postgresUp) throw new Error('connect ECONNREFUSED');
      },
      (line) => logged.push(line),
      200,
    );
    try {
      const job = await queue.add('send', { n: 1 }, { delay: 60_000 });
      recovery.add(job, Date.now() + 60_000);
      await new Promise((resolve) => setTimeout(resolve, 800));
      expect(await job.getState()).toBe('delayed');
      postgresUp = true;
      await waitFor(
        async () => ((await job.getState()) === 'waiting' && logged.length > 0 ? true : undefined),
        3_000,
      );
      expect(recovery.size).toBe(0);
      expect(logged).toEqual([
        'Postgres answers again: 1 job(s) put back for it run now instead of waiting out their backoff',
      ]);
    } finally {
      recovery.stop();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
  it('sms: a claim Postgres would not release after a failed Twilio call is released by the next attempt, not taken over as "outcome unknown"', async () => {
    const STALE_MS = 3_000;
    const twilio = await startTwilioStandIn();
    const smsStack = new TestStack({
      env: {
        DATABASE_URL: await pg.createDatabase('claim_faults'),
        SEND_RECORD_STALE_MS: String(STALE_MS),
        SMTP_TIMEOUT_MS: '2000',
        HTTP_PROVIDER_TIMEOUT_MS: '2000',
        SEND_SMS_BACKOFF_MS: '200',
        SEND_SMS_RATE_MAX: '0',
        DELIVERY_DEADLINE_MS: '120000',
      },
      providers: () => ({
        sms: new TwilioSmsProvider({
          baseUrl: twilio.url,
          accountSid: 'AC_faults',
          authToken: 'token',
          from: '+15005550001',
          timeoutMs: 2_000,
        }),
      }),
    });
    await smsStack.start();
    try {
      const userId = smsStack.uid('u');
      await smsStack.createRecipient({ id: userId, phone: '+919800000888' });
      const held = twilio.holdNext();
      const eventId = smsStack.uid('evt');
      await smsStack.client.publishNotification({
        id: eventId,
        userId,
        templateCode: 'order_shipped',
        variables: { orderNumber: eventId },
        options: { channels: ['sms'] },
      });
      await held.arrived;
      // Twilio fails the call (503) while Postgres is down: the worker cannot give its claim back.
      await pg.stop('fast');
      held.release({ status: 503, body: '{"message":"unavailable"}' });
      // Longer than the claim lives: without the remembered claim, the next attempt would take it over as a dead worker's.
      await new Promise((resolve) => setTimeout(resolve, STALE_MS + 1_000));
      await pg.restart();

      const { notification, attempts } = await waitFor(
        async () => {
          const found = await smsStack.deliveryAttempts(eventId, userId);
          return ['delivered', 'failed'].includes(found.notification.channelStates.sms?.state ?? '')
            ? found
            : undefined;
        },
        30_000,
        250,
      );
      expect({
        state: notification.channelStates.sms?.state,
        error: notification.channelStates.sms?.error,
      }).toEqual({ state: 'delivered', error: undefined });
      expect(attempts.map((a) => a.status)).not.toContain('interrupted');
      expect(twilio.requests.filter((r) => r.body.includes('919800000888'))).toHaveLength(2);
      const job = await smsStack.queues.queue('sms').getJob(sendJobId(notification.id, 'sms'));
      expect(job?.data.releasedClaim).toMatch(/\//);
      // The 503 spent one attempt (the provider's answer); the outage none.
      expect(attempts.filter((a) => a.status === 'delivered').map((a) => a.attempt)).toEqual([2]);
    } finally {
      if (!pg.running) await pg.restart();
      await smsStack.stop();
      await twilio.close();
    }
  });
});

import type { Channel } from '../../src/domain/channels';
import { sendJobId } from '../../src/domain/channels';
import { DeliveryAttempt, Notification, SendRecord } from '../../src/db/entities';
import { TwilioSmsProvider } from '../../src/delivery/providers/twilio-sms-provider';
import { WebhookProvider } from '../../src/delivery/providers/webhook-provider';
import { startDeliveryWorkers } from '../../src/runtime/delivery-workers';
import {
  LOCAL_STAND_IN_POLICY,
  startTwilioStandIn,
  startWebhookReceiver,
  type HttpStandIn,
} from '../helpers/provider-stand-ins';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';
import { childEnvFor, NodeProcess } from '../helpers/node-process';

describe('delivery fabric: failure handling', () => {
  let twilio: HttpStandIn;
  let receiver: HttpStandIn;
  const sms = () =>
    new TwilioSmsProvider({
      baseUrl: twilio.url,
      accountSid: 'AC_fail',
      authToken: 'token',
      from: '+15005550001',
    });
  const stack = new TestStack({
    env: {
      SEND_WEBHOOK_ATTEMPTS: '3',
      SEND_WEBHOOK_BACKOFF_MS: '100',
      SEND_SMS_ATTEMPTS: '3',
      SEND_SMS_BACKOFF_MS: '100',
      // Rate limiter off: a provider's 429 must still pause the queue for every worker.
      SEND_SMS_RATE_MAX: '0',
    },
    providers: () => ({
      sms: sms(),
      webhook: new WebhookProvider({ secret: 'whsec_delivery_failures_test', policy: LOCAL_STAND_IN_POLICY }),
    }),
  });

  beforeAll(async () => {
    [twilio, receiver] = await Promise.all([startTwilioStandIn(), startWebhookReceiver()]);
    await stack.start();
  });
  afterAll(async () => {
    await stack.stop();
    await Promise.all([twilio.close(), receiver.close()]);
  });

  async function publish(userId: string, channels: Channel[]): Promise<string> {
    const eventId = stack.uid('evt');
    await stack.client.publishNotification({
      id: eventId,
      userId,
      templateCode: 'order_shipped',
      variables: { orderNumber: eventId },
      options: { channels },
    });
    return eventId;
  }

  async function deliveryOf(eventId: string, userId: string) {
    const result = await stack.client.eventResult(eventId);
    const status = await stack.client.status(eventId, userId);
    const em = stack.orm.em.fork();
    const notification = await em.findOneOrFail(Notification, { eventId, recipientId: userId });
    const attempts = await em.find(
      DeliveryAttempt,
      { notificationId: notification.id },
      { orderBy: { startedAt: 'asc' } },
    );
    return { state: result.notifications[0].state, status, notification, attempts };
  }

  it('retries a transient failure (503) with backoff, then delivers with the same idempotency key', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId, webhookUrl: `${receiver.url}/hooks/${userId}` });
    receiver.respondTo(`/hooks/${userId}`, 503, 'try later');
    const eventId = await publish(userId, ['webhook']);
    const { state, status, attempts, notification } = await deliveryOf(eventId, userId);

    expect(state).toBe('delivered');
    expect(status.channels.webhook).toMatchObject({ state: 'delivered', attempts: 2 });
    expect(attempts.map((a) => [a.status, a.attempt, a.error])).toEqual([
      ['failed', 1, 'http-webhook responded 503'],
      ['delivered', 2, null],
    ]);
    const requests = receiver.requests.filter((r) => r.path === `/hooks/${userId}`);
    expect(requests.map((r) => r.headers['idempotency-key'])).toEqual([
      `${notification.id}.webhook`,
      `${notification.id}.webhook`,
    ]);
    // Backoff 100 ms with jitter 0.5: the retry waits at least 50 ms.
    expect(requests[1].receivedAt - requests[0].receivedAt).toBeGreaterThanOrEqual(45);
  }, 15_000);

  it('fails a permanent error (400) at once, without retrying', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId, phone: '+15005550100' });
    twilio.respondWith(400, JSON.stringify({ code: 21211, message: "The 'To' number is not valid." }));
    const eventId = await publish(userId, ['sms']);
    const { state, status, attempts, notification } = await deliveryOf(eventId, userId);

    expect(state).toBe('failed');
    expect(status.channels.sms).toMatchObject({
      state: 'failed',
      attempts: 1,
      error: expect.stringContaining('21211'),
    });
    expect(attempts.map((a) => [a.status, a.attempt])).toEqual([['failed', 1]]);
    const job = await stack.queues.queue('sms').getJob(sendJobId(notification.id, 'sms'));
    // Failed for good after one attempt of three: no retry is scheduled.
    expect(await job!.getState()).toBe('failed');
    expect(job!.attemptsMade).toBe(1);
    expect(
      twilio.requests.filter((r) => new URLSearchParams(r.body).get('To') === '+15005550100'),
    ).toHaveLength(1);
  }, 15_000);

  it('honours 429 Retry-After: the queue pauses for every worker, and no attempt is spent', async () => {
    const first = stack.uid('u');
    const second = stack.uid('u');
    await stack.createRecipient({ id: first, phone: '+15005550101' });
    await stack.createRecipient({ id: second, phone: '+15005550102' });
    twilio.respondWith(429, '{"code":20429,"message":"Too Many Requests"}', { 'retry-after': '1' });
    const before = twilio.requests.length;
    const firstEvent = await publish(first, ['sms']);
    const [limited] = await twilio.waitForRequests(before + 1).then((all) => all.slice(before));
    await waitFor(async () =>
      (await stack.orm.em.fork().count(DeliveryAttempt, { channel: 'sms', status: 'rate_limited' })) > 0
        ? true
        : undefined,
    );

    // The worker that heard the 429 goes away; a fresh one (as in another process) must honour the pause too.
    await stack.stopDeliveryWorkers();
    const other = startDeliveryWorkers({
      config: { ...stack.config, deliveryChannels: ['sms'] },
      orm: stack.orm,
      redis: stack.redis,
      temporalClient: stack.temporalClient,
      providers: { sms: sms() },
    });
    try {
      const secondEvent = await publish(second, ['sms']);
      const a = await deliveryOf(firstEvent, first);
      const b = await deliveryOf(secondEvent, second);

      expect([a.state, b.state]).toEqual(['delivered', 'delivered']);
      expect(a.status.channels.sms).toMatchObject({ state: 'delivered', attempts: 1 });
      expect(a.attempts.map((x) => [x.status, x.attempt])).toEqual([
        ['rate_limited', 1],
        ['delivered', 1],
      ]);
      const later = twilio.requests.slice(before + 1);
      expect(later).toHaveLength(2);
      for (const request of later)
        expect(request.receivedAt - limited.receivedAt).toBeGreaterThanOrEqual(1000);
    } finally {
      await other.close();
      stack.startDeliveryWorkers();
    }
  }, 20_000);

  it('keeps exhausted jobs as failed jobs, and `retry-failed` sends them once more', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId, webhookUrl: `${receiver.url}/exhausted/${userId}` });
    receiver.respondTo(`/exhausted/${userId}`, 502, 'bad gateway', {}, 3);
    const eventId = await publish(userId, ['webhook']);
    const { state, status, notification } = await deliveryOf(eventId, userId);

    expect(state).toBe('failed');
    expect(status.channels.webhook).toMatchObject({
      state: 'failed',
      attempts: 3,
      error: 'http-webhook responded 502',
    });
    const jobId = sendJobId(notification.id, 'webhook');
    const job = await stack.queues.queue('webhook').getJob(jobId);
    expect(await job!.getState()).toBe('failed');
    expect(job!.attemptsMade).toBe(3);
    expect(job!.failedReason).toBe('http-webhook responded 502');

    const command = new NodeProcess(
      'src/bin/retry-failed.ts',
      ['--channel=webhook', `--job=${jobId}`],
      childEnvFor(stack.config),
    );
    expect(await command.exited).toEqual({ code: 0, signal: null });
    expect(command.output).toEqual([
      expect.stringMatching(new RegExp(`^retried  send-webhook ${jobId} attempts=3 `)),
      '1 failed job(s) retried',
    ]);

    const record = await waitFor(async () => {
      const row = await stack.orm.em
        .fork()
        .findOne(SendRecord, { notificationId: notification.id, channel: 'webhook' });
      return row?.status === 'sent' ? row : undefined;
    });
    expect(record.status).toBe('sent');
    await waitFor(async () => ((await job!.getState()) === 'completed' ? true : undefined));
    const attempts = await stack.orm.em
      .fork()
      .find(DeliveryAttempt, { notificationId: notification.id }, { orderBy: { startedAt: 'asc' } });
    expect(attempts.map((a) => [a.status, a.attempt])).toEqual([
      ['failed', 1],
      ['failed', 2],
      ['failed', 3],
      ['delivered', 4],
    ]);
    expect(receiver.requests.filter((r) => r.path === `/exhausted/${userId}`)).toHaveLength(4);
  }, 30_000);
});

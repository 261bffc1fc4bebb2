import { createHmac } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Channel } from '../../src/domain/channels';
import {
  DeliveryAttempt,
  Notification,
  Preference,
  PushSubscription,
  SendRecord,
} from '../../src/db/entities';
import { inAppFeedChannel } from '../../src/delivery/providers/in-app-provider';
import { TwilioSmsProvider } from '../../src/delivery/providers/twilio-sms-provider';
import { generateVapidKeys, WebPushProvider } from '../../src/delivery/providers/web-push-provider';
import { verifyWebhookSignature, WebhookProvider } from '../../src/delivery/providers/webhook-provider';
import {
  PushSubscriber,
  startPushServiceStandIn,
  startTwilioStandIn,
  startWebhookReceiver,
  verifyVapidAuthorization,
  type HttpStandIn,
  LOCAL_STAND_IN_POLICY,
} from '../helpers/provider-stand-ins';
import { TestStack } from '../helpers/test-stack';

/** Every channel through the real workflow: publishNotification -> notificationWorkflow -> BullMQ -> provider stand-in. */
describe('delivery fabric: each channel delivers', () => {
  const webhookSecret = 'whsec_delivery_channels_test';
  const vapid = { subject: 'mailto:ops@shop.example', ...generateVapidKeys() };
  let twilio: HttpStandIn;
  let pushService: HttpStandIn;
  let receiver: HttpStandIn;
  const stack = new TestStack({
    providers: () => ({
      sms: new TwilioSmsProvider({
        baseUrl: twilio.url,
        accountSid: 'AC_test',
        authToken: 'token',
        from: '+15005550001',
      }),
      push: new WebPushProvider({ vapid, policy: LOCAL_STAND_IN_POLICY }),
      webhook: new WebhookProvider({ secret: webhookSecret, policy: LOCAL_STAND_IN_POLICY }),
    }),
  });

  beforeAll(async () => {
    [twilio, pushService, receiver] = await Promise.all([
      startTwilioStandIn(),
      startPushServiceStandIn(),
      startWebhookReceiver(),
    ]);
    await stack.start();
  });
  afterAll(async () => {
    await stack.stop();
    await Promise.all([twilio.close(), pushService.close(), receiver.close()]);
  });

  /** Publishes a direct send on the given channels and waits for the notification workflow to finish. */
  async function send(userId: string, channels: Channel[], templateCode = 'order_shipped') {
    const eventId = stack.uid('evt');
    await stack.client.publishNotification({
      id: eventId,
      userId,
      templateCode,
      variables: { orderNumber: `A-${eventId}`, total: 10, currency: 'INR' },
      options: { channels },
    });
    const result = await stack.client.eventResult(eventId);
    const status = await stack.client.status(eventId, userId);
    const em = stack.orm.em.fork();
    const notification = await em.findOneOrFail(Notification, { eventId, recipientId: userId });
    const attempts = await em.find(
      DeliveryAttempt,
      { notificationId: notification.id },
      { orderBy: { startedAt: 'asc' } },
    );
    return { eventId, state: result.notifications[0].state, status, notification, attempts };
  }

  async function addPushSubscription(userId: string, subscriber: PushSubscriber): Promise<void> {
    const em = stack.orm.em.fork();
    const { endpoint, keys } = subscriber.subscription;
    em.create(PushSubscription, {
      recipientId: userId,
      endpoint,
      p256dh: keys.p256dh,
      auth: keys.auth,
      createdAt: new Date(),
    });
    await em.flush();
  }

  it('in_app: stores the notification and pushes it to the live feed', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const feed = new Redis(stack.config.redisUrl);
    const received: string[] = [];
    feed.on('message', (_channel, message) => received.push(message));
    await feed.subscribe(inAppFeedChannel(stack.config.queuePrefix, userId));
    try {
      const { state, status, notification, attempts } = await send(userId, ['in_app']);
      expect(state).toBe('delivered');
      expect(status.channels.in_app).toMatchObject({ state: 'delivered', attempts: 1 });
      expect(notification.deliveredAt).toBeInstanceOf(Date);
      expect(attempts.map((a) => [a.channel, a.status, a.provider])).toEqual([
        ['in_app', 'delivered', 'postgres'],
      ]);
      expect(received.map((m) => JSON.parse(m))).toEqual([
        expect.objectContaining({
          id: notification.id,
          title: `Order ${notification.data.orderNumber} shipped`,
        }),
      ]);
    } finally {
      feed.disconnect();
    }
  });

  it('email: one SMTP message with a deterministic Message-ID', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const { state, notification, attempts } = await send(userId, ['email']);
    expect(state).toBe('delivered');
    const [mail] = stack.smtp.messagesTo(`${userId}@example.test`);
    expect(mail.raw).toContain(`Subject: Your order ${notification.data.orderNumber} has shipped`);
    expect(mail.raw).toContain(`Message-ID: <${notification.id}.email@shop.local>`);
    expect(mail.raw).toMatch(new RegExp(`^X-Notification-Id: ${notification.id}$`, 'im'));
    expect(attempts).toEqual([
      expect.objectContaining({
        channel: 'email',
        status: 'delivered',
        attempt: 1,
        providerMessageId: `<${notification.id}.email@shop.local>`,
      }),
    ]);
  });

  it('sms: Twilio Messages API with the idempotency token; the send record keeps the message sid', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId, phone: '+15005550006' });
    const before = twilio.requests.length;
    const { state, status, notification } = await send(userId, ['sms']);
    expect(state).toBe('delivered');
    const requests = twilio.requests.slice(before);
    expect(requests).toHaveLength(1);
    expect(requests[0].path).toBe('/2010-04-01/Accounts/AC_test/Messages.json');
    expect(requests[0].headers['i-twilio-idempotency-token']).toBe(`${notification.id}.sms`);
    expect(Object.fromEntries(new URLSearchParams(requests[0].body))).toEqual({
      To: '+15005550006',
      From: '+15005550001',
      Body: `Order ${notification.data.orderNumber} has shipped.`,
    });
    expect(status.channels.sms).toMatchObject({
      state: 'delivered',
      attempts: 1,
      providerMessageId: expect.stringMatching(/^SM[0-9a-f]{32}$/),
    });
    const record = await stack.orm.em
      .fork()
      .findOneOrFail(SendRecord, { notificationId: notification.id, channel: 'sms' });
    expect(record).toMatchObject({
      status: 'sent',
      providerMessageId: status.channels.sms!.providerMessageId,
    });
  });

  it('push: an encrypted Web Push message with VAPID to the stored subscription', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const device = new PushSubscriber(`${pushService.url}/push/${userId}`);
    await addPushSubscription(userId, device);
    const { state, notification } = await send(userId, ['push']);
    expect(state).toBe('delivered');
    const [req] = pushService.requests.filter((r) => r.path === `/push/${userId}`);
    expect(verifyVapidAuthorization(req.headers.authorization, vapid.publicKey)).toMatchObject({
      sub: vapid.subject,
    });
    expect(JSON.parse(device.decrypt(req.rawBody))).toMatchObject({
      title: 'Order shipped',
      body: `Order ${notification.data.orderNumber} is on its way.`,
      notificationId: notification.id,
    });
  });

  it('webhook: a signed JSON POST that verifies with the documented recipe', async () => {
    const userId = stack.uid('u');
    // The endpoint's own secret signs, not the tenant's WEBHOOK_SECRET.
    const endpointSecret = `whsec_endpoint_${userId}`;
    await stack.createRecipient({
      id: userId,
      webhookUrl: `${receiver.url}/hooks/${userId}`,
      webhookSecret: endpointSecret,
    });
    const { state, notification } = await send(userId, ['webhook']);
    expect(state).toBe('delivered');
    const [req] = receiver.requests.filter((r) => r.path === `/hooks/${userId}`);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['x-notification-id']).toBe(notification.id);
    expect(req.headers['idempotency-key']).toBe(`${notification.id}.webhook`);
    // docs/webhooks.md recipe: v1=<hex HMAC-SHA256(secret, `${X-Notification-Id}.${X-Notification-Timestamp}.${raw body}`)>, timestamp within 5 minutes.
    const timestamp = req.headers['x-notification-timestamp'] as string;
    expect(Math.abs(Date.now() / 1000 - Number(timestamp))).toBeLessThan(300);
    const expected = createHmac('sha256', endpointSecret)
      .update(`${notification.id}.${timestamp}.${req.rawBody.toString('utf8')}`)
      .digest('hex');
    expect(req.headers['x-notification-signature']).toBe(`v1=${expected}`);
    expect(verifyWebhookSignature(endpointSecret, req.headers, req.rawBody)).toBe(true);
    expect(verifyWebhookSignature(webhookSecret, req.headers, req.rawBody)).toBe(false);
    expect(JSON.parse(req.body)).toMatchObject({
      eventId: notification.eventId,
      userId,
      templateCode: 'order_shipped',
      data: notification.data,
    });
  });

  it('push -> sms: every subscription gone (410) removes them, fails push for good and falls back to sms', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId, phone: '+15005550007' });
    await addPushSubscription(userId, new PushSubscriber(`${pushService.url}/gone/${userId}`));
    pushService.respondTo(`/gone/${userId}`, 410, 'push subscription has unsubscribed or expired.');
    const { state, status, attempts } = await send(userId, ['push']);

    expect(status.channels.push).toMatchObject({
      state: 'failed',
      attempts: 1,
      error: 'all push subscriptions expired',
      reason: 'fell back to sms',
    });
    expect(status.channels.sms).toMatchObject({
      state: 'delivered',
      attempts: 1,
      reason: 'fallback for push',
    });
    expect(state).toBe('delivered');
    expect(attempts.map((a) => [a.channel, a.status])).toEqual([
      ['push', 'failed'],
      ['sms', 'delivered'],
    ]);
    expect(
      twilio.requests.filter((r) => new URLSearchParams(r.body).get('To') === '+15005550007'),
    ).toHaveLength(1);
    expect(await stack.orm.em.fork().count(PushSubscription, { recipientId: userId })).toBe(0);
  });

  it('push -> sms: no fallback to a channel the recipient switched off', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId, phone: '+15005550009' });
    const em = stack.orm.em.fork();
    em.create(Preference, {
      recipientId: userId,
      category: 'order_updates',
      channel: 'sms',
      enabled: false,
      updatedAt: new Date(),
    });
    await em.flush();
    await addPushSubscription(userId, new PushSubscriber(`${pushService.url}/gone/${userId}`));
    pushService.respondTo(`/gone/${userId}`, 410, '');
    const { state, status } = await send(userId, ['push']);
    expect(state).toBe('failed');
    expect(status.channels).toEqual({
      push: expect.objectContaining({ state: 'failed', error: 'all push subscriptions expired' }),
    });
    expect(
      twilio.requests.filter((r) => new URLSearchParams(r.body).get('To') === '+15005550009'),
    ).toHaveLength(0);
  });

  it('push -> sms: a recipient without push subscription gets the sms straight away', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId, phone: '+15005550008' });
    const { state, status, attempts } = await send(userId, ['push']);
    expect(state).toBe('delivered');
    expect(status.channels.push).toMatchObject({
      state: 'suppressed',
      reason: expect.stringContaining('fell back to sms'),
    });
    expect(status.channels.sms).toMatchObject({ state: 'delivered', attempts: 1 });
    expect(attempts.map((a) => [a.channel, a.status])).toEqual([['sms', 'delivered']]);
  });
});

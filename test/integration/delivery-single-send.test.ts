import { DeliveryAttempt, Notification, SendRecord } from '../../src/db/entities';
import type { OutcomeRecorder } from '../../src/state/outcome-recorder';
import { TwilioSmsProvider } from '../../src/delivery/providers/twilio-sms-provider';
import { startTwilioStandIn, type HttpStandIn } from '../helpers/provider-stand-ins';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/** Issue 10, point 8: a message the provider accepted is never sent twice because its recording failed or its worker died. */
describe('delivery: sends stay single', () => {
  const STALE_MS = 3_000;
  let twilio: HttpStandIn;
  let failRecordSent = 0;
  const stack = new TestStack({
    env: {
      // Short so that a double send would show within the test; provider timeouts must stay below it.
      SEND_RECORD_STALE_MS: String(STALE_MS),
      SMTP_TIMEOUT_MS: '2000',
      HTTP_PROVIDER_TIMEOUT_MS: '2000',
      SEND_EMAIL_BACKOFF_MS: '100',
      SEND_EMAIL_RATE_MAX: '0',
    },
    lockDurationMs: 1_000,
    providers: () => ({
      sms: new TwilioSmsProvider({
        baseUrl: twilio.url,
        accountSid: 'AC_single',
        authToken: 'token',
        from: '+15005550001',
        timeoutMs: 2_000,
      }),
    }),
    // The statement that records sent + attempt + outcome fails as a dropped connection would, `failRecordSent` times.
    recorder: (real) => {
      const wrapped = Object.create(real) as OutcomeRecorder;
      wrapped.recordSent = async (...args: Parameters<OutcomeRecorder['recordSent']>) => {
        if (failRecordSent > 0) {
          failRecordSent--;
          throw new Error('injected: Connection terminated unexpectedly');
        }
        return real.recordSent(...args);
      };
      return wrapped;
    },
  });

  beforeAll(async () => {
    twilio = await startTwilioStandIn();
    await stack.start();
  });
  afterAll(async () => {
    await stack.stop();
    await twilio.close();
  });

  it('one failed recordSent after the SMTP server accepted: retried in-process, exactly one email', async () => {
    const userId = stack.uid('u');
    const email = `${userId}@example.test`;
    await stack.createRecipient({ id: userId, email });
    failRecordSent = 1;
    const eventId = await stack.publishEmail(userId);
    const result = await stack.client.eventResult(eventId);
    expect(result.notifications[0].state).toBe('delivered');
    expect(failRecordSent).toBe(0);
    // Long enough for a retried job to find its own claim, wait for it to turn stale and send again.
    await new Promise((resolve) => setTimeout(resolve, STALE_MS + 2_000));
    expect(stack.smtp.messagesTo(email)).toHaveLength(1);
    const { notification, attempts } = await stack.deliveryAttempts(eventId, userId);
    expect(attempts.map((a) => a.status)).toEqual(['delivered']);
    expect(
      await stack.orm.em
        .fork()
        .findOneOrFail(SendRecord, { notificationId: notification.id, channel: 'email' }),
    ).toMatchObject({ status: 'sent' });
  });

  it('Postgres failing for longer than the claim lives: the job data remembers the acceptance, later attempts record it, still one email', async () => {
    const userId = stack.uid('u');
    const email = `${userId}@example.test`;
    await stack.createRecipient({ id: userId, email });
    failRecordSent = 10; // more than the in-process tries of one job attempt (bounded by the claim's life)
    const eventId = await stack.publishEmail(userId);
    const result = await stack.client.eventResult(eventId);
    expect(result.notifications[0].state).toBe('delivered');
    expect(failRecordSent).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, STALE_MS + 1_000));
    expect(stack.smtp.messagesTo(email)).toHaveLength(1);
  });

  it('sms is at most once: a stale claim of a dead worker fails the channel as "outcome unknown" and never calls Twilio', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId, phone: '+919800000777' });
    await stack.stopDeliveryWorkers();
    try {
      const eventId = stack.uid('evt');
      await stack.client.publishNotification({
        id: eventId,
        userId,
        templateCode: 'order_shipped',
        variables: { orderNumber: eventId },
        options: { channels: ['sms'] },
      });
      const notification = await waitFor(() =>
        stack.orm.em
          .fork()
          .findOne(Notification, { eventId, recipientId: userId, state: 'sending' })
          .then((n) => n ?? undefined),
      );
      // A worker claimed the send and died before recording anything: its claim is long stale.
      await stack.orm.em
        .fork()
        .getConnection()
        .execute(
          `insert into send_records (notification_id, channel, status, claimed_by, claimed_at) values (?, 'sms', 'sending', 'dead-host:1/x', now() - interval '1 hour')`,
          [notification.id],
        );
      stack.startDeliveryWorkers();
      const result = await stack.client.eventResult(eventId);
      expect(result.notifications[0].state).toBe('failed');
      const status = await stack.client.status(eventId, userId);
      expect(status.channels.sms).toMatchObject({
        state: 'failed',
        error: expect.stringMatching(
          /^outcome unknown: worker dead-host:1\/x stopped mid-send; sms is at most once/,
        ),
      });
      expect(twilio.requests.filter((r) => r.body.includes('919800000777'))).toHaveLength(0);
      const em = stack.orm.em.fork();
      expect(
        await em.findOneOrFail(SendRecord, { notificationId: notification.id, channel: 'sms' }),
      ).toMatchObject({ status: 'unknown' });
      expect(
        (await em.find(DeliveryAttempt, { notificationId: notification.id })).map((a) => a.status),
      ).toEqual(['interrupted']);
    } finally {
      if (!stack.delivery) stack.startDeliveryWorkers();
    }
  });
});

import { tsToMs } from '@temporalio/common/lib/time';
import { DeliveryAttempt, Notification, PushSubscription } from '../../src/db/entities';
import { sendJobId } from '../../src/domain/channels';
import { eventWorkflowId } from '../../src/domain/workflow-ids';
import { TwilioSmsProvider } from '../../src/delivery/providers/twilio-sms-provider';
import { generateVapidKeys, WebPushProvider } from '../../src/delivery/providers/web-push-provider';
import {
  LOCAL_STAND_IN_POLICY,
  PushSubscriber,
  startPushServiceStandIn,
  startTwilioStandIn,
  type HttpStandIn,
} from '../helpers/provider-stand-ins';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/**
 * The lifecycle's reconcile rules (docs/contracts.md, "Notification lifecycle"): a backlog is not a
 * failure, an outcome after the workflow closed still lands in Postgres, and per-recipient control
 * in one event keeps one timer per distinct send time.
 */
describe('lifecycle: deadlines and late outcomes', () => {
  const DEADLINE_MS = 1500;
  const vapid = { subject: 'mailto:ops@shop.example', ...generateVapidKeys() };
  let twilio: HttpStandIn;
  let pushService: HttpStandIn;
  const stack = new TestStack({
    env: { DELIVERY_DEADLINE_MS: String(DEADLINE_MS) },
    deliveryWorkers: false,
    providers: () => ({
      sms: new TwilioSmsProvider({
        baseUrl: twilio.url,
        accountSid: 'AC_test',
        authToken: 'token',
        from: '+15005550001',
      }),
      push: new WebPushProvider({ vapid, policy: LOCAL_STAND_IN_POLICY }),
    }),
  });
  beforeAll(async () => {
    [twilio, pushService] = await Promise.all([startTwilioStandIn(), startPushServiceStandIn()]);
    await stack.start();
  });
  afterAll(async () => {
    await stack.stop();
    await Promise.all([twilio.close(), pushService.close()]);
  });

  const row = (eventId: string) => stack.orm.em.fork().findOne(Notification, { eventId });

  it('a queue backlog longer than several deadlines is no failure: delivered once, and push never falls back to sms', async () => {
    await stack.stopDeliveryWorkers();
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId, phone: '+15005550006' });
    const device = new PushSubscriber(`${pushService.url}/push/${userId}`);
    const em = stack.orm.em.fork();
    em.create(PushSubscription, {
      recipientId: userId,
      endpoint: device.subscription.endpoint,
      ...device.subscription.keys,
      createdAt: new Date(),
    });
    await em.flush();

    const eventId = stack.uid('evt');
    // order_shipped is a direct send: the default fallbacks (push -> sms) apply.
    await stack.client.publishNotification({
      id: eventId,
      userId,
      templateCode: 'order_shipped',
      variables: { orderNumber: `A-${eventId}`, total: 10, currency: 'INR' },
      options: { channels: ['push'] },
    });
    const first = await waitFor(async () =>
      (await row(eventId))?.channelStates.push?.state === 'queued' ? row(eventId) : undefined,
    );
    expect(first!.fallbacks).toEqual({ push: 'sms' });
    const firstDeadline = Date.parse(first!.channelStates.push!.deadlineAt!);

    // No worker consumes the queue: the workflow passes at least three deadlines, each only extends.
    const seen: string[] = [];
    const extended = await waitFor(
      async () => {
        const n = (await row(eventId))!;
        const status = await stack.client.status(eventId, userId);
        seen.push(
          `${n.state}/${n.channelStates.push?.state}/${n.channelStates.sms?.state ?? '-'}/${status.state}`,
        );
        return Date.parse(n.channelStates.push!.deadlineAt!) >= firstDeadline + 3 * DEADLINE_MS
          ? n
          : undefined;
      },
      20_000,
      250,
    );
    expect(new Set(seen)).toEqual(new Set(['sending/queued/-/sending']));
    expect(extended.channelStates.push).toMatchObject({ state: 'queued', handOffs: 1 });
    expect(
      await stack.queues
        .queue('push')
        .getJob(sendJobId(extended.id, 'push'))
        .then((j) => j?.getState()),
    ).toMatch(/^(waiting|prioritized)$/);
    expect(await stack.queues.queue('sms').getJob(sendJobId(extended.id, 'sms'))).toBeUndefined();

    stack.startDeliveryWorkers();
    const result = await stack.client.eventResult(eventId);
    expect(result.notifications).toEqual([expect.objectContaining({ userId, state: 'delivered' })]);
    const done = (await row(eventId))!;
    expect(done.state).toBe('delivered');
    expect(done.channelStates.push).toMatchObject({ state: 'delivered', attempts: 1 });
    expect(done.channelStates.sms).toBeUndefined();
    expect(pushService.requests.filter((r) => r.path === `/push/${userId}`)).toHaveLength(1);
    expect(twilio.requests).toHaveLength(0);
    const attempts = await stack.orm.em.fork().find(DeliveryAttempt, { notificationId: done.id });
    expect(attempts.map((a) => [a.channel, a.status])).toEqual([['push', 'delivered']]);
  }, 40_000);

  it('an outcome that arrives after the event workflow closed still updates the row', async () => {
    await stack.stopDeliveryWorkers();
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const eventId = await stack.publishEmail(userId);
    const queued = await waitFor(async () =>
      (await row(eventId))?.channelStates.email?.state === 'queued' ? row(eventId) : undefined,
    );
    const handle = stack.temporalClient.workflow.getHandle(eventWorkflowId(eventId));
    await handle.terminate('operator stopped the event while its email waited in the queue');
    expect((await handle.describe()).status.name).toBe('TERMINATED');

    stack.startDeliveryWorkers();
    const late = await waitFor(async () => {
      const n = await row(eventId);
      return n?.state === 'delivered' ? n : undefined;
    });
    expect(late.channelStates.email).toMatchObject({ state: 'delivered', attempts: 1 });
    expect(late.error).toBeNull();
    const [counter] = await stack.orm.em
      .fork()
      .getConnection()
      .execute(`select open_channels from notification_events where event_id = ?`, [eventId]);
    expect(Number(counter.open_channels)).toBe(0);
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(1);
    // Waking a closed workflow is no error: the job completed at its first attempt, nothing retried. The row is
    // written before the worker tries the wake-up and completes the job: wait until the job leaves `active`.
    const job = await stack.queues.queue('email').getJob(sendJobId(queued!.id, 'email'));
    const settled = await waitFor(async () => {
      const state = await job?.getState();
      return state === 'active' ? undefined : state;
    });
    expect(settled).toBe('completed');
    expect((await stack.queues.queue('email').getJob(sendJobId(queued!.id, 'email')))?.attemptsMade).toBe(1);
    expect((await stack.deliveryAttempts(eventId, userId)).attempts.map((a) => a.status)).toEqual([
      'delivered',
    ]);
  });
});

describe('lifecycle: per-recipient cancel and reschedule in one event', () => {
  const DEADLINE_MS = 60_000;
  const stack = new TestStack({ env: { DELIVERY_DEADLINE_MS: String(DEADLINE_MS) } });
  beforeAll(() => stack.start());
  afterAll(() => stack.stop());

  it('cancelling one recipient leaves the others; one timer per distinct send time', async () => {
    const [cancelled, moved, stay1, stay2] = [stack.uid('u'), stack.uid('u'), stack.uid('u'), stack.uid('u')];
    const everyone = [cancelled, moved, stay1, stay2];
    for (const id of everyone) await stack.createRecipient({ id });
    const eventId = stack.uid('evt');
    await stack.client.publishBatchNotification({
      id: eventId,
      userIds: everyone,
      templateCode: 'order_created',
      variables: { orderNumber: 'B-1', total: 3, currency: 'INR' },
      options: { delayMs: 6000, channels: ['email'] },
    });

    const first = await waitFor(async () => {
      const statuses = await Promise.all(everyone.map((id) => stack.client.status(eventId, id)));
      return statuses.every((s) => s.state === 'scheduled') ? statuses : undefined;
    });
    const sendAt = first[0].sendAt!;
    expect(first.map((s) => s.sendAt)).toEqual(everyone.map(() => sendAt));

    expect(await stack.client.cancel({ eventId, userId: cancelled }, 'left the household')).toMatchObject({
      state: 'cancelled',
      error: 'cancelled: left the household',
    });
    for (const id of [moved, stay1, stay2])
      expect(await stack.client.status(eventId, id)).toMatchObject({ state: 'scheduled', sendAt });
    // Not waiting any more: the validator refuses, naming why.
    await expect(stack.client.cancel({ eventId, userId: cancelled })).rejects.toMatchObject({
      cause: {
        message:
          'notification is cancelled: only a notification not yet handed to a provider can be cancelled',
      },
    });
    await expect(stack.client.reschedule({ eventId, userId: cancelled }, new Date())).rejects.toMatchObject({
      cause: { message: 'notification is cancelled: only a scheduled notification can be rescheduled' },
    });

    const earlier = new Date(Date.now() + 1500).toISOString();
    expect(Date.parse(earlier)).toBeLessThan(Date.parse(sendAt));
    expect(await stack.client.reschedule({ eventId, userId: moved }, earlier)).toMatchObject({
      state: 'scheduled',
      sendAt: earlier,
    });
    for (const id of [stay1, stay2])
      expect(await stack.client.status(eventId, id)).toMatchObject({ state: 'scheduled', sendAt });

    const result = await stack.client.eventResult(eventId);
    expect(Object.fromEntries(result.notifications.map((n) => [n.userId, n.state]))).toEqual({
      [cancelled]: 'cancelled',
      [moved]: 'delivered',
      [stay1]: 'delivered',
      [stay2]: 'delivered',
    });

    const [movedMail] = await stack.smtp.waitForMessages(`${moved}@example.test`);
    expect(movedMail.receivedAt.getTime()).toBeGreaterThanOrEqual(Date.parse(earlier));
    expect(movedMail.receivedAt.getTime()).toBeLessThan(Date.parse(sendAt));
    for (const id of [stay1, stay2]) {
      const [mail] = await stack.smtp.waitForMessages(`${id}@example.test`);
      expect(mail.receivedAt.getTime()).toBeGreaterThanOrEqual(Date.parse(sendAt));
    }
    expect(stack.smtp.messagesTo(`${cancelled}@example.test`)).toHaveLength(0);
    const cancelledRow = await stack.orm.em
      .fork()
      .findOneOrFail(Notification, { eventId, recipientId: cancelled });
    expect(cancelledRow).toMatchObject({ state: 'cancelled', channelStates: {} });
    expect(await stack.orm.em.fork().count(DeliveryAttempt, { notificationId: cancelledRow.id })).toBe(0);

    // Send-time timers (channel deadlines are a minute away): one for the earlier time, one shared by the two that stayed;
    // the cancel and the reschedule did not restart the shared one.
    const events =
      (await stack.temporalClient.workflow.getHandle(eventWorkflowId(eventId)).fetchHistory()).events ?? [];
    const sendTimers = events
      .filter(
        (e) =>
          e.timerStartedEventAttributes &&
          tsToMs(e.timerStartedEventAttributes.startToFireTimeout) < DEADLINE_MS / 2,
      )
      .map((e) => tsToMs(e.eventTime) + tsToMs(e.timerStartedEventAttributes!.startToFireTimeout));
    expect(sendTimers).toHaveLength(2);
    const near = (at: number, iso: string) => Math.abs(at - Date.parse(iso)) < 1000;
    expect(sendTimers.filter((at) => near(at, sendAt))).toHaveLength(1);
    expect(sendTimers.filter((at) => near(at, earlier))).toHaveLength(1);
  }, 40_000);
});

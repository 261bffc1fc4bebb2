import { DeliveryAttempt, Notification, SendRecord } from '../../src/db/entities';
import { sendJobId } from '../../src/domain/channels';
import type { NotificationStatus } from '../../src/domain/notification-status';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

const DATA = { orderNumber: 'A-1', total: 10, currency: 'INR' };

describe('scheduling owned by the workflow', () => {
  const stack = new TestStack();
  beforeAll(() => stack.start());
  afterAll(() => stack.stop());

  async function orderCreated(options: Record<string, unknown>, recipient: Record<string, unknown> = {}) {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId, ...recipient });
    const eventId = stack.uid('evt');
    await stack.client.publishEvent({
      id: eventId,
      type: 'ORDER_CREATED',
      occurredAt: new Date().toISOString(),
      userId,
      data: DATA,
      options,
    });
    // The event workflow knows the recipient once its first step (plan and admit) is done.
    const firstStatus = await waitFor(() =>
      status(eventId, userId).then((s) => (s.notificationId ? s : undefined)),
    );
    return { userId, eventId, target: { eventId, userId }, email: `${userId}@example.test`, firstStatus };
  }

  /** The recipient's status from the event workflow (query `status` with the user id). */
  const status = (eventId: string, userId: string): Promise<NotificationStatus> =>
    stack.client.status(eventId, userId);

  it('waits delayMs durably before sending', async () => {
    const before = Date.now();
    // Long enough that a loaded machine still finds it waiting at the first status query.
    const n = await orderCreated({ delayMs: 6000, channels: ['email'] });
    expect(n.firstStatus.state).toBe('scheduled');
    expect(Date.parse(n.firstStatus.sendAt!)).toBeGreaterThanOrEqual(before + 6000);
    const [mail] = await stack.smtp.waitForMessages(n.email);
    expect(mail.receivedAt.getTime()).toBeGreaterThanOrEqual(Date.parse(n.firstStatus.sendAt!));
    expect((await stack.client.eventResult(n.eventId)).notifications[0].state).toBe('delivered');
  });

  it('waits until sendAt', async () => {
    const sendAt = new Date(Date.now() + 2000).toISOString();
    const n = await orderCreated({ sendAt, channels: ['email'] });
    expect(n.firstStatus).toMatchObject({ state: 'scheduled', sendAt });
    const [mail] = await stack.smtp.waitForMessages(n.email);
    expect(mail.receivedAt.getTime()).toBeGreaterThanOrEqual(Date.parse(sendAt));
  });

  it('cancels a waiting notification: nothing rendered, nothing queued, nothing sent', async () => {
    const n = await orderCreated({ delayMs: 60_000 });
    expect(n.firstStatus.state).toBe('scheduled');
    const answer = await stack.client.cancel(n.target, 'customer closed account');
    expect(answer).toMatchObject({
      state: 'cancelled',
      error: 'cancelled: customer closed account',
      notificationId: n.firstStatus.notificationId,
    });
    const result = await stack.client.eventResult(n.eventId);
    expect(result.notifications).toEqual([
      {
        userId: n.userId,
        workflowId: `event-${n.eventId}`,
        notificationId: n.firstStatus.notificationId,
        state: 'cancelled',
        error: 'cancelled: customer closed account',
      },
    ]);
    // The waiting row is the only trace: cancelled before it was rendered or handed to a queue.
    const em = stack.orm.em.fork();
    const rows = await em.find(Notification, { eventId: n.eventId });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      state: 'cancelled',
      error: 'cancelled: customer closed account',
      sendAt: null,
      channels: [],
      channelStates: {},
      content: {},
      title: null,
    });
    expect(await em.count(DeliveryAttempt, { notificationId: rows[0].id })).toBe(0);
    expect(await em.count(SendRecord, { notificationId: rows[0].id })).toBe(0);
    for (const channel of ['in_app', 'email'] as const)
      expect(await stack.queues.queue(channel).getJob(sendJobId(rows[0].id, channel))).toBeUndefined();
    expect(stack.smtp.messagesTo(n.email)).toHaveLength(0);
  });

  it('reschedules a waiting notification to an earlier time', async () => {
    const n = await orderCreated({ delayMs: 60_000, channels: ['email'] });
    expect(Date.parse(n.firstStatus.sendAt!)).toBeGreaterThan(Date.now() + 50_000);
    const sendAt = new Date(Date.now() + 500).toISOString();
    const answer = await stack.client.reschedule(n.target, sendAt);
    expect(answer).toMatchObject({ state: 'scheduled', sendAt });
    expect(await status(n.eventId, n.userId)).toMatchObject({ state: 'scheduled', sendAt });
    const [mail] = await stack.smtp.waitForMessages(n.email, 1, 10_000);
    expect(mail.receivedAt.getTime()).toBeGreaterThanOrEqual(Date.parse(sendAt));
    expect((await stack.client.eventResult(n.eventId)).notifications[0].state).toBe('delivered');
    expect(stack.smtp.messagesTo(n.email)).toHaveLength(1);
  });

  it('holds non-urgent notifications during quiet hours and lets urgent ones through', async () => {
    // A quiet window from this minute to the next, in the recipient's zone; keep clear of a minute's end.
    await waitFor(() => (new Date().getUTCSeconds() < 50 ? true : undefined), 15_000);
    const now = new Date();
    const hhmm = (d: Date) => d.toISOString().slice(11, 16);
    const windowEnd = new Date(Math.floor(now.getTime() / 60_000) * 60_000 + 60_000);
    const quietHours = { start: hhmm(now), end: hhmm(windowEnd), timezone: 'UTC' };

    const normal = await orderCreated({ channels: ['email'] }, { quietHours });
    const urgent = await orderCreated({ channels: ['email'], priority: 'urgent' }, { quietHours });

    const waiting = await waitFor(async () => {
      const s = await status(normal.eventId, normal.userId);
      return s.state === 'waiting_quiet_hours' ? s : undefined;
    });
    expect(waiting.sendAt).toBe(windowEnd.toISOString());
    const parked = await stack.orm.em.fork().findOneOrFail(Notification, { eventId: normal.eventId });
    expect(parked).toMatchObject({ state: 'waiting_quiet_hours', sendAt: windowEnd });
    const [urgentMail] = await stack.smtp.waitForMessages(urgent.email);
    expect(urgentMail.receivedAt.getTime()).toBeLessThan(windowEnd.getTime());

    expect((await stack.client.eventResult(urgent.eventId)).notifications[0].state).toBe('delivered');

    const [mail] = await stack.smtp.waitForMessages(
      normal.email,
      1,
      windowEnd.getTime() - Date.now() + 15_000,
    );
    expect(mail.receivedAt.getTime()).toBeGreaterThanOrEqual(windowEnd.getTime());
    expect((await stack.client.eventResult(normal.eventId)).notifications[0].state).toBe('delivered');
  }, 90_000);

  it('carries the priority to the BullMQ job and offers the original publish calls', async () => {
    const userId = stack.uid('u');
    const others = [stack.uid('u'), stack.uid('u')];
    for (const id of [userId, ...others]) await stack.createRecipient({ id });

    const single = await stack.client.publishNotification({
      userId,
      templateCode: 'order_created',
      variables: DATA,
      options: { priority: 'urgent', actionUrl: '/orders/A-1', actionText: 'Open', delay: 0 },
    });
    const [result] = (await stack.client.eventResult(single.eventId)).notifications;
    expect(result.state).toBe('delivered');
    const notification = await stack.orm.em.fork().findOneOrFail(Notification, { eventId: single.eventId });
    expect(notification).toMatchObject({
      templateCode: 'order_created',
      priority: 'urgent',
      actionText: 'Open',
    });
    const job = await stack.queues.queue('email').getJob(sendJobId(notification.id, 'email'));
    expect(job?.opts.priority).toBe(1);

    const batch = await stack.client.publishBatchNotification({
      userIds: others,
      templateCode: 'order_created',
      variables: DATA,
      options: { priority: 'low' },
    });
    const batchResult = await stack.client.eventResult(batch.eventId);
    expect(batchResult.notifications.map((x) => [x.userId, x.state])).toEqual(
      others.map((id) => [id, 'delivered']),
    );
    const lowJob = await stack.queues
      .queue('email')
      .getJob(
        sendJobId(
          (
            await stack.orm.em
              .fork()
              .findOneOrFail(Notification, { eventId: batch.eventId, recipientId: others[0] })
          ).id,
          'email',
        ),
      );
    expect(lowJob?.opts.priority).toBe(4);
  });
});

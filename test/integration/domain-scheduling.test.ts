import { Notification } from '../../src/db/entities';
import { sendJobId } from '../../src/domain/channels';
import { notificationWorkflowId } from '../../src/domain/workflow-ids';
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
    await stack.client.publishEvent({ id: eventId, type: 'ORDER_CREATED', occurredAt: new Date().toISOString(), userId, data: DATA, options });
    const workflowId = notificationWorkflowId(eventId, userId);
    // Status becomes answerable once the child has started.
    const firstStatus = await waitFor(() => stack.client.statusOf(workflowId).catch(() => undefined));
    return { userId, eventId, workflowId, email: `${userId}@example.test`, firstStatus };
  }

  it('waits delayMs durably before sending', async () => {
    const before = Date.now();
    const n = await orderCreated({ delayMs: 2000, channels: ['email'] });
    expect(n.firstStatus.state).toBe('scheduled');
    expect(Date.parse(n.firstStatus.sendAt!)).toBeGreaterThanOrEqual(before + 2000);
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

  it('cancels a waiting notification: nothing stored, nothing sent', async () => {
    const n = await orderCreated({ delayMs: 60_000 });
    await stack.client.cancel(n.workflowId, 'customer closed account');
    const result = await stack.client.eventResult(n.eventId);
    expect(result.notifications[0]).toMatchObject({ state: 'cancelled', error: 'cancelled: customer closed account' });
    expect(await stack.orm.em.fork().count(Notification, { eventId: n.eventId })).toBe(0);
    expect(stack.smtp.messagesTo(n.email)).toHaveLength(0);
  });

  it('reschedules a waiting notification to an earlier time', async () => {
    const n = await orderCreated({ delayMs: 60_000, channels: ['email'] });
    const sendAt = new Date(Date.now() + 500).toISOString();
    await stack.client.reschedule(n.workflowId, sendAt);
    expect((await stack.client.statusOf(n.workflowId)).sendAt).toBe(sendAt);
    await stack.smtp.waitForMessages(n.email, 1, 10_000);
    expect((await stack.client.eventResult(n.eventId)).notifications[0].state).toBe('delivered');
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
      const status = await stack.client.statusOf(normal.workflowId);
      return status.state === 'waiting_quiet_hours' ? status : undefined;
    });
    expect(waiting.sendAt).toBe(windowEnd.toISOString());
    const [urgentMail] = await stack.smtp.waitForMessages(urgent.email);
    expect(urgentMail.receivedAt.getTime()).toBeLessThan(windowEnd.getTime());

    const [mail] = await stack.smtp.waitForMessages(normal.email, 1, 75_000);
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
    expect(notification).toMatchObject({ templateCode: 'order_created', priority: 'urgent', actionText: 'Open' });
    const job = await stack.queues.queue('email').getJob(sendJobId(notification.id, 'email'));
    expect(job?.opts.priority).toBe(1);

    const batch = await stack.client.publishBatchNotification({ userIds: others, templateCode: 'order_created', variables: DATA, options: { priority: 'low' } });
    const batchResult = await stack.client.eventResult(batch.eventId);
    expect(batchResult.notifications.map((x) => [x.userId, x.state])).toEqual(others.map((id) => [id, 'delivered']));
    const lowJob = await stack.queues.queue('email').getJob(sendJobId((await stack.orm.em.fork().findOneOrFail(Notification, { eventId: batch.eventId, recipientId: others[0] })).id, 'email'));
    expect(lowJob?.opts.priority).toBe(4);
  });
});

import { WorkflowNotFoundError } from '@temporalio/client';
import { InvalidEventError } from '../../src/domain/business-event';
import { DeliveryAttempt, Notification } from '../../src/db/entities';
import { eventWorkflowId } from '../../src/domain/workflow-ids';
import { recipientRef } from '../../src/db/recipient-refs';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

describe('ORDER_CREATED end to end', () => {
  const stack = new TestStack();
  beforeAll(() => stack.start());
  afterAll(() => stack.stop());

  function orderCreated(id: string, userId: string) {
    return {
      id,
      type: 'ORDER_CREATED',
      occurredAt: new Date().toISOString(),
      userId,
      data: { orderNumber: 'A-1001', total: 1499, currency: 'INR' },
      options: { priority: 'high', actionUrl: '/profile/orders/9' },
    };
  }

  it('delivers in-app and email, records attempts and is searchable by user id', async () => {
    const userId = stack.uid('u');
    const eventId = stack.uid('evt');
    await stack.createRecipient({ id: userId });

    const published = await stack.client.publishEvent(orderCreated(eventId, userId));
    expect(published).toEqual({ eventId, workflowId: `event-${eventId}`, started: true });

    const result = await stack.client.eventResult(eventId);
    expect(result.notifications).toEqual([
      {
        userId,
        workflowId: eventWorkflowId(eventId),
        notificationId: expect.any(String),
        state: 'delivered',
      },
    ]);

    const [mail] = await stack.smtp.waitForMessages(`${userId}@example.test`);
    expect(mail.raw).toContain('Subject: We received your order A-1001');
    expect(mail.raw.replace(/=\r\n/g, '')).toContain('=E2=82=B91,499.00'); // ₹1,499.00, quoted-printable

    const status = await stack.client.status(eventId, userId);
    expect(status.state).toBe('delivered');
    expect(status.channels.in_app).toMatchObject({ state: 'delivered', attempts: 1 });
    expect(status.channels.email).toMatchObject({ state: 'delivered', attempts: 1 });

    const em = stack.orm.em.fork();
    const notification = await em.findOneOrFail(Notification, { eventId, recipientId: userId });
    expect(notification).toMatchObject({
      state: 'delivered',
      title: 'Order A-1001 placed',
      actionUrl: '/profile/orders/9',
    });
    expect(notification.deliveredAt).toBeInstanceOf(Date);
    expect(notification.templateVersions).toEqual({ in_app: expect.any(Number), email: expect.any(Number) });
    const attempts = await em.find(
      DeliveryAttempt,
      { notificationId: notification.id },
      { orderBy: { channel: 'asc' } },
    );
    expect(attempts.map((a) => [a.channel, a.status, a.attempt])).toEqual([
      ['email', 'delivered', 1],
      ['in_app', 'delivered', 1],
    ]);

    const eventDescribed = await stack.temporalClient.workflow.getHandle(eventWorkflowId(eventId)).describe();
    // The recipient by its opaque ref (recipients.ref), never by the user id (docs/contracts.md, "Search attributes").
    const ref = await recipientRef(stack.orm.em.fork(), userId);
    expect(ref).toMatch(/^[0-9a-f-]{36}$/);
    expect(eventDescribed.searchAttributes).toMatchObject({
      NotificationEventId: [eventId],
      NotificationEventType: ['ORDER_CREATED'],
      NotificationRecipientRef: [ref],
    });
    expect(eventDescribed.searchAttributes.NotificationUserId).toBeUndefined();
    expect(eventDescribed.memo).toEqual({ templateCode: 'order_created', channels: ['in_app', 'email'] });

    // The lean path: one workflow, no activity tasks; plan-and-hand-off is a local activity in the first
    // workflow task, and the channel workers wake it once to finish.
    const history = await stack.temporalClient.workflow.getHandle(eventWorkflowId(eventId)).fetchHistory();
    const events = history.events ?? [];
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toEqual([]);
    expect(events.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)).toEqual([]);
    expect(events.filter((e) => e.workflowTaskScheduledEventAttributes)).toHaveLength(2);
    // The closing worker's report settled the event: one local activity (openEvent), no reconcile step.
    expect(
      events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity'),
    ).toHaveLength(1);
    expect(
      events
        .filter((e) => e.workflowExecutionSignaledEventAttributes)
        .map((e) => e.workflowExecutionSignaledEventAttributes?.signalName),
    ).toEqual(['outcomesReady']);
  });

  it('yields one notification and one email when the same event id is submitted twice', async () => {
    const userId = stack.uid('u');
    const eventId = stack.uid('evt');
    await stack.createRecipient({ id: userId });

    const first = await stack.client.publishEvent(orderCreated(eventId, userId));
    const second = await stack.client.publishEvent(orderCreated(eventId, userId));
    expect(first.started).toBe(true);
    expect(second).toEqual({ ...first, started: false });
    await stack.client.eventResult(eventId);
    // Submitted again after the first run closed: still nothing new.
    expect((await stack.client.publishEvent(orderCreated(eventId, userId))).started).toBe(false);

    await stack.smtp.waitForMessages(`${userId}@example.test`);
    expect(await stack.orm.em.fork().count(Notification, { eventId })).toBe(1);
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(1);
  });

  it('rejects an invalid envelope naming the field and starts no workflow', async () => {
    const eventId = stack.uid('evt');
    const envelope = { ...orderCreated(eventId, 'u_1'), options: { priority: 'asap' } };
    await expect(stack.client.publishEvent(envelope)).rejects.toThrow(InvalidEventError);
    await expect(stack.client.publishEvent(envelope)).rejects.toThrow(/options\.priority/);
    await expect(
      stack.temporalClient.workflow.getHandle(eventWorkflowId(eventId)).describe(),
    ).rejects.toThrow(WorkflowNotFoundError);
  });

  it('answers the status query while the delivery is in flight', async () => {
    await stack.stopDeliveryWorkers();
    const userId = stack.uid('u');
    const eventId = stack.uid('evt');
    await stack.createRecipient({ id: userId });
    await stack.client.publishEvent(orderCreated(eventId, userId));

    const inFlight = await waitFor(async () => {
      try {
        const status = await stack.client.status(eventId, userId);
        return status.channels.email?.state === 'queued' ? status : undefined;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return undefined; // child not started yet
        throw err;
      }
    });
    expect(inFlight.state).toBe('sending');
    expect(inFlight.notificationId).toEqual(expect.any(String));
    expect(inFlight.channels).toEqual({
      in_app: { state: 'queued', attempts: 0 },
      email: { state: 'queued', attempts: 0 },
    });

    stack.startDeliveryWorkers();
    const result = await stack.client.eventResult(eventId);
    expect(result.notifications[0].state).toBe('delivered');
  });

  it('runs an event started by any Temporal client with plain JSON and no search attributes', async () => {
    const userId = stack.uid('u');
    const eventId = stack.uid('evt');
    await stack.createRecipient({ id: userId });
    const handle = await stack.temporalClient.workflow.start('businessEventWorkflow', {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: eventWorkflowId(eventId),
      args: [
        {
          id: eventId,
          type: 'ORDER_CREATED',
          occurredAt: '2026-11-25T10:00:00Z',
          userId,
          data: { orderNumber: 'A-2', total: 5, currency: 'INR' },
        },
      ],
    });
    const result = await handle.result();
    expect(result.notifications[0].state).toBe('delivered');
    const described = await handle.describe();
    expect(described.searchAttributes).toMatchObject({
      NotificationEventId: [eventId],
      NotificationEventType: ['ORDER_CREATED'],
      NotificationRecipientRef: [await recipientRef(stack.orm.em.fork(), userId)],
    });
    expect(described.searchAttributes.NotificationUserId).toBeUndefined();

    const bad = await stack.temporalClient.workflow.start('businessEventWorkflow', {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: eventWorkflowId(stack.uid('evt')),
      args: [{ id: 'x', type: 'ORDER_EXPLODED', occurredAt: '2026-11-25T10:00:00Z', userId }],
    });
    // Fails at once (non-retryable), naming the field, like the client would have.
    await expect(bad.result()).rejects.toMatchObject({
      cause: { type: 'InvalidEvent', nonRetryable: true, message: expect.stringContaining('type:') },
    });
  });
});

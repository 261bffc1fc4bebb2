import { Notification } from '../../src/db/entities';
import { orderJourneyWorkflowId, type JourneyView } from '../../src/domain/order-journey';
import { eventWorkflowId, followUpWorkflowId } from '../../src/domain/workflow-ids';
import type { EventResult } from '../../src/domain/notification-request';
import { ApiTestApp, apiTestEnv } from '../helpers/api-app';
import { recipientRef } from '../../src/db/recipient-refs';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

const FOLD_WINDOW_MS = 4000;

/** Order journeys (docs/order-journeys.md) on the real dev server, Postgres, Redis and an SMTP peer. */
describe('order journeys', () => {
  const stack = new TestStack({
    env: apiTestEnv({ ORDER_FOLD_WINDOW_MS: String(FOLD_WINDOW_MS), PAYMENT_REMINDER_DELAY_MS: '60000' }),
  });
  const api = new ApiTestApp(stack);
  beforeAll(async () => {
    await stack.start();
    await api.start();
  });
  afterAll(async () => {
    await api.close();
    await stack.stop();
  });

  async function shopper(): Promise<string> {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    return userId;
  }

  async function publish(type: string, userId: string, data: Record<string, unknown>): Promise<string> {
    const id = stack.uid('evt');
    await stack.client.publishEvent({ id, type, occurredAt: new Date().toISOString(), userId, data });
    return id;
  }

  const journey = (orderNumber: string) =>
    stack.temporalClient.workflow.getHandle(orderJourneyWorkflowId(orderNumber));

  async function journeyWhen(
    orderNumber: string,
    test: (view: JourneyView) => boolean,
  ): Promise<JourneyView> {
    return waitFor(async () => {
      const view = await journey(orderNumber).query<JourneyView>('orderJourney');
      return test(view) ? view : undefined;
    });
  }

  it('an order that does not ship by its promised time gets the delay message', async () => {
    const userId = await shopper();
    const orderNumber = stack.uid('A');
    const promisedShipBy = new Date(Date.now() + 2000).toISOString();
    await publish('ORDER_CREATED', userId, { orderNumber, total: 10, currency: 'INR', promisedShipBy });
    const placed = await journeyWhen(orderNumber, (v) => v.eventsSeen === 1);
    expect(placed).toMatchObject({ state: 'placed', promisedShipBy, deadline: { kind: 'ship_promise' } });

    const mails = await stack.smtp.waitForMessages(`${userId}@example.test`, 2);
    const subjects = mails.map((m) => /^Subject: (.*)$/m.exec(m.raw)?.[1]);
    expect(subjects).toEqual(
      expect.arrayContaining([
        `Your order ${orderNumber} is running late`,
        `We received your order ${orderNumber}`,
      ]),
    );
    const delayed = await stack.client.eventResult(`${orderNumber}.order_delayed`);
    expect(delayed.notifications).toEqual([expect.objectContaining({ userId, state: 'delivered' })]);
    // The notice's own first step tags its recipient's opaque ref; the journey sets no user id.
    const notice = await stack.temporalClient.workflow
      .getHandle(eventWorkflowId(`${orderNumber}.order_delayed`))
      .describe();
    expect(notice.searchAttributes).toMatchObject({
      NotificationRecipientRef: [await recipientRef(stack.orm.em.fork(), userId)],
    });
    expect(notice.searchAttributes.NotificationUserId).toBeUndefined();
    const view = await journeyWhen(orderNumber, (v) => v.delayNotified);
    expect(view.messages.map((m) => m.kind)).toEqual(['event', 'order_delayed']);
    // Still open, on its idle timer: shipping later is still taken in.
    expect(view.deadline?.kind).toBe('idle_end');
  });

  it('ORDER_CANCELLED cancels the payment reminder and ends the journey', async () => {
    const userId = await shopper();
    const orderNumber = stack.uid('A');
    await publish('PAYMENT_FAILED', userId, { orderNumber, amount: 10, currency: 'INR' });
    const reminderId = followUpWorkflowId(
      'payment_reminder',
      orderNumber,
      (await recipientRef(stack.orm.em.fork(), userId))!,
    );
    const reminder = stack.temporalClient.workflow.getHandle(reminderId);
    await waitFor(async () => ((await reminder.describe()).status.name === 'RUNNING' ? true : undefined));
    const cancelId = await publish('ORDER_CANCELLED', userId, { orderNumber, reason: 'out of stock' });

    const reminded = (await reminder.result()) as EventResult;
    expect(reminded.notifications).toEqual([expect.objectContaining({ userId, state: 'cancelled' })]);
    const cancelled = await stack.client.eventResult(cancelId);
    expect(cancelled.cancelled).toContain(reminderId);
    const ended = (await journey(orderNumber).result()) as JourneyView;
    expect(ended).toMatchObject({ state: 'cancelled', ended: 'cancelled', deadline: null });
    expect(ended.events.map((e) => e.type)).toEqual(['PAYMENT_FAILED', 'ORDER_CANCELLED']);
  });

  it('ORDER_SHIPPED and ORDER_DELIVERED within the fold window send one message', async () => {
    const userId = await shopper();
    const orderNumber = stack.uid('A');
    const shippedId = await publish('ORDER_SHIPPED', userId, { orderNumber, trackingNumber: 'BD-559812' });
    await waitFor(
      async () => (await stack.orm.em.fork().findOne(Notification, { eventId: shippedId })) ?? undefined,
    );
    const deliveredId = await publish('ORDER_DELIVERED', userId, { orderNumber });

    const delivered = await stack.client.eventResult(deliveredId);
    expect(delivered.notifications).toEqual([expect.objectContaining({ userId, state: 'delivered' })]);
    const shipped = await stack.client.eventResult(shippedId);
    expect(shipped.notifications).toEqual([expect.objectContaining({ userId, state: 'cancelled' })]);
    const [mail] = await stack.smtp.waitForMessages(`${userId}@example.test`);
    expect(mail.raw).toContain(`Subject: Your order ${orderNumber} was shipped and delivered`);
    expect(mail.raw).toContain('Tracking number: BD-559812');
    // Past the window the held shipping notice stays cancelled: one message, not two.
    await new Promise((resolve) => setTimeout(resolve, FOLD_WINDOW_MS + 1000));
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(1);
    const ended = (await journey(orderNumber).result()) as JourneyView;
    expect(ended.messages).toEqual([
      expect.objectContaining({ kind: 'shipped_and_delivered', eventId: deliveredId }),
    ]);
  });

  it('an ORDER_SHIPPED alone goes out once the fold window passed', async () => {
    const userId = await shopper();
    const orderNumber = stack.uid('A');
    const started = Date.now();
    const shippedId = await publish('ORDER_SHIPPED', userId, { orderNumber });
    const result = await stack.client.eventResult(shippedId);
    expect(result.notifications).toEqual([expect.objectContaining({ userId, state: 'delivered' })]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(FOLD_WINDOW_MS);
    const [mail] = await stack.smtp.waitForMessages(`${userId}@example.test`);
    expect(mail.raw).toContain(`Subject: Your order ${orderNumber} has shipped`);
  });

  it('answers GET /api/orders/{orderNumber}/journey for operators', async () => {
    const userId = await shopper();
    const orderNumber = stack.uid('A');
    const createdId = await publish('ORDER_CREATED', userId, { orderNumber });
    await journeyWhen(orderNumber, (v) => v.eventsSeen === 1);
    const answer = await api.admin({ method: 'GET', url: `/api/orders/${orderNumber}/journey` });
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toMatchObject({
      orderNumber,
      workflowId: `order-${orderNumber}`,
      status: 'RUNNING',
      state: 'placed',
      userIds: [userId],
      events: [expect.objectContaining({ eventId: createdId, type: 'ORDER_CREATED' })],
      messages: [
        expect.objectContaining({ kind: 'event', eventId: createdId, templateCode: 'order_created' }),
      ],
      deadline: { kind: 'idle_end', at: expect.any(String) },
    });
    const unknown = await api.admin({ method: 'GET', url: `/api/orders/${stack.uid('none')}/journey` });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().message).toContain('has no journey');
    const anonymous = await api.inject({ method: 'GET', url: `/api/orders/${orderNumber}/journey` });
    expect(anonymous.statusCode).toBe(401);

    // The notification's trace links the order's journey beside the event's workflow.
    const row = await waitFor(
      async () => (await stack.orm.em.fork().findOne(Notification, { eventId: createdId })) ?? undefined,
    );
    const trace = await api.admin({ method: 'GET', url: `/api/notifications/${row.id}/trace` });
    expect(trace.statusCode).toBe(200);
    expect(trace.json().workflows).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ role: 'event', workflowId: `event-${createdId}` }),
        expect.objectContaining({
          role: 'journey',
          workflowId: `order-${orderNumber}`,
          type: 'orderJourneyWorkflow',
          webUiUrl: expect.stringContaining(`order-${orderNumber}`),
        }),
      ]),
    );
  });
});

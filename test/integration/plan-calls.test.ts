import { WorkflowNotFoundError } from '@temporalio/client';
import { InvalidEventError } from '../../src/domain/business-event';
import { eventWorkflowId } from '../../src/domain/workflow-ids';
import { Campaign, Notification } from '../../src/db/entities';
import { ApiTestApp, apiTestEnv } from '../helpers/api-app';
import { TestStack } from '../helpers/test-stack';

/**
 * The calls of the original integration plan (shared/reference/phase3-queue-integration-plan.md,
 * Steps 4.1-4.3 and "Automated Tests"), as written there, through the typed client and the HTTP API.
 */
describe("the original plan's calls", () => {
  const stack = new TestStack({ env: apiTestEnv() });
  const api = new ApiTestApp(stack);
  beforeAll(async () => {
    await stack.start();
    await api.start();
  });
  afterAll(async () => {
    await api.close();
    await stack.stop();
  });

  // What the plan's code has at hand.
  const FRONTEND_URL = 'https://shop.example';
  const ADMIN_URL = 'https://admin.shop.example';

  /** A shopper created through the recipients API, with the name templates greet. */
  async function shopper(name: string | null = 'Asha Rao'): Promise<string> {
    const id = stack.uid('u');
    const res = await api.service({
      method: 'PUT',
      url: `/api/recipients/${id}`,
      payload: { name, email: `${id}@example.test`, roles: ['customer'] },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ id, name });
    return id;
  }

  async function delivered(eventId: string, userId: string): Promise<Notification> {
    const result = await stack.client.eventResult(eventId);
    expect(result.notifications).toEqual([expect.objectContaining({ userId, state: 'delivered' })]);
    return stack.orm.em.fork().findOneOrFail(Notification, { eventId, recipientId: userId });
  }

  const notStarted = (eventId: string) =>
    expect(stack.temporalClient.workflow.getHandle(eventWorkflowId(eventId)).describe()).rejects.toThrow(
      WorkflowNotFoundError,
    );

  it('recipients have a name, returned by the API and clearable with null', async () => {
    const id = await shopper('Ben');
    const res = await api.service({ method: 'PUT', url: `/api/recipients/${id}`, payload: { name: null } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id, name: null, email: `${id}@example.test` });
  });

  it('4.1 ORDER_CREATED and ORDER_SHIPPED through the client, verbatim', async () => {
    const userId = await shopper();
    const user = { full_name: 'Asha Rao' };
    const order = {
      id: 9,
      user_id: userId,
      order_number: stack.uid('A'),
      total_amount: '1499.00',
      tracking_number: 'BD-559812',
    };
    const orderItems = [{}, {}];
    const eventPublisher = stack.client;

    const created = await eventPublisher.publishNotification({
      userId: order.user_id,
      templateCode: 'ORDER_CREATED',
      variables: {
        userName: user.full_name,
        orderNumber: order.order_number,
        total: order.total_amount,
        currency: 'INR',
        orderUrl: `${FRONTEND_URL}/profile/orders/${order.id}`,
        itemCount: orderItems.length,
      },
      options: {
        priority: 'high',
        actionUrl: `/profile/orders/${order.id}`,
        actionText: 'View Order',
      },
    });
    const createdRow = await delivered(created.eventId, userId);
    expect(createdRow).toMatchObject({
      templateCode: 'order_created',
      title: `Asha Rao, your order ${order.order_number} is placed`,
      body: 'Thanks for your order of ₹1,499.00. 2 item(s).',
      actionUrl: '/profile/orders/9',
      actionText: 'View Order',
      priority: 'high',
    });
    const [mail] = await stack.smtp.waitForMessages(`${userId}@example.test`);
    expect(mail.raw).toContain(`Subject: We received your order ${order.order_number}`);
    expect(mail.raw).toContain('Hi Asha Rao,');

    const shipped = await eventPublisher.publishNotification({
      userId: order.user_id,
      templateCode: 'ORDER_SHIPPED',
      variables: {
        userName: user.full_name,
        orderNumber: order.order_number,
        trackingNumber: order.tracking_number,
        orderUrl: `${FRONTEND_URL}/profile/orders/${order.id}`,
      },
      options: {
        priority: 'normal',
        actionUrl: `/profile/orders/${order.id}`,
        actionText: 'Track Order',
      },
    });
    expect(await delivered(shipped.eventId, userId)).toMatchObject({
      templateCode: 'order_shipped',
      title: `Asha Rao, your order ${order.order_number} has shipped`,
      body: 'Your order is on its way. Tracking number: BD-559812.',
    });
  });

  it('4.2 PAYMENT_CAPTURED through POST /api/notifications, verbatim', async () => {
    const userId = await shopper();
    const payment = {
      user_id: userId,
      amount: 1499,
      currency: 'INR',
      razorpay_payment_id: 'pay_29QQoUBi66xm2f',
    };
    const res = await api.service({
      method: 'POST',
      url: '/api/notifications',
      payload: {
        userId: payment.user_id,
        templateCode: 'PAYMENT_CAPTURED',
        variables: {
          userName: 'Asha Rao',
          amount: payment.amount,
          currency: payment.currency,
          paymentId: payment.razorpay_payment_id,
          orderNumber: 'A-77',
        },
        options: {
          priority: 'high',
        },
      },
    });
    expect(res.statusCode).toBe(202);
    expect(await delivered(res.json().eventId, userId)).toMatchObject({
      templateCode: 'payment_captured',
      title: 'Asha Rao, we received your payment',
      body: 'We received your payment of ₹1,499.00 for order A-77. Payment id: pay_29QQoUBi66xm2f.',
    });
  });

  it('4.3 LOW_STOCK_ALERT to the admins, through the client and POST /api/notifications/batch, verbatim', async () => {
    const admins = [await shopper('Ops One'), await shopper(null)];
    const product = { id: 7, name: 'Ceramic mug' };
    const newQuantity = 3;
    const lowStockThreshold = 5;
    const body = {
      userIds: admins,
      templateCode: 'LOW_STOCK_ALERT',
      variables: {
        productName: product.name,
        currentStock: newQuantity,
        threshold: lowStockThreshold,
        productUrl: `${ADMIN_URL}/inventory/${product.id}`,
      },
      options: {
        priority: 'urgent' as const,
      },
    };
    const viaClient = await stack.client.publishBatchNotification(body);
    const viaHttp = await api.service({ method: 'POST', url: '/api/notifications/batch', payload: body });
    expect(viaHttp.statusCode).toBe(202);
    for (const eventId of [viaClient.eventId, viaHttp.json().eventId]) {
      const result = await stack.client.eventResult(eventId);
      expect(result.notifications.map((n) => [n.userId, n.state]).sort()).toEqual(
        admins.map((id) => [id, 'delivered']).sort(),
      );
      const rows = await stack.orm.em.fork().find(Notification, { eventId });
      for (const row of rows) {
        expect(row).toMatchObject({
          templateCode: 'inventory_low_stock',
          title: 'Low stock: Ceramic mug',
          body: '3 left (alert threshold 5).',
          actionUrl: `${ADMIN_URL}/inventory/7`,
        });
      }
    }
  });

  it('"Automated Tests": only userName and orderNumber, and the in-app title names the user', async () => {
    const userId = await shopper(null);
    const published = await stack.client.publishNotification({
      userId,
      templateCode: 'ORDER_CREATED',
      variables: {
        userName: 'Test User',
        orderNumber: 'TEST-123',
      },
    });
    const notification = await delivered(published.eventId, userId);
    expect(notification.title).toContain('Test User');
  });

  it('refuses data the event does not define at the door: the client names data.<field>, the API variables.<field>, nothing starts', async () => {
    const userId = await shopper();
    const id = stack.uid('direct');
    const call = { id, userId, templateCode: 'ORDER_CREATED', variables: { userName: 'Asha', total: 10 } };
    await expect(stack.client.publishNotification(call)).rejects.toThrow(InvalidEventError);
    await expect(stack.client.publishNotification(call)).rejects.toMatchObject({
      fields: ['data.orderNumber'],
    });
    const res = await api.service({
      method: 'POST',
      url: '/api/notifications',
      payload: { ...call, variables: { orderNumber: 'A-1', currency: 'rupees' } },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ fields: ['variables.currency'], in: 'body' });
    expect(res.json().message).toContain('variables.currency: must be a 3-letter ISO 4217 currency code');

    const eventId = stack.uid('evt');
    const event = await api.service({
      method: 'POST',
      url: '/api/events',
      payload: {
        id: eventId,
        type: 'INVENTORY_LOW_STOCK',
        occurredAt: new Date().toISOString(),
        data: { sku: 'S-1', quantity: 2 },
      },
    });
    expect(event.statusCode).toBe(400);
    expect(event.json().fields.sort()).toEqual(['data.currentStock', 'data.productName']);
    await notStarted(id);
    await notStarted(eventId);
  });

  it('refuses NUL and lone surrogates anywhere in a request with 400, starting nothing', async () => {
    const userId = await shopper();
    const eventId = stack.uid('evt');
    const nul = await api.service({
      method: 'POST',
      url: '/api/events',
      payload: {
        id: eventId,
        type: 'ORDER_CREATED',
        occurredAt: new Date().toISOString(),
        userId,
        data: { orderNumber: 'A-1', note: 'x\u0000y' },
      },
    });
    expect(nul.statusCode).toBe(400);
    expect(nul.json()).toMatchObject({ fields: ['data.note'], in: 'body' });
    expect(nul.json().message).toMatch(/NUL/);
    await notStarted(eventId);

    const direct = stack.uid('direct');
    const surrogate = await api.service({
      method: 'POST',
      url: '/api/notifications',
      payload: {
        id: direct,
        userId,
        templateCode: 'ORDER_CREATED',
        variables: { orderNumber: 'A-1' },
        options: { actionText: 'View \ud83d' },
      },
    });
    expect(surrogate.statusCode).toBe(400);
    expect(surrogate.json()).toMatchObject({ fields: ['options.actionText'] });
    await notStarted(direct);

    const campaignId = '00000000-0000-4000-8000-' + stack.id.padStart(12, '0');
    const campaign = await api.admin({
      method: 'POST',
      url: '/api/campaigns',
      payload: {
        id: campaignId,
        name: 'Sale\u0000',
        templateCode: 'marketing_announcement',
        segment: { roles: ['customer'] },
        variables: { headline: 'h', message: 'm' },
      },
    });
    expect(campaign.statusCode).toBe(400);
    expect(campaign.json().fields).toEqual(['name']);
    await expect(
      stack.temporalClient.workflow.getHandle(`campaign-${campaignId}`).describe(),
    ).rejects.toThrow(WorkflowNotFoundError);
    expect(await stack.orm.em.fork().count(Campaign, { id: campaignId })).toBe(0);

    // Sent as text: JSON.stringify itself cannot nest 5,000 deep (the API must never try).
    const deep = await api.admin({
      method: 'POST',
      url: '/api/campaigns',
      headers: { 'content-type': 'application/json' },
      payload: `{"name":"Deep","templateCode":"marketing_announcement","segment":{"roles":["customer"]},"variables":{"headline":"h","message":"m","x":${'['.repeat(5000)}${']'.repeat(5000)}}}`,
    });
    expect(deep.statusCode).toBe(400);
    expect(deep.json().message).toMatch(/nests deeper than 32 levels/);
  });

  it('a workflow another Temporal client starts with bad data fails at once with the same message', async () => {
    const id = stack.uid('evt_cli');
    const input = {
      id,
      type: 'INVENTORY_LOW_STOCK',
      occurredAt: '2026-11-25T10:00:00Z',
      data: { productName: 'Mug', currentStock: 'lots' },
    };
    const handle = await stack.temporalClient.workflow.start('businessEventWorkflow', {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: eventWorkflowId(id),
      args: [input],
    });
    const started = Date.now();
    const failure = await handle.result().then(
      () => null,
      (err: Error) => err,
    );
    expect(failure).not.toBeNull();
    const messages: string[] = [];
    for (let e: unknown = failure; e instanceof Error; e = e.cause) messages.push(e.message);
    expect(messages.join(' | ')).toContain('invalid event: data.currentStock: must be an integer');
    // Not retried: the first attempt's failure ends the workflow.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  describe('templates of other codes declare their variables by using them', () => {
    it('the template API refuses a variable the event data does not provide, naming the field', async () => {
      const res = await api.admin({
        method: 'POST',
        url: '/api/templates/ORDER_CREATED/versions',
        payload: {
          channel: 'in_app',
          fields: { title: 'Order {{orderNumber}} ({{sku}})', body: '{{orderUrl}}' },
        },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().fields).toEqual(['fields.title', 'fields.body']);
      expect(res.json().message).toContain('variable "sku" is not in the ORDER_CREATED data');
      expect(res.json().message).toContain('use it inside {{#if orderUrl}}');
    });

    it('a direct send to such a template needs every variable it uses unguarded (400 before anything starts)', async () => {
      const code = `plan_custom_${stack.id}`;
      const created = await api.admin({
        method: 'POST',
        url: `/api/templates/${code.toUpperCase()}/versions`,
        payload: {
          channel: 'in_app',
          category: 'account',
          fields: { title: 'Welcome {{customerName}}', body: '{{#if coupon}}Use {{coupon}}{{/if}}' },
        },
      });
      expect(created.statusCode).toBe(201);
      expect(created.json()).toMatchObject({ code, version: 1 });

      const userId = await shopper();
      const id = stack.uid('direct');
      const missing = await api.service({
        method: 'POST',
        url: '/api/notifications',
        payload: { id, userId, templateCode: code, variables: { coupon: 'X' } },
      });
      expect(missing.statusCode).toBe(400);
      expect(missing.json()).toMatchObject({ fields: ['variables.customerName'] });
      await notStarted(id);

      const ok = await api.service({
        method: 'POST',
        url: '/api/notifications',
        payload: { userId, templateCode: code, variables: { customerName: 'Asha' } },
      });
      expect(ok.statusCode).toBe(202);
      expect(await delivered(ok.json().eventId, userId)).toMatchObject({ title: 'Welcome Asha', body: '' });
    });
  });
});

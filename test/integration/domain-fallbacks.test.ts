import { LOCAL_STAND_IN_ENV, startWebhookReceiver, type HttpStandIn } from '../helpers/provider-stand-ins';
import { TestStack } from '../helpers/test-stack';

describe('per-template fallbacks and tenant webhook URL', () => {
  let receiver: HttpStandIn;
  let stack: TestStack;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    stack = await new TestStack({
      env: {
        ...LOCAL_STAND_IN_ENV,
        WEBHOOK_SECRET: 'whsec_fallback_test_secret',
        WEBHOOK_DEFAULT_URL: `${receiver.url}/tenant`,
      },
    }).start();
  });
  afterAll(async () => {
    await stack.stop();
    await receiver.close();
  });

  it("falls back along the template's own table: a staff alert without push goes to email, not sms", async () => {
    const adminId = stack.uid('admin');
    await stack.createRecipient({ id: adminId, roles: ['admin'], phone: '+15005550006' });
    const id = stack.uid('evt');
    await stack.client.publishEvent({
      id,
      type: 'INVENTORY_LOW_STOCK',
      occurredAt: new Date().toISOString(),
      userIds: [adminId],
      data: { sku: 'S-1', productName: 'Mug', currentStock: 1 },
      options: { channels: ['push'] },
    });
    expect((await stack.client.eventResult(id)).notifications[0].state).toBe('delivered');
    const status = await stack.client.status(id, adminId);
    expect(status.channels.push).toMatchObject({
      state: 'suppressed',
      reason: expect.stringContaining('fell back to email'),
    });
    expect(status.channels.email?.state).toBe('delivered');
    expect(status.channels.sms).toBeUndefined();
    const [mail] = await stack.smtp.waitForMessages(`${adminId}@example.test`);
    expect(mail.raw).toContain('Subject: Low stock: Mug (S-1)');
  });

  it('sends webhooks of recipients without their own URL to the tenant URL', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const sent = await stack.client.publishNotification({
      userId,
      templateCode: 'order_created',
      variables: { orderNumber: 'W-1', total: 1, currency: 'INR' },
      options: { channels: ['webhook'] },
    });
    expect((await stack.client.eventResult(sent.eventId)).notifications[0].state).toBe('delivered');
    const [request] = await receiver.waitForRequests(1);
    expect(request.path).toBe('/tenant');
    expect(JSON.parse(request.body)).toMatchObject({
      eventId: sent.eventId,
      userId,
      templateCode: 'order_created',
      data: { orderNumber: 'W-1' },
    });
  });
});

import { loadConfig } from '../config';
import { EVENT_TYPES, type EventType } from '../domain/business-event';
import { NotificationClient } from '../client/notification-client';
import { connectTemporalClient } from '../runtime/connections';
import { runMain } from './run-main';

/** Sample data per event type (src/domain/event-data.ts lists every field). */
const SAMPLE_DATA: Record<EventType, Record<string, unknown>> = {
  ORDER_CREATED: { orderNumber: 'A-1001', total: 1499, currency: 'INR', itemCount: 2 },
  ORDER_SHIPPED: { orderNumber: 'A-1001', trackingNumber: 'BD-559812' },
  ORDER_DELIVERED: { orderNumber: 'A-1001' },
  ORDER_CANCELLED: { orderNumber: 'A-1001', reason: 'cancelled at your request' },
  PAYMENT_CAPTURED: { orderNumber: 'A-1001', amount: 1499, currency: 'INR', paymentId: 'pay_29QQoUBi66xm2f' },
  PAYMENT_FAILED: { orderNumber: 'A-1001', amount: 1499, currency: 'INR' },
  INVENTORY_LOW_STOCK: { productName: 'Red T-shirt (M)', currentStock: 3, threshold: 5, sku: 'TSHIRT-RED-M' },
};

/**
 * Sends one business event with the typed client.
 *   npm run send-event -- ORDER_CREATED u_42
 *   npm run send-event -- '{"id":"evt_1","type":"ORDER_CREATED",...}'
 */
runMain(async () => {
  const [first = 'ORDER_CREATED', userId = 'u_42'] = process.argv.slice(2);
  let envelope: unknown;
  if (first.trim().startsWith('{')) {
    envelope = JSON.parse(first);
  } else {
    if (!(EVENT_TYPES as readonly string[]).includes(first))
      throw new Error(`event type "${first}" is not one of ${EVENT_TYPES.join(', ')}`);
    const type = first as EventType;
    envelope = {
      id: `evt_${Date.now().toString(36)}`,
      type,
      occurredAt: new Date().toISOString(),
      ...(type === 'INVENTORY_LOW_STOCK' ? {} : { userId }),
      data: SAMPLE_DATA[type],
      options: { actionUrl: '/profile/orders/A-1001' },
    };
  }
  const config = loadConfig();
  const temporalClient = await connectTemporalClient(config.temporal);
  const client = new NotificationClient(temporalClient, config.temporal.taskQueue, {
    campaignTaskQueue: config.temporal.campaignTaskQueue,
  });
  const result = await client.publishEvent(envelope);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await temporalClient.connection.close();
});

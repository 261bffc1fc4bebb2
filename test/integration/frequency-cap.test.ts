import { createDigestRouter } from '../../activities/digest-activities';
import type { EventSpec } from '../../activities/event-spec';
import { createFrequencyCaps } from '../../activities/frequency-caps';
import { capReason, parseFrequencyCaps } from '../../src/domain/frequency-caps';
import type { NotificationRowInput } from '../../src/state/notification-store';
import { TestStack } from '../helpers/test-stack';

describe('frequency caps', () => {
  const stack = new TestStack({ env: { FREQUENCY_CAPS: 'marketing:2/7d,inventory_alerts:2/1h' } });
  beforeAll(() => stack.start());
  afterAll(() => stack.stop());

  it('lets N through and suppresses the rest, the reason on each channel', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const results = [];
    for (let n = 1; n <= 4; n++) {
      const { eventId } = await stack.client.publishNotification({
        id: stack.uid('evt'),
        userId,
        templateCode: 'inventory_low_stock',
        variables: { productName: `Mug ${n}`, currentStock: n },
        options: { channels: ['email'] },
      });
      results.push(await stack.client.eventResult(eventId));
    }
    const states = results.map((r) => r.notifications[0].state);
    expect(states).toEqual(['delivered', 'delivered', 'suppressed', 'suppressed']);
    const capped = await stack.client.status(results[3].eventId, userId);
    expect(capped.channels.email).toMatchObject({
      state: 'suppressed',
      reason: 'frequency cap: inventory_alerts 2 per 1 h',
    });
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(2);
  }, 60_000);

  it('lets exactly one of 40 concurrent admissions through a cap of 1', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const [cap] = parseFrequencyCaps('cap_test:1/1h');
    const router = createDigestRouter({
      temporalClient: stack.temporalClient,
      taskQueue: stack.config.temporal.taskQueue,
      lowStockWindowMs: 0,
    });
    const caps = createFrequencyCaps([cap], router);
    const admissions = Array.from({ length: 40 }, () => {
      const eventId = stack.uid('evt');
      const spec = { eventId, category: 'cap_test', templateCode: 'any' } as EventSpec;
      const row = {
        recipient_id: userId,
        state: 'sending',
        channel_states: { email: { state: 'queued', attempts: 0 } },
      } as unknown as NotificationRowInput;
      return caps.apply(stack.orm.em.fork(), spec, [row], Date.now());
    });
    const rows = (await Promise.all(admissions)).flat();
    expect(rows.filter((r) => r.state === 'sending')).toHaveLength(1);
    const suppressed = rows.filter((r) => r.state === 'suppressed');
    expect(suppressed).toHaveLength(39);
    expect(suppressed[0].channel_states.email).toMatchObject({ reason: capReason(cap) });
  });

  it('names a bad FREQUENCY_CAPS rule', () => {
    expect(() => parseFrequencyCaps('marketing:2/7x')).toThrow('"marketing:2/7x" is not category:max/window');
    expect(parseFrequencyCaps('marketing:2/7d')).toEqual([
      { category: 'marketing', max: 2, windowMs: 7 * 86_400_000, action: 'suppress' },
    ]);
    expect(capReason(parseFrequencyCaps('marketing:2/7d')[0])).toBe('frequency cap: marketing 2 per 7 d');
  });
});

import { createDigestRouter } from '../../activities/digest-activities';
import type { EventSpec } from '../../activities/event-spec';
import { createFrequencyCaps } from '../../activities/frequency-caps';
import type { Channel } from '../../src/domain/channels';
import { DIGEST_ITEM_SIGNAL, digestWorkflowId, type DigestItemSignal } from '../../src/domain/digest';
import { loadConfig } from '../../src/config';
import { capReason, parseFrequencyCaps } from '../../src/domain/frequency-caps';
import type { NotificationRowInput } from '../../src/state/notification-store';
import { startTwilioStandIn, twilioProviderFor, type HttpStandIn } from '../helpers/provider-stand-ins';
import { recipientRef } from '../../src/db/recipient-refs';
import { dataOf } from '../../src/state/notification-contents';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

const CAPS = 'marketing:2/7d,inventory_alerts:2/1h:digest,channel:sms:2/1d';

/** A row about to send on the given channels, as the dispatcher hands it to the caps. */
function sendingRow(userId: string, channels: Channel[]): NotificationRowInput {
  const states = Object.fromEntries(channels.map((c) => [c, { state: 'queued', attempts: 0 }]));
  return {
    recipient_id: userId,
    state: 'sending',
    channels,
    channel_states: states,
    fallbacks: {},
  } as unknown as NotificationRowInput;
}

describe('frequency caps', () => {
  let twilio: HttpStandIn;
  const stack = new TestStack({
    env: { FREQUENCY_CAPS: CAPS },
    providers: () => ({ sms: twilioProviderFor(twilio) }),
  });
  beforeAll(async () => {
    twilio = await startTwilioStandIn();
    await stack.start();
  });
  afterAll(async () => {
    await stack.stop();
    await twilio.close();
  });

  function capsOf(rules: string) {
    const router = createDigestRouter({
      temporalClient: stack.temporalClient,
      taskQueue: stack.config.temporal.taskQueue,
      lowStockWindowMs: 0,
    });
    return createFrequencyCaps(parseFrequencyCaps(rules), router);
  }

  /** 40 events of category cap_test admitted at once for one recipient, each with the row `row` gives. */
  async function admitConcurrently(rules: string, row: () => NotificationRowInput) {
    const caps = capsOf(rules);
    const admissions = Array.from({ length: 40 }, () => {
      const spec = { eventId: stack.uid('evt'), category: 'cap_test', templateCode: 'any' } as EventSpec;
      return caps.apply(stack.orm.em.fork(), spec, [row()], Date.now());
    });
    return { caps, rows: (await Promise.all(admissions)).flat() };
  }

  it('lets N through and folds the rest into the daily digest, which later holds them', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    // The daily digest's window opens with an item closing in 20 s (instead of 09:00 local), so the test sees it sent.
    const ref = (await recipientRef(stack.orm.em.fork(), userId))!;
    const workflowId = digestWorkflowId(ref, 'daily.inventory_alerts');
    const opener: DigestItemSignal = {
      item: {
        eventId: stack.uid('opener'),
        occurredAt: new Date().toISOString(),
        summary: 'Opener',
        data: {},
      },
      closeAtMs: Date.now() + 20_000,
    };
    await stack.temporalClient.workflow.signalWithStart('digestWorkflow', {
      workflowId,
      taskQueue: stack.config.temporal.taskQueue,
      args: [
        {
          recipientId: userId,
          recipientRef: ref,
          key: 'daily.inventory_alerts',
          templateCode: 'daily_digest_inventory_alerts',
        },
      ],
      signal: DIGEST_ITEM_SIGNAL,
      signalArgs: [opener],
    });
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
    expect(results.map((r) => r.notifications[0].state)).toEqual([
      'delivered',
      'delivered',
      'suppressed',
      'suppressed',
    ]);
    const capped = await stack.client.status(results[3].eventId, userId);
    expect(capped.channels.email).toMatchObject({
      state: 'suppressed',
      reason: 'frequency cap: inventory_alerts 2 per 1 h; folded into the daily digest',
    });
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(2);

    const [digest] = await waitFor(async () => {
      const rows: { data: { count: number; items: { eventId: string }[] } }[] = await stack.orm.em
        .fork()
        .getConnection()
        .execute(
          `select ${dataOf('n')} as data from notifications n where recipient_id = ? and template_code = 'daily_digest_inventory_alerts'`,
          [userId],
        );
      return rows.length > 0 ? rows : undefined;
    }, 60_000);
    expect(digest.data.count).toBe(3);
    expect(digest.data.items.map((i) => i.eventId).sort()).toEqual(
      [opener.item.eventId, results[2].eventId, results[3].eventId].sort(),
    );
  }, 90_000);

  it('holds a channel cap: N through on sms, the rest refused on sms only while email still goes', async () => {
    const userId = stack.uid('u');
    const phone = `+1500555${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;
    await stack.createRecipient({ id: userId, phone });
    const results = [];
    for (let n = 1; n <= 3; n++) {
      const eventId = stack.uid('evt');
      await stack.client.publishNotification({
        id: eventId,
        userId,
        templateCode: 'order_shipped',
        variables: { orderNumber: `A-${eventId}`, total: 10, currency: 'INR' },
        options: { channels: ['email', 'sms'] },
      });
      await stack.client.eventResult(eventId);
      results.push(await stack.client.status(eventId, userId));
    }
    expect(results.map((s) => [s.channels.email?.state, s.channels.sms?.state])).toEqual([
      ['delivered', 'delivered'],
      ['delivered', 'delivered'],
      ['delivered', 'suppressed'],
    ]);
    expect(results[2].channels.sms?.reason).toBe('frequency cap: sms 2 per 1 d');
    expect(results[2].state).toBe('delivered');
    expect(twilio.requests.filter((r) => new URLSearchParams(r.body).get('To') === phone)).toHaveLength(2);
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(3);
  }, 60_000);

  it('lets exactly one of 40 concurrent admissions through a cap of 1', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const { rows } = await admitConcurrently('cap_test:1/1h', () => sendingRow(userId, ['email']));
    expect(rows.filter((r) => r.state === 'sending')).toHaveLength(1);
    const suppressed = rows.filter((r) => r.state === 'suppressed');
    expect(suppressed).toHaveLength(39);
    expect(suppressed[0].channel_states.email).toMatchObject({
      reason: capReason(parseFrequencyCaps('cap_test:1/1h')[0]),
    });
  });

  it('lets one of 40 concurrent admissions through a channel cap of 1, the other channel untouched', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const { caps, rows } = await admitConcurrently('channel:push:1/1h', () => ({
      ...sendingRow(userId, ['email', 'push']),
      fallbacks: { email: 'push' },
    }));
    expect(rows.every((r) => r.state === 'sending' && r.channel_states.email?.state === 'queued')).toBe(true);
    expect(rows.filter((r) => r.channel_states.push?.state === 'queued')).toHaveLength(1);
    const refused = rows.filter((r) => r.channel_states.push?.state === 'suppressed');
    expect(refused).toHaveLength(39);
    expect(refused[0]).toMatchObject({ channels: ['email'], fallbacks: {} });
    expect(refused[0].channel_states.push?.reason).toBe('frequency cap: push 1 per 1 h');
    // A notification whose only channel is over its cap is suppressed as a whole.
    const spec = { eventId: stack.uid('evt'), category: 'cap_test', templateCode: 'any' } as EventSpec;
    const [alone] = await caps.apply(stack.orm.em.fork(), spec, [sendingRow(userId, ['push'])], Date.now());
    expect(alone).toMatchObject({ state: 'suppressed', channels: [] });
  });

  it('reads category and channel rules and names a bad one', () => {
    expect(parseFrequencyCaps(CAPS)).toEqual([
      { scope: 'category', category: 'marketing', max: 2, windowMs: 7 * 86_400_000, action: 'suppress' },
      { scope: 'category', category: 'inventory_alerts', max: 2, windowMs: 3_600_000, action: 'digest' },
      { scope: 'channel', channel: 'sms', max: 2, windowMs: 86_400_000, action: 'suppress' },
    ]);
    expect(() => parseFrequencyCaps('marketing:2/7x')).toThrow('"marketing:2/7x" is not category:max/window');
    expect(() => parseFrequencyCaps('channel:fax:1/1d')).toThrow('"channel:fax:1/1d": fax is not a channel');
    expect(() => parseFrequencyCaps('channel:sms:1/1d:digest')).toThrow(
      '"channel:sms:1/1d:digest": a channel cap only suppresses',
    );
    expect(() => parseFrequencyCaps('channel:sms:1/1d,channel:sms:2/1h')).toThrow(
      'channel sms is capped twice',
    );
    expect(capReason(parseFrequencyCaps('marketing:2/7d')[0])).toBe('frequency cap: marketing 2 per 7 d');
    expect(capReason(parseFrequencyCaps('channel:sms:3/1d')[0])).toBe('frequency cap: sms 3 per 1 d');
    expect(() => loadConfig({ FREQUENCY_CAPS: 'marketing:2/7d,channel:fax:1/1d' })).toThrow(
      /FREQUENCY_CAPS.*"channel:fax:1\/1d": fax is not a channel/s,
    );
  });
});

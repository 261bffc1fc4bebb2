/**
 * Rows the channel-worker benchmarks send from (bench/delivery-throughput.ts, bench/channel-workers.ts):
 * one recipient, and notifications inserted in bulk with the content of every channel already rendered.
 */
import type { Channel } from '../src/domain/channels';
import { PushSubscription, Recipient } from '../src/db/entities';
import type { Orm } from '../src/db/orm';
import type { ChannelContent } from '../src/delivery/providers/provider';
import type { PushSubscriber } from '../test/helpers/provider-stand-ins';

export const BENCH_CONTENT: ChannelContent = {
  in_app: { title: 'Order A-1 shipped', body: 'Your order is on its way.' },
  email: {
    subject: 'Your order A-1 has shipped',
    html: '<p>Your order <b>A-1</b> is on its way.</p>',
    text: 'Your order A-1 is on its way.',
  },
  sms: { text: 'Order A-1 has shipped.' },
  push: { title: 'Order shipped', body: 'Order A-1 is on its way.' },
  webhook: { payload: { eventType: 'ORDER_SHIPPED', data: { orderNumber: 'A-1' } } },
};

export interface NotificationBatch {
  /** Unique per batch: event ids are `bench-<tag>-<n>`. */
  tag: string;
  recipientId: string;
  count: number;
  /**
   * Omitted: release-0 rows (lifecycle 1), outcomes reported by signal to workflow `bench`. A channel: rows of
   * the lean event path (lifecycle 2) with that channel queued, one `notification_events` row per notification
   * (one open channel), as a single-recipient event leaves them: the closing outcome wakes workflow
   * `bench-<tag>-<n>`, which does not exist (Temporal answers "not found"; the worker goes on).
   */
  lean?: Channel;
}

/** Inserts `count` notifications in state `sending` and returns their ids. */
export async function insertNotifications(orm: Orm, batch: NotificationBatch): Promise<string[]> {
  const conn = orm.em.fork().getConnection();
  const prefix = `bench-${batch.tag}-`;
  const lean = batch.lean;
  const channelStates = lean
    ? { [lean]: { state: 'queued', attempts: 0, handOffs: 1, queuedAt: new Date().toISOString() } }
    : {};
  const rows = await conn.execute(
    `insert into notifications (event_id, recipient_id, template_code, category, priority, state, workflow_id, content, lifecycle, channel_states)
     select ? || g, ?, 'bench', 'order_updates', 'normal', 'sending', ${lean ? `? || g` : `'bench'`}, ?::jsonb, ?, ?::jsonb
       from generate_series(1, ?) g
     returning id`,
    [
      prefix,
      batch.recipientId,
      ...(lean ? [prefix] : []),
      JSON.stringify(BENCH_CONTENT),
      lean ? 2 : 1,
      JSON.stringify(channelStates),
      batch.count,
    ],
  );
  if (lean)
    await conn.execute(
      `insert into notification_events (event_id, workflow_id, open_channels)
       select ? || g, ? || g, 1 from generate_series(1, ?) g`,
      [prefix, prefix, batch.count],
    );
  return rows.map((r) => String(r.id));
}

/** The recipient, with a webhook URL and a push subscription when given. */
export async function seedRecipient(
  orm: Orm,
  id: string,
  reach: { webhookUrl?: string; device?: PushSubscriber } = {},
): Promise<void> {
  const em = orm.em.fork();
  em.create(Recipient, {
    id,
    email: 'bench@example.test',
    phone: '+15005550006',
    timezone: 'UTC',
    locale: 'en',
    roles: [],
    muted: false,
    quietHours: null,
    webhookUrl: reach.webhookUrl ?? null,
    createdAt: new Date(),
    updatedAt: new Date(),
  });
  await em.flush(); // no ORM relation between the two: flush the recipient first for the foreign key
  if (!reach.device) return;
  const { endpoint, keys } = reach.device.subscription;
  em.create(PushSubscription, {
    recipientId: id,
    endpoint,
    p256dh: keys.p256dh,
    auth: keys.auth,
    createdAt: new Date(),
  });
  await em.flush();
}

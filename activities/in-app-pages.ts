import type { EntityManager } from '@mikro-orm/postgresql';
import { applyOutcome, type ChannelRecords } from '../src/domain/notification-lifecycle';
import { inAppFeedChannel } from '../src/delivery/providers/in-app-provider';
import { InfrastructureError } from '../src/delivery/infrastructure-errors';
import {
  deliverInAppRows,
  queuedInAppRows,
  type InAppDelivered,
  type InAppDeliveryStep,
} from '../src/state/in-app-pages';
import type { ChannelContent } from '../src/domain/channel-content';
import { recordEngagementOfMany } from '../src/state/engagement';
import type { NotificationRowInput, StoredRow } from '../src/state/notification-store';
import type { RedisConnection } from '../src/redis-connection';

/** Where live in-app notifications are published: the API's SSE hub listens there (feed-hub.ts). */
export interface InAppFeed {
  publisher: RedisConnection;
  /** QUEUE_PREFIX: the feed channels are `<prefix>:in_app:<recipientId>`. */
  prefix: string;
}

/**
 * Set-based in-app delivery of one page of an untracked owner (a campaign), first half: the page's rows
 * about to send with their in-app channel queued are stored delivered instead (the lifecycle step the
 * in-app channel worker would apply), visible in the feed from the insert on.
 */
export function storedDelivered(
  rows: NotificationRowInput[],
  page: { nowMs: number; deadlineMs: number },
): NotificationRowInput[] {
  const deliveredAt = new Date(page.nowMs).toISOString();
  return rows.map((row) => {
    if (row.state !== 'sending' || row.channel_states.in_app?.state !== 'queued') return row;
    const step = applyOutcome(
      { state: row.state, channels: row.channel_states, fallbacks: row.fallbacks },
      { channel: 'in_app', state: 'delivered', attempts: 1 },
      page.nowMs,
      page.deadlineMs,
    );
    return { ...row, state: step.state, channel_states: step.channels, delivered_at: deliveredAt };
  });
}

/**
 * Second half, after the insert: rows this page's insert stored delivered got their delivery attempt and
 * engagement in that statement (insertRows with `deliveredInApp`); rows an earlier try left queued are
 * claimed and delivered here, and rows an earlier try stored delivered get an attempt if they lack one
 * (deliverInAppRows); then the live feed is told of every one in one pipelined round trip. Returns the
 * stored rows as they now are; a row a worker holds the send record of keeps its in-app channel queued for
 * the caller's hand-off.
 */
export async function deliverInAppPage(
  db: EntityManager,
  feed: InAppFeed,
  page: { rows: NotificationRowInput[]; stored: StoredRow[]; nowMs: number; deadlineMs: number },
): Promise<StoredRow[]> {
  const steps: InAppDeliveryStep[] = [];
  const earlier: string[] = [];
  const fresh: InAppDelivered[] = [];
  for (const row of page.stored) {
    const record = row.channel_states?.in_app;
    if (row.state === 'sending' && record?.state === 'queued') steps.push(inAppStep(row, page));
    else if (record?.state === 'delivered' && row.inserted && row.created_at)
      fresh.push({
        id: row.id,
        recipient_id: row.recipient_id,
        created_at: row.created_at,
        flipped: false,
        attempted: true,
      });
    else if (record?.state === 'delivered') earlier.push(row.id);
  }
  const written = steps.length + earlier.length > 0 ? await deliverInAppRows(db, steps, earlier) : [];
  await recordAcceptance(db, written, page.nowMs);
  const contentOf = new Map(page.rows.map((r) => [r.recipient_id, r.content.in_app]));
  await publishToFeed(feed, contentOf, [...fresh, ...written]);
  const flipped = new Set(written.filter((d) => d.flipped).map((d) => d.id));
  const stepOf = new Map(steps.map((s) => [s.id, s]));
  return page.stored.map((row) => {
    const step = flipped.has(row.id) ? stepOf.get(row.id) : undefined;
    return step ? { ...row, state: step.state, channel_states: step.channelStates } : row;
  });
}

/**
 * Engagement `sent` and `delivered` of the deliveries this call recorded, as the in-app channel worker
 * records them at acceptance (docs/tracking-and-receipts.md); an earlier try's are not counted again.
 */
async function recordAcceptance(db: EntityManager, written: InAppDelivered[], nowMs: number): Promise<void> {
  const ids = written.filter((d) => d.attempted).map((d) => d.id);
  const at = new Date(nowMs);
  await recordEngagementOfMany(db, ids, { channel: 'in_app', kinds: ['sent', 'delivered'], at });
}

/**
 * A staged campaign's release (docs/performance.md, "Flash sale"): its rows whose in-app channel is still
 * queued and unclaimed are delivered set-based, a page at a time (the same statement and feed messages as
 * a campaign page), and their jobs removed from the in-app queue; a row a worker claimed meanwhile stays
 * with it. Returns how many it delivered.
 */
export async function deliverQueuedInApp(
  db: EntityManager,
  feed: InAppFeed,
  release: {
    eventId: string;
    nowMs: number;
    deadlineMs: number;
    removeJobs: (notificationIds: string[]) => Promise<void>;
    heartbeat: (delivered: number) => void;
  },
): Promise<number> {
  let delivered = 0;
  for (let after = FIRST_UUID; ;) {
    const rows = await queuedInAppRows(db, release.eventId, after, RELEASE_PAGE);
    if (rows.length === 0) return delivered;
    const written = await deliverInAppRows(
      db,
      rows.map((r) => inAppStep(r, release)),
      [],
    );
    await recordAcceptance(db, written, release.nowMs);
    await publishToFeed(feed, new Map(rows.map((r) => [r.recipient_id, r.content.in_app])), written);
    const flipped = written.filter((d) => d.flipped).map((d) => d.id);
    await release.removeJobs(flipped);
    delivered += flipped.length;
    release.heartbeat(delivered);
    if (rows.length < RELEASE_PAGE) return delivered;
    after = rows[rows.length - 1].id;
  }
}

const RELEASE_PAGE = 2500;
const FIRST_UUID = '00000000-0000-0000-0000-000000000000';

/** The lifecycle step of an in-app delivery, as the channel worker would apply it. */
function inAppStep(
  row: Pick<StoredRow, 'id' | 'state' | 'channel_states'>,
  page: { nowMs: number; deadlineMs: number },
): InAppDeliveryStep {
  const before: ChannelRecords = row.channel_states ?? {};
  const step = applyOutcome(
    { state: row.state, channels: before, fallbacks: {} },
    { channel: 'in_app', state: 'delivered', attempts: 1 },
    page.nowMs,
    page.deadlineMs,
  );
  return { id: row.id, before, state: step.state, channelStates: step.channels };
}

/**
 * One publish per recipient, all in one pipeline (the same message the in-app provider publishes).
 * Rows an earlier try delivered are published again: SSE streams drop an id they have sent.
 */
async function publishToFeed(
  feed: InAppFeed,
  contentOf: Map<string, ChannelContent['in_app'] | undefined>,
  delivered: { id: string; recipient_id: string; created_at: Date }[],
): Promise<void> {
  if (delivered.length === 0) return;
  const pipeline = feed.publisher.pipeline();
  for (const d of delivered) {
    const content = contentOf.get(d.recipient_id);
    const message = {
      id: d.id,
      title: content?.title ?? null,
      body: content?.body ?? null,
      actionUrl: content?.actionUrl ?? null,
      actionText: content?.actionText ?? null,
      createdAt: d.created_at,
    };
    pipeline.publish(inAppFeedChannel(feed.prefix, d.recipient_id), JSON.stringify(message));
  }
  try {
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0]!;
  } catch (err) {
    // Ours, never a provider's: the page activity is retried, and the rows it delivered are told again.
    throw new InfrastructureError('in-app page: publishing to the live feed in Redis', err);
  }
}

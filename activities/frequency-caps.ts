import type { EntityManager } from '@mikro-orm/postgresql';
import type { Channel } from '../src/domain/channels';
import { isDigestTemplate } from '../src/domain/digest';
import {
  capKey,
  capReason,
  type CategoryCap,
  type ChannelCap,
  type FrequencyCap,
} from '../src/domain/frequency-caps';
import { isOpenChannel, type ChannelRecords } from '../src/domain/notification-lifecycle';
import type { NotificationRowInput } from '../src/state/notification-store';
import { suppressedFields, type DigestRouter } from './digest-activities';
import type { EventSpec } from './event-spec';

/**
 * Frequency caps at the moment notifications go out (docs/digests-and-caps.md): each recipient's
 * admissions are counted in `frequency_cap_sends` per category and per capped channel, under an
 * advisory lock per recipient and key, so two events admitted at once never both pass a cap of 1.
 * A notification over its category's cap is stored suppressed, its channels carrying the reason (and,
 * for a `digest` rule, its event goes into the recipient's daily digest of the category); a channel
 * over its cap is suppressed with the reason while the notification's other channels still go.
 */
export function createFrequencyCaps(caps: FrequencyCap[], digests: DigestRouter) {
  return {
    apply: (db: EntityManager, spec: EventSpec, rows: NotificationRowInput[], nowMs: number) =>
      applyCaps(caps, digests, db, spec, rows, nowMs),
  };
}

export type FrequencyCaps = ReturnType<typeof createFrequencyCaps>;

/** One count a sending notification needs: its recipient under one cap. */
interface Claim {
  cap: FrequencyCap;
  userId: string;
}

/** What the ledger holds for a claim within its window: other events counted, and whether this event is one. */
interface Tally {
  recent: number;
  mine: boolean;
}

/** Who is over which cap: recipients over the category's cap, and the channels over their caps per recipient. */
interface Verdict {
  overCategory: Set<string>;
  overChannels: Map<string, ChannelCap[]>;
}

/** The rows with those over a cap turned suppressed (whole row or one channel); rows not about to send pass as they are. */
async function applyCaps(
  caps: FrequencyCap[],
  digests: DigestRouter,
  db: EntityManager,
  spec: EventSpec,
  rows: NotificationRowInput[],
  nowMs: number,
): Promise<NotificationRowInput[]> {
  if (isDigestTemplate(spec.templateCode)) return rows;
  const sending = rows.filter((r) => r.state === 'sending');
  const categoryCap = caps.find(
    (c): c is CategoryCap => c.scope === 'category' && c.category === spec.category,
  );
  const claims = sending.flatMap((row) => claimsOf(caps, categoryCap, row));
  if (claims.length === 0) return rows;
  const verdict = await reserve(db, spec.eventId, sending, claims, nowMs);
  if (categoryCap?.action === 'digest' && verdict.overCategory.size > 0)
    await digests.fold(db, spec, [...verdict.overCategory], nowMs);
  return rows.map((r) => {
    if (r.state !== 'sending') return r;
    if (categoryCap && verdict.overCategory.has(r.recipient_id))
      return {
        ...r,
        ...suppressedFields(Object.keys(r.channel_states) as Channel[], capReason(categoryCap)),
      };
    const overChannels = verdict.overChannels.get(r.recipient_id);
    return overChannels ? withoutChannels(r, overChannels) : r;
  });
}

/** The channels about to be handed off (queued) of a sending row. */
function queuedChannels(row: NotificationRowInput): Channel[] {
  return (Object.keys(row.channel_states) as Channel[]).filter(
    (c) => row.channel_states[c]?.state === 'queued',
  );
}

/** The counts a sending row needs: its category's cap, and the cap of each channel it is about to use. */
function claimsOf(
  caps: FrequencyCap[],
  categoryCap: CategoryCap | undefined,
  row: NotificationRowInput,
): Claim[] {
  const userId = row.recipient_id;
  const queued = queuedChannels(row);
  const channelCaps = caps.filter((c) => c.scope === 'channel' && queued.includes(c.channel));
  return [...(categoryCap ? [categoryCap] : []), ...channelCaps].map((cap) => ({ cap, userId }));
}

/**
 * A row with the channels over their caps suppressed (each saying which cap), no fallback to or from
 * them, and suppressed as a whole when no channel is left open.
 */
function withoutChannels(row: NotificationRowInput, caps: ChannelCap[]): NotificationRowInput {
  const capped = new Set<Channel>(caps.map((c) => c.channel));
  const channelStates: ChannelRecords = { ...row.channel_states };
  for (const cap of caps)
    channelStates[cap.channel] = { state: 'suppressed', attempts: 0, reason: capReason(cap) };
  const fallbacks = Object.fromEntries(
    Object.entries(row.fallbacks).filter(([from, to]) => !capped.has(from as Channel) && !capped.has(to)),
  );
  const open = Object.values(channelStates).some((record) => isOpenChannel(record));
  return {
    ...row,
    channels: row.channels.filter((c) => !capped.has(c)),
    channel_states: channelStates,
    fallbacks,
    ...(open ? {} : { state: 'suppressed', send_at: null }),
  };
}

/**
 * Decides from the ledger's tallies who is over which cap, and which claims this event records: a
 * recipient over the category's cap records nothing; otherwise the category claim and the claims of
 * the channels under their caps are recorded, unless every queued channel is over its cap (nothing
 * goes out). A claim this event recorded already (a retried step) passes again.
 */
function judge(
  rows: NotificationRowInput[],
  claims: Claim[],
  tally: (claim: Claim) => Tally | undefined,
): Verdict & { record: Claim[] } {
  const over = (claim: Claim) => {
    const t = tally(claim);
    return !t?.mine && (t?.recent ?? 0) >= claim.cap.max;
  };
  const verdict: Verdict = { overCategory: new Set(), overChannels: new Map() };
  const record: Claim[] = [];
  for (const row of rows) {
    const mine = claims.filter((c) => c.userId === row.recipient_id);
    const category = mine.find((c) => c.cap.scope === 'category');
    if (category && over(category)) {
      verdict.overCategory.add(row.recipient_id);
      continue;
    }
    const channelClaims = mine.filter((c) => c.cap.scope === 'channel');
    const overChannels = channelClaims.filter(over);
    if (overChannels.length > 0)
      verdict.overChannels.set(
        row.recipient_id,
        overChannels.map((c) => c.cap as ChannelCap),
      );
    if (overChannels.length > 0 && overChannels.length === queuedChannels(row).length) continue;
    record.push(...mine.filter((c) => !overChannels.includes(c) && !tally(c)?.mine));
  }
  return { ...verdict, record };
}

/**
 * In one transaction: locks every (key, recipient) of the claims in a fixed order, drops ledger
 * entries older than their window, counts each claim's entries in its window, and records this event
 * under the claims that pass (see judge). Returns who is over which cap.
 * Round trips: BEGIN, lock, purge+count, insert (skipped when nothing passes), COMMIT.
 */
async function reserve(
  db: EntityManager,
  eventId: string,
  rows: NotificationRowInput[],
  claims: Claim[],
  nowMs: number,
): Promise<Verdict> {
  const keyed = JSON.stringify(
    claims.map((c) => ({ k: capKey(c.cap), r: c.userId, since: new Date(nowMs - c.cap.windowMs) })),
  );
  return db.transactional(async (tx) => {
    const ctx = tx.getTransactionContext();
    const conn = tx.getConnection();
    // OFFSET 0 keeps the sorted subquery as it is, so the locks are taken in that order (no deadlock).
    await conn.execute(
      `select count(pg_advisory_xact_lock(hashtextextended('frequency-cap:' || k || ':' || r, 0)))
         from (select distinct c->>'k' as k, c->>'r' as r from jsonb_array_elements(?::jsonb) c order by 1, 2 offset 0) s`,
      [keyed],
      'all',
      ctx,
    );
    const tallies: ({ k: string; r: string } & Tally)[] = await conn.execute(
      `with claims as (
         select c->>'k' as k, c->>'r' as r, (c->>'since')::timestamptz as since from jsonb_array_elements(?::jsonb) c),
       purge as (
         delete from frequency_cap_sends f using claims c
          where f.category = c.k and f.recipient_id = c.r and f.sent_at < c.since)
       select c.k, c.r, (count(f.event_id) filter (where f.event_id <> ?))::int as recent,
              coalesce(bool_or(f.event_id = ?), false) as mine
         from claims c
         join frequency_cap_sends f on f.category = c.k and f.recipient_id = c.r and f.sent_at >= c.since
        group by c.k, c.r`,
      [keyed, eventId, eventId],
      'all',
      ctx,
    );
    const byKey = new Map(tallies.map((t) => [`${t.k}\n${t.r}`, t]));
    const { record, ...verdict } = judge(rows, claims, (c) => byKey.get(`${capKey(c.cap)}\n${c.userId}`));
    if (record.length > 0) {
      await conn.execute(
        `insert into frequency_cap_sends (recipient_id, category, event_id, sent_at)
         select c->>'r', c->>'k', ?, ? from jsonb_array_elements(?::jsonb) c on conflict do nothing`,
        [eventId, new Date(nowMs), JSON.stringify(record.map((c) => ({ k: capKey(c.cap), r: c.userId })))],
        'all',
        ctx,
      );
    }
    return verdict;
  });
}

import { quietHoursEndAfter } from './quiet-hours';

/**
 * Digests (docs/digests-and-caps.md): events for one recipient and key collected by one
 * `digestWorkflow` (id `digest-<recipientRef>-<key>`) and sent as one notification when the window
 * closes. Plain types and rules, shared by the routing activity and the workflow.
 */

/** One event folded into a digest: ids, when, and a one-line summary; `data` is the event's data. */
export interface DigestItem {
  eventId: string;
  occurredAt: string;
  summary: string;
  data: Record<string, unknown>;
}

/** The payload of the `digestItem` signal: the item, and when a window this item opens closes. */
export interface DigestItemSignal {
  item: DigestItem;
  closeAtMs: number;
}

/** Who and what one digest workflow collects for. */
export interface DigestTarget {
  recipientId: string;
  /**
   * The recipient's opaque ref (`recipients.ref`): the workflow id and the digest's event id carry it, not
   * the user id. Absent in digests started by release 4 and earlier (they used the user id).
   */
  recipientRef?: string;
  /** `INVENTORY_LOW_STOCK`, `daily.<category>`: ids and names only. */
  key: string;
  /** The direct-send template the digest is sent with. */
  templateCode: string;
}

export interface DigestWorkflowInput extends DigestTarget {
  /** Items that arrived while the previous run sent its digest (continue-as-new). */
  pending?: DigestItemSignal[];
  /** Event ids the previous run sent: a late duplicate signal of them is dropped. */
  recentIds?: string[];
}

export interface DigestWindowInput extends DigestTarget {
  windowStartMs: number;
  items: DigestItem[];
}

export const DIGEST_ITEM_SIGNAL = 'digestItem';
/** A window closes early once it holds this many items (the digest's data stays well under 64 KiB). */
export const MAX_DIGEST_ITEMS = 100;
/** After sending, a run waits this long for more items (and drops late duplicates) before it finishes. */
export const DIGEST_LINGER_MS = 60_000;
/** Shoppers' daily digests exist for these categories (transactional ones are never delayed). */
export const DIGEST_CATEGORIES = ['marketing', 'inventory_alerts'] as const;
/** Hour (recipient's local time) a daily digest folded by a frequency cap goes out when no preference names one. */
export const DEFAULT_DIGEST_HOUR = 9;

export const LOW_STOCK_DIGEST = {
  eventType: 'INVENTORY_LOW_STOCK',
  key: 'INVENTORY_LOW_STOCK',
  templateCode: 'inventory_low_stock_digest',
} as const;

/** Template of a shopper's daily digest of a category. */
export function dailyDigestTemplate(category: string): string {
  return `daily_digest_${category}`;
}

/** Templates that send digests: never digested or capped again. */
export function isDigestTemplate(templateCode: string): boolean {
  return templateCode === LOW_STOCK_DIGEST.templateCode || templateCode.startsWith('daily_digest_');
}

/** `recipientRef`: the recipient's opaque ref (release 4 and earlier: the user id). */
export function digestWorkflowId(recipientRef: string, key: string): string {
  return `digest-${recipientRef}-${key}`;
}

/**
 * The digest notification's event id (its idempotency key): the digest key and its window's start,
 * so a retried send or a replayed workflow creates it once.
 */
export function digestEventId(target: DigestTarget, windowStartMs: number): string {
  const id = `digest.${target.key}.${target.recipientRef ?? target.recipientId}.${windowStartMs}`;
  return id.replace(/[^A-Za-z0-9._:-]/g, (c) => `:${c.charCodeAt(0).toString(16)}:`).slice(0, 200);
}

/** The next instant after `atMs` at which the local clock in `timezone` shows `hour`:00. */
export function nextLocalHour(atMs: number, hour: number, timezone: string): number {
  const hh = String(hour).padStart(2, '0');
  // A "quiet window" that is the whole day but [hh:00, hh:01): its end is the next hh:00.
  const after = new Date(atMs + 60_000);
  const end = quietHoursEndAfter(after, { start: `${hh}:01`, end: `${hh}:00`, timezone });
  return (end ?? after).getTime();
}

/** Plain-text lines of a digest (templates have no loops): one per item, then how many more. */
export function digestText(items: DigestItem[], more: number): string {
  const lines = items.map((i) => `- ${i.summary}`);
  if (more > 0) lines.push(`- and ${more} more`);
  return lines.join('\n');
}

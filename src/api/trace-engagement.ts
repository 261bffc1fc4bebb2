import type { EntityManager } from '@mikro-orm/postgresql';
import { engagementOf } from '../state/engagement';
import type { TraceEntry } from './trace-history';

/**
 * The trace's entries for what was observed after the send (docs/tracking-and-receipts.md): receipts,
 * opens, clicks, reads, conversions, each at its first occurrence with how often it happened since.
 */
export async function engagementTraceEntries(
  em: EntityManager,
  notificationId: string,
): Promise<TraceEntry[]> {
  const rows = await engagementOf(em, notificationId);
  return rows.map((row) => ({
    at: row.firstAt.toISOString(),
    source: 'postgres',
    kind: `engagement.${row.kind}`,
    summary: `${row.kind} on ${row.channel}${row.count > 1 ? ` (${row.count} times, last ${row.lastAt.toISOString()})` : ''}`,
    channel: row.channel,
    detail: { count: row.count, lastAt: row.lastAt.toISOString(), ...(row.detail ?? {}) },
  }));
}

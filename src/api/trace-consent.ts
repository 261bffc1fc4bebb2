import type { EntityManager } from '@mikro-orm/postgresql';
import { consentEventsOfNotification } from '../db/repositories/consent-repository';
import type { TraceEntry } from './trace-history';

/**
 * The trace's entries for the consent changes a notification caused: an unsubscribe through the
 * List-Unsubscribe link of its email (or a change on the page behind it), an SMS STOP answering it.
 */
export async function consentTraceEntries(em: EntityManager, notificationId: string): Promise<TraceEntry[]> {
  const events = await consentEventsOfNotification(em, notificationId);
  return events.map((e) => ({
    at: e.at.toISOString(),
    source: 'postgres',
    kind: `consent.${e.action}`,
    summary: `${e.action} ${e.category}${e.channel ? ` on ${e.channel}` : ''} (source ${e.source})`,
    ...(e.channel ? { channel: e.channel } : {}),
    detail: { category: e.category, source: e.source, recipientId: e.recipientId },
  }));
}

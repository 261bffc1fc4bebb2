import type { EntityManager } from '@mikro-orm/postgresql';
import type { Channel } from '../src/domain/channels';
import type { FollowUpDefinition } from '../src/domain/event-catalog';
import type { EventPlan } from '../src/domain/notification-request';
import { businessFailure } from './errors';

/** The follow-up an event schedules (a payment reminder): its template must exist; its category is the template's. */
export async function planFollowUp(
  db: EntityManager,
  followUp: FollowUpDefinition,
  channels: Channel[],
  delayMs: number,
): Promise<NonNullable<EventPlan['followUp']>> {
  const [template] = await db
    .getConnection()
    .execute(`select category from templates where code = ? limit 1`, [followUp.templateCode]);
  if (!template)
    throw businessFailure('TemplateNotFound', `no template with code "${followUp.templateCode}"`);
  return {
    kind: followUp.kind,
    templateCode: followUp.templateCode,
    category: template.category,
    channels,
    delayMs,
  };
}

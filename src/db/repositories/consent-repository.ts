import type { EntityManager } from '@mikro-orm/postgresql';
import type { Channel } from '../../domain/channels';
import type { ConsentAction, ConsentSource } from '../../domain/consent';

/** One consent decision: the recipient opted in (granted) or out of a category at `at`, told by `source`. */
export interface ConsentChange {
  recipientId: string;
  category: string;
  granted: boolean;
  at: Date;
  source: ConsentSource;
}

/** One channel of a category switched off (or on again) by the recipient through a link or a reply (List-Unsubscribe, SMS STOP). */
export interface ChannelChoice {
  recipientId: string;
  category: string;
  channel: Channel;
  enabled: boolean;
  source: ConsentSource;
  notificationId?: string;
}

export interface StoredConsent {
  category: string;
  granted: boolean;
  at: Date;
  source: string;
}

/** A consent_events row. */
export interface ConsentEventRow {
  recipientId: string;
  category: string;
  channel: Channel | null;
  action: ConsentAction;
  source: string;
  notificationId: string | null;
  at: Date;
}

/**
 * Applies consent decisions in one statement: the newest decision per recipient and category wins (an
 * import of older decisions never overrides a newer one), a decision that repeats the stored one keeps
 * the stored time and source, and each change of a recipient's choice is logged in consent_events. Returns the recipient ids that do not exist (nothing is stored for them).
 */
export async function recordConsents(em: EntityManager, changes: ConsentChange[]): Promise<string[]> {
  if (changes.length === 0) return [];
  const rows: { recipient_id: string }[] = await em.getConnection().execute(
    `with input as (
       select * from jsonb_to_recordset(?::jsonb)
         as x(recipient_id text, category text, granted boolean, at timestamptz, source text)
     ), known as (
       select distinct on (i.recipient_id, i.category) i.*
         from input i join recipients r on r.id = i.recipient_id
        order by i.recipient_id, i.category, i.at desc
     ), prior as (
       select c.* from consents c join known k using (recipient_id, category)
     ), applied as (
       insert into consents (recipient_id, category, granted, at, source)
       select recipient_id, category, granted, at, source from known
       on conflict (recipient_id, category) do update
         set granted = excluded.granted, at = excluded.at, source = excluded.source
         where consents.at <= excluded.at and consents.granted is distinct from excluded.granted
       returning recipient_id, category, granted, at, source
     ), logged as (
       insert into consent_events (recipient_id, category, action, source, at)
       select a.recipient_id, a.category, case when a.granted then 'opt-in' else 'opt-out' end, a.source, a.at
         from applied a left join prior p using (recipient_id, category)
        where p.granted is distinct from a.granted
       returning 1
     )
     select distinct i.recipient_id from input i
      where not exists (select 1 from recipients r where r.id = i.recipient_id)`,
    [
      JSON.stringify(
        changes.map((c) => ({
          recipient_id: c.recipientId,
          category: c.category,
          granted: c.granted,
          at: c.at.toISOString(),
          source: c.source,
        })),
      ),
    ],
  );
  return rows.map((r) => r.recipient_id);
}

/**
 * Switches one channel of a category off (an unsubscribe) or back on (a resubscribe): the preferences
 * cell and its consent_events row, in one statement. A cell already so changes nothing and logs nothing;
 * false then, and when there is no such recipient.
 */
export async function recordChannelChoice(em: EntityManager, u: ChannelChoice): Promise<boolean> {
  const rows: unknown[] = await em.getConnection().execute(
    `with changed as (
       insert into preferences (recipient_id, category, channel, enabled, updated_at)
       select r.id, ?, ?, ?, now() from recipients r where r.id = ?
       on conflict (recipient_id, category, channel) do update set enabled = excluded.enabled, updated_at = now()
         where preferences.enabled is distinct from excluded.enabled
       returning recipient_id
     )
     insert into consent_events (recipient_id, category, channel, action, source, notification_id)
     select recipient_id, ?, ?, ?, ?, ?::uuid from changed
     returning id`,
    [
      u.category,
      u.channel,
      u.enabled,
      u.recipientId,
      u.category,
      u.channel,
      u.enabled ? 'resubscribe' : 'unsubscribe',
      u.source,
      u.notificationId ?? null,
    ],
  );
  return rows.length > 0;
}

/** The recipient's consent per category (only categories with a recorded decision). */
export async function consentsOf(em: EntityManager, recipientId: string): Promise<StoredConsent[]> {
  const rows: StoredConsent[] = await em
    .getConnection()
    .execute(`select category, granted, at, source from consents where recipient_id = ?`, [recipientId]);
  return rows.map((r) => ({ ...r, at: new Date(r.at) }));
}

/** The recipient's newest consent events, newest first. */
export function consentHistory(
  em: EntityManager,
  recipientId: string,
  limit = 20,
): Promise<ConsentEventRow[]> {
  return selectEvents(em, `recipient_id = ? order by at desc, id desc limit ?`, [recipientId, limit]);
}

/** The consent events a notification's links or replies caused (its trace shows them). */
export function consentEventsOfNotification(
  em: EntityManager,
  notificationId: string,
): Promise<ConsentEventRow[]> {
  return selectEvents(em, `notification_id = ?::uuid order by at, id`, [notificationId]);
}

async function selectEvents(em: EntityManager, where: string, params: unknown[]): Promise<ConsentEventRow[]> {
  const rows: Record<string, unknown>[] = await em
    .getConnection()
    .execute(
      `select recipient_id, category, channel, action, source, notification_id, at from consent_events where ${where}`,
      params,
    );
  return rows.map((r) => ({
    recipientId: r.recipient_id as string,
    category: r.category as string,
    channel: (r.channel as Channel | null) ?? null,
    action: r.action as ConsentAction,
    source: r.source as string,
    notificationId: (r.notification_id as string | null) ?? null,
    at: new Date(r.at as string),
  }));
}

/** Recipients whose phone is this number (E.164 as stored). */
export async function recipientIdsByPhone(em: EntityManager, phone: string): Promise<string[]> {
  const rows: { id: string }[] = await em
    .getConnection()
    .execute(`select id from recipients where phone = ?`, [phone]);
  return rows.map((r) => r.id);
}

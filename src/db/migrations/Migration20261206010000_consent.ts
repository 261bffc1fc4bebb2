import { Migration } from '@mikro-orm/migrations';

/**
 * Consent for the categories that need an opt-in (src/domain/consent.ts, docs/consent.md): the current
 * choice per recipient and category, and an append-only log of every change (opt-in, opt-out, and
 * unsubscribes of one channel by a List-Unsubscribe link or an SMS STOP) with its source. No backfill:
 * recipients stored before this migration have no opt-in, so consent categories reach them only after
 * one (the import endpoint carries consents collected elsewhere).
 */
export class Migration20261206010000_consent extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table if not exists consents (
        recipient_id varchar(200) not null references recipients (id) on delete cascade,
        category varchar(64) not null,
        granted boolean not null,
        at timestamptz not null,
        source varchar(32) not null,
        primary key (recipient_id, category)
      );`);
    this.addSql(`
      create table if not exists consent_events (
        id bigserial primary key,
        recipient_id varchar(200) not null references recipients (id) on delete cascade,
        category varchar(64) not null,
        channel varchar(16) null,
        action varchar(16) not null check (action in ('opt-in', 'opt-out', 'unsubscribe', 'resubscribe')),
        source varchar(32) not null,
        notification_id uuid null,
        at timestamptz not null default now()
      );`);
    this.addSql(
      `create index if not exists consent_events_recipient_idx on consent_events (recipient_id, at desc);`,
    );
    // The trace of a notification shows the unsubscribes its links caused.
    this.addSql(
      `create index if not exists consent_events_notification_idx on consent_events (notification_id) where notification_id is not null;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists consent_events;`);
    this.addSql(`drop table if exists consents;`);
  }
}

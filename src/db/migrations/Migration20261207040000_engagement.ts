import { Migration } from '@mikro-orm/migrations';

/**
 * Engagement we observe and receipts providers send (docs/tracking-and-receipts.md): one row per
 * (notification, channel, kind), first and last time and a count. `seq` is taken once, at the first
 * occurrence, so rollups read new firsts with `seq > watermark` (docs/contracts.md, "Engagement").
 */
export class Migration20261207040000_engagement extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create sequence notification_engagement_seq;`);
    this.addSql(`create table notification_engagement (
      notification_id uuid not null references notifications(id) on delete cascade,
      channel text not null,
      kind text not null,
      first_at timestamptz not null,
      last_at timestamptz not null,
      count integer not null default 1,
      seq bigint not null default nextval('notification_engagement_seq'),
      detail jsonb,
      primary key (notification_id, channel, kind),
      constraint notification_engagement_kind_check check (kind in ('sent','delivered','undelivered','bounced','complained','opened','clicked','read','converted'))
    );`);
    this.addSql(`alter sequence notification_engagement_seq owned by notification_engagement.seq;`);
    this.addSql(`create index notification_engagement_seq_idx on notification_engagement (seq);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists notification_engagement;`);
    this.addSql(`drop sequence if exists notification_engagement_seq;`);
  }
}

import { Migration } from '@mikro-orm/migrations';

/**
 * Content stored once (docs/data-lifecycle.md, "Content stored once"): rendered content and event data
 * keyed by the sha-256 of their canonical JSON; notifications reference them by hash. Existing rows keep
 * their inline `content` / `data` (no backfill: readers fall back to the inline columns). The partial
 * indexes serve the orphan sweep's anti-joins and cost nothing for rows without a hash.
 */
export class Migration20261207030000_notification_contents extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table if not exists notification_contents (
        hash text primary key,
        content jsonb not null,
        created_at timestamptz not null default now(),
        used_at timestamptz not null default now());`);
    this.addSql(
      `create index if not exists notification_contents_used_at_idx on notification_contents (used_at);`,
    );
    this.addSql(`alter table notifications add column if not exists content_hash text null;`);
    this.addSql(`alter table notifications add column if not exists data_hash text null;`);
    this.addSql(
      `create index if not exists notifications_content_hash_idx on notifications (content_hash) where content_hash is not null;`,
    );
    this.addSql(
      `create index if not exists notifications_data_hash_idx on notifications (data_hash) where data_hash is not null;`,
    );
  }

  override async down(): Promise<void> {
    // Rows that reference a hash get their content back inline before the table goes.
    this.addSql(
      `update notifications n set content = c.content from notification_contents c where c.hash = n.content_hash;`,
    );
    this.addSql(
      `update notifications n set data = c.content from notification_contents c where c.hash = n.data_hash;`,
    );
    this.addSql(`drop index if exists notifications_data_hash_idx;`);
    this.addSql(`drop index if exists notifications_content_hash_idx;`);
    this.addSql(`alter table notifications drop column if exists data_hash;`);
    this.addSql(`alter table notifications drop column if exists content_hash;`);
    this.addSql(`drop table if exists notification_contents;`);
  }
}

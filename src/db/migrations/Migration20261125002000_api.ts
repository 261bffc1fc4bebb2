import { Migration } from '@mikro-orm/migrations';

/** Indexes for the HTTP API: notifications by workflow id (status, trace) and a recipient's unread count. */
export class Migration20261125002000_api extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index if not exists notifications_workflow_id_idx on notifications (workflow_id);`);
    this.addSql(
      `create index if not exists notifications_unread_idx on notifications (recipient_id) where delivered_at is not null and read_at is null;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists notifications_unread_idx;`);
    this.addSql(`drop index if exists notifications_workflow_id_idx;`);
  }
}

import { Migration } from '@mikro-orm/migrations';

/**
 * Retention (docs/data-lifecycle.md): the sweep walks final notifications oldest first, so this
 * partial index leaves out the rows workflows still own (waiting or sending) instead of stepping over
 * them in notifications_created_at_idx. Attempts are walked by delivery_attempts_finished_at_idx.
 */
export class Migration20261206050000_retention extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create index if not exists notifications_final_created_at_idx on notifications (created_at) where state not in ('scheduled', 'waiting_quiet_hours', 'sending');`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists notifications_final_created_at_idx;`);
  }
}

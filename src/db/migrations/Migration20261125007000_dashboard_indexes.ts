import { Migration } from '@mikro-orm/migrations';

/**
 * The operators' dashboard (docs/contracts.md, "Browser surfaces"): its per-minute overview reads
 * notifications and delivery attempts by time; without these each poll would scan the whole tables.
 * (Its search by workflow id uses notifications_workflow_id_idx of Migration20261125002000_api.)
 */
export class Migration20261125007000_dashboard_indexes extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index if not exists notifications_created_at_idx on notifications (created_at);`);
    this.addSql(
      `create index if not exists delivery_attempts_finished_at_idx on delivery_attempts (finished_at);`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists delivery_attempts_finished_at_idx;`);
    this.addSql(`drop index if exists notifications_created_at_idx;`);
  }
}

import { Migration } from '@mikro-orm/migrations';

/**
 * A signing secret per webhook endpoint (docs/webhooks.md): the current one, and the
 * previous one with the time it stops being used, so receivers can switch without losing deliveries.
 * Endpoints stored before keep null and are signed with the tenant's WEBHOOK_SECRET until rotated.
 */
export class Migration20261125006000_webhook_secrets extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table recipients add column webhook_secret varchar(100) null;`);
    this.addSql(`alter table recipients add column webhook_secret_previous varchar(100) null;`);
    this.addSql(`alter table recipients add column webhook_secret_previous_until timestamptz null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table recipients drop column webhook_secret_previous_until;`);
    this.addSql(`alter table recipients drop column webhook_secret_previous;`);
    this.addSql(`alter table recipients drop column webhook_secret;`);
  }
}

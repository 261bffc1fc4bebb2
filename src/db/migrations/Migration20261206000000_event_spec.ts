import { Migration } from '@mikro-orm/migrations';

/**
 * An event's plan (EventSpec: template, channels, data, options) kept beside its open-channel count, so
 * an operator's redrive of expired notifications can run the event again after its workflow closed
 * (docs/contracts.md, "Durability invariants"). Written by the same statement that stores the rows.
 */
export class Migration20261206000000_event_spec extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table notification_events add column if not exists spec jsonb;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table notification_events drop column if exists spec;`);
  }
}

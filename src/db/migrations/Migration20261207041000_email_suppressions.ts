import { Migration } from '@mikro-orm/migrations';

/**
 * Delivery receipts (docs/tracking-and-receipts.md): addresses a provider reported as hard-bounced or
 * complaining, consulted at admission. Kept by hash of the lower-cased address only, so the list
 * holds no address in clear; `address_hint` (a***@example.com) is for the operators' list. A lift
 * keeps the row (who, when); a new bounce suppresses again. Receipts without our metadata find their
 * notification by the provider's message id (partial index on send_records).
 */
export class Migration20261207041000_email_suppressions extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table email_suppressions (
      address_hash text primary key,
      address_hint text not null,
      reason text not null,
      source text not null,
      notification_id uuid,
      detail text,
      created_at timestamptz not null default now(),
      lifted_at timestamptz,
      lifted_by text,
      constraint email_suppressions_reason_check check (reason in ('bounced', 'complained'))
    );`);
    this.addSql(
      `create index email_suppressions_active_idx on email_suppressions (created_at desc) where lifted_at is null;`,
    );
    this.addSql(
      `create index if not exists send_records_provider_message_id_idx on send_records (provider_message_id) where provider_message_id is not null;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists send_records_provider_message_id_idx;`);
    this.addSql(`drop table if exists email_suppressions;`);
  }
}

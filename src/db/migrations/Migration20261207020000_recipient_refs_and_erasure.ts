import { Migration } from '@mikro-orm/migrations';

/**
 * Opaque recipient ids and erasure (docs/contracts.md, "Workflows and ids"; docs/data-lifecycle.md,
 * "Erasure"). `recipients.ref` is a random UUID made with the recipient: workflow ids and search attributes
 * carry it instead of the shop's user id, and it is deleted with the recipient, so after an erasure nothing
 * in Temporal leads back to the person. Existing recipients get one each (a volatile default is evaluated
 * per row). `erased_recipients` is the tombstone of an erasure: when, and how many rows of each family went;
 * no user id, no hash of one.
 */
export class Migration20261207020000_recipient_refs_and_erasure extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table recipients add column if not exists ref uuid not null default gen_random_uuid();`,
    );
    this.addSql(`create unique index if not exists recipients_ref_unique on recipients (ref);`);
    this.addSql(`
      create table if not exists erased_recipients (
        id uuid primary key default gen_random_uuid(),
        erased_at timestamptz not null default now(),
        counts jsonb not null
      );`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists erased_recipients;`);
    this.addSql(`drop index if exists recipients_ref_unique;`);
    this.addSql(`alter table recipients drop column if exists ref;`);
  }
}

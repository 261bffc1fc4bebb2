import { Migration } from '@mikro-orm/migrations';

/**
 * Experiments on templates (docs/experiments.md): the experiments table, and each notification's
 * experiment and variant, written once when its row is inserted (src/state/notification-store.ts).
 */
export class Migration20261207050000_experiments extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table experiments (
      id uuid primary key default gen_random_uuid(),
      name text not null,
      template_code text not null,
      channel text,
      campaign_id uuid,
      variants jsonb not null,
      metric text not null,
      window_start timestamptz,
      window_end timestamptz,
      state text not null default 'draft',
      winner text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint experiments_metric_check check (metric in ('delivered', 'opened', 'clicked', 'converted')),
      constraint experiments_state_check check (state in ('draft', 'running', 'stopped', 'promoted'))
    );`);
    // One running experiment per template code; admission looks it up on every page of recipients.
    this.addSql(
      `create unique index experiments_running_idx on experiments (template_code) where state = 'running';`,
    );
    this.addSql(`create index experiments_created_at_idx on experiments (created_at desc);`);
    this.addSql(`alter table notifications add column experiment_id uuid, add column variant text;`);
  }

  override async down(): Promise<void> {
    this.addSql(
      `alter table notifications drop column if exists experiment_id, drop column if exists variant;`,
    );
    this.addSql(`drop table if exists experiments;`);
  }
}

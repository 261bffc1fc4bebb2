import { Migration } from '@mikro-orm/migrations';

/**
 * Analytics rollups (docs/analytics.md): hourly counts of first engagements per template code,
 * campaign, experiment, variant and channel, kept by src/operations/analytics-rollup.ts from
 * notification_engagement by its seq watermark. '' stands for "none" in the key columns (a primary key
 * holds no nulls).
 */
export class Migration20261207051000_analytics extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table analytics_hourly (
      bucket timestamptz not null,
      template_code text not null,
      campaign_id text not null default '',
      experiment_id text not null default '',
      variant text not null default '',
      channel text not null,
      sent integer not null default 0,
      delivered integer not null default 0,
      undelivered integer not null default 0,
      bounced integer not null default 0,
      complained integer not null default 0,
      opened integer not null default 0,
      clicked integer not null default 0,
      read integer not null default 0,
      converted integer not null default 0,
      primary key (bucket, template_code, campaign_id, experiment_id, variant, channel)
    );`);
    this.addSql(
      `create index analytics_hourly_experiment_idx on analytics_hourly (experiment_id) where experiment_id <> '';`,
    );
    this.addSql(`create table analytics_watermark (
      name text primary key,
      seq bigint not null default 0,
      updated_at timestamptz not null default now()
    );`);
    this.addSql(`insert into analytics_watermark (name, seq) values ('engagement', 0);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists analytics_watermark;`);
    this.addSql(`drop table if exists analytics_hourly;`);
  }
}

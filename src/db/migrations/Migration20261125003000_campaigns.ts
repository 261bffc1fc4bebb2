import { Migration } from '@mikro-orm/migrations';
import { CAMPAIGN_TEMPLATES } from '../seeds/campaign-templates';

/** Marketing campaigns (state owned by campaignWorkflow) and version 1 of the marketing templates. */
export class Migration20261125003000_campaigns extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table campaigns (
        id uuid primary key,
        name varchar(200) not null,
        template_code varchar(100) not null,
        segment jsonb not null,
        variables jsonb not null default '{}',
        channels jsonb null,
        priority varchar(16) not null,
        scheduled_at timestamptz not null,
        state varchar(16) not null check (state in ('scheduled', 'running', 'completed', 'cancelled')),
        targeted int not null default 0,
        started int not null default 0,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      );`);
    this.addSql(`create index campaigns_created_at_id_idx on campaigns (created_at desc, id desc);`);
    for (const template of CAMPAIGN_TEMPLATES) {
      for (const [channel, fields] of Object.entries(template.channels)) {
        this.addSql(
          this.getKnex().raw(
            `insert into templates (code, channel, locale, version, category, fields) values (?, ?, ?, 1, ?, ?::jsonb)
             on conflict (code, channel, locale, version) do nothing`,
            [template.code, channel, template.locale, template.category, JSON.stringify(fields)],
          ),
        );
      }
    }
  }

  override async down(): Promise<void> {
    this.addSql(this.getKnex().raw(`delete from templates where version = 1 and code = any(?);`, [CAMPAIGN_TEMPLATES.map((t) => t.code)]));
    this.addSql(`drop table if exists campaigns;`);
  }
}

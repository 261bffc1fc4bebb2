import { Migration } from '@mikro-orm/migrations';
import { addTemplateSeeds, removeTemplateSeeds } from '../seeds/insert-template-seeds';
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
    addTemplateSeeds(this, CAMPAIGN_TEMPLATES);
  }

  override async down(): Promise<void> {
    removeTemplateSeeds(this, CAMPAIGN_TEMPLATES);
    this.addSql(`drop table if exists campaigns;`);
  }
}

import { Migration } from '@mikro-orm/migrations';
import { DEFAULT_TEMPLATES } from '../seeds/default-templates';

/** Version 1 of every default template; existing rows are left alone. */
export class Migration20261125000100_default_templates extends Migration {
  override async up(): Promise<void> {
    for (const template of DEFAULT_TEMPLATES) {
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
    this.addSql(this.getKnex().raw(`delete from templates where version = 1 and code = any(?);`, [DEFAULT_TEMPLATES.map((t) => t.code)]));
  }
}

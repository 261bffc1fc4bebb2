import { Migration } from '@mikro-orm/migrations';
import { addTemplateVersions, removeTemplateVersions } from '../seeds/insert-template-seeds';
import { PLAN_TEMPLATES } from '../seeds/plan-templates';

/**
 * The original plan's variable names: recipients get a `name` (templates' `userName` defaults to it),
 * and every default template gets a new version (each channel and locale) written in those names.
 */
export class Migration20261125004000_plan_variables extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table recipients add column if not exists name varchar(200) null;`);
    addTemplateVersions(this, PLAN_TEMPLATES);
  }

  override async down(): Promise<void> {
    removeTemplateVersions(this, PLAN_TEMPLATES);
    this.addSql(`alter table recipients drop column if exists name;`);
  }
}

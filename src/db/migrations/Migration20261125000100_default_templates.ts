import { Migration } from '@mikro-orm/migrations';
import { addTemplateSeeds, removeTemplateSeeds } from '../seeds/insert-template-seeds';
import { DEFAULT_TEMPLATES } from '../seeds/default-templates';

/** Version 1 of every default template; existing rows are left alone. */
export class Migration20261125000100_default_templates extends Migration {
  override async up(): Promise<void> {
    addTemplateSeeds(this, DEFAULT_TEMPLATES);
  }

  override async down(): Promise<void> {
    removeTemplateSeeds(this, DEFAULT_TEMPLATES);
  }
}

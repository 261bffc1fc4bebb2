import { Migration } from '@mikro-orm/migrations';
import { addTemplateVersions, removeTemplateVersions } from '../seeds/insert-template-seeds';
import { LOCALIZED_TEMPLATES } from '../seeds/localized-templates';

/**
 * Emails in the shop's layout and the shopper's language (docs/emails-and-locales.md): every event
 * template in en (a new version: formatted money, a button on SHOP_URL), de and hi (version 1).
 */
export class Migration20261206030000_locales_and_layout extends Migration {
  override async up(): Promise<void> {
    addTemplateVersions(this, LOCALIZED_TEMPLATES);
  }

  override async down(): Promise<void> {
    removeTemplateVersions(this, LOCALIZED_TEMPLATES);
  }
}

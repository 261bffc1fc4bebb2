import { Migration } from '@mikro-orm/migrations';
import { addTemplateSeeds, removeTemplateSeeds } from '../seeds/insert-template-seeds';
import type { TemplateSeed } from '../seeds/default-templates';

/** Digest templates (docs/digests-and-caps.md): variables `count`, `itemsText` (one line per item), `items`. */
const DIGEST_TEMPLATES: TemplateSeed[] = [
  {
    code: 'inventory_low_stock_digest',
    category: 'inventory_alerts',
    locale: 'en',
    channels: {
      in_app: {
        title: 'Low stock: {{count}} alerts',
        body: '{{itemsText}}',
        actionText: 'Restock',
        actionUrl: '/admin/inventory',
      },
      email: {
        subject: 'Low stock digest: {{count}} alerts',
        html: '<p>{{count}} products ran low:</p><pre>{{itemsText}}</pre>',
        text: '{{count}} products ran low:\n{{itemsText}}',
      },
    },
  },
  ...(['marketing', 'inventory_alerts'] as const).map((category): TemplateSeed => ({
    code: `daily_digest_${category}`,
    category,
    locale: 'en',
    channels: {
      in_app: { title: 'Your daily digest: {{count}} updates', body: '{{itemsText}}' },
      email: {
        subject: 'Your daily digest: {{count}} updates',
        html: '<p>Since yesterday:</p><pre>{{itemsText}}</pre>',
        text: 'Since yesterday:\n{{itemsText}}',
      },
    },
  })),
];

/**
 * Digests and frequency caps: shoppers' daily-digest choices per category, the ledger frequency caps
 * count in (one entry per recipient, category and event admitted; read through its primary key's
 * prefix and the time index), and the digest templates.
 */
export class Migration20261206020000_digests_and_caps extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table if not exists digest_preferences (
        recipient_id varchar(200) not null references recipients (id) on delete cascade,
        category varchar(64) not null,
        hour smallint not null check (hour between 0 and 23),
        updated_at timestamptz not null default now(),
        primary key (recipient_id, category)
      );`);
    this.addSql(`
      create table if not exists frequency_cap_sends (
        recipient_id varchar(200) not null,
        category varchar(64) not null,
        event_id varchar(255) not null,
        sent_at timestamptz not null,
        primary key (recipient_id, category, event_id)
      );`);
    this.addSql(
      `create index if not exists frequency_cap_sends_recent_idx on frequency_cap_sends (recipient_id, category, sent_at);`,
    );
    addTemplateSeeds(this, DIGEST_TEMPLATES);
  }

  override async down(): Promise<void> {
    removeTemplateSeeds(this, DIGEST_TEMPLATES);
    this.addSql(`drop table if exists frequency_cap_sends;`);
    this.addSql(`drop table if exists digest_preferences;`);
  }
}

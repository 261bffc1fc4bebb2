import { EntitySchema } from '@mikro-orm/core';
import type { Channel } from '../../domain/channels';

/**
 * One version of one template for one channel and locale. Versions are append-only:
 * a new version is a new row, and a notification records the version it used.
 * `fields` holds the template source per content field (subject/html/text, title/body, ...).
 */
export class Template {
  id!: string;
  code!: string;
  channel!: Channel;
  locale!: string;
  version!: number;
  category!: string;
  fields!: Record<string, string>;
  createdAt: Date = new Date();
}

export const TemplateSchema = new EntitySchema<Template>({
  class: Template,
  tableName: 'templates',
  uniques: [{ properties: ['code', 'channel', 'locale', 'version'] }],
  properties: {
    id: { type: 'uuid', primary: true, defaultRaw: 'gen_random_uuid()' },
    code: { type: 'string', length: 100 },
    channel: { type: 'string', length: 16 },
    locale: { type: 'string', length: 16 },
    version: { type: 'integer' },
    category: { type: 'string', length: 64 },
    fields: { type: 'json' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});

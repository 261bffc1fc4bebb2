import { EntitySchema } from '@mikro-orm/core';
import type { Channel } from '../../domain/channels';

/** An explicit opt-in/out of one recipient for one category on one channel; absent = enabled. */
export class Preference {
  id!: string;
  recipientId!: string;
  category!: string;
  channel!: Channel;
  enabled!: boolean;
  updatedAt: Date = new Date();
}

export const PreferenceSchema = new EntitySchema<Preference>({
  class: Preference,
  tableName: 'preferences',
  uniques: [{ properties: ['recipientId', 'category', 'channel'] }],
  properties: {
    id: { type: 'uuid', primary: true, defaultRaw: 'gen_random_uuid()' },
    recipientId: { type: 'string', length: 200 },
    category: { type: 'string', length: 64 },
    channel: { type: 'string', length: 16 },
    enabled: { type: 'boolean' },
    updatedAt: { type: 'Date', onCreate: () => new Date(), onUpdate: () => new Date() },
  },
});

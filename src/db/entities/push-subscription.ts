import { EntitySchema } from '@mikro-orm/core';

export class PushSubscription {
  id!: string;
  recipientId!: string;
  endpoint!: string;
  p256dh!: string;
  auth!: string;
  createdAt: Date = new Date();
}

export const PushSubscriptionSchema = new EntitySchema<PushSubscription>({
  class: PushSubscription,
  tableName: 'push_subscriptions',
  properties: {
    id: { type: 'uuid', primary: true, defaultRaw: 'gen_random_uuid()' },
    recipientId: { type: 'string', length: 200, index: true },
    endpoint: { type: 'string', length: 2048, unique: true },
    p256dh: { type: 'string', length: 200 },
    auth: { type: 'string', length: 100 },
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});

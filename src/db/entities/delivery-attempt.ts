import { EntitySchema } from '@mikro-orm/core';
import type { Channel } from '../../domain/channels';

/** `interrupted`: the worker died mid-send (found when its stale claim was taken over); `skipped_duplicate`: already sent, provider not called. */
export type DeliveryAttemptStatus =
  'delivered' | 'failed' | 'rate_limited' | 'skipped_duplicate' | 'skipped_cancelled' | 'interrupted';

/** One try of one channel send, successful or not. */
export class DeliveryAttempt {
  id!: string;
  notificationId!: string;
  channel!: Channel;
  attempt!: number;
  status!: DeliveryAttemptStatus;
  provider!: string;
  providerMessageId: string | null = null;
  error: string | null = null;
  startedAt!: Date;
  finishedAt!: Date;
  durationMs!: number;
}

export const DeliveryAttemptSchema = new EntitySchema<DeliveryAttempt>({
  class: DeliveryAttempt,
  tableName: 'delivery_attempts',
  indexes: [
    { properties: ['notificationId', 'channel'] },
    { name: 'delivery_attempts_finished_at_idx', properties: ['finishedAt'] },
  ],
  properties: {
    id: { type: 'uuid', primary: true, defaultRaw: 'gen_random_uuid()' },
    notificationId: { type: 'uuid' },
    channel: { type: 'string', length: 16 },
    attempt: { type: 'integer' },
    status: { type: 'string', length: 32 },
    provider: { type: 'string', length: 64 },
    providerMessageId: { type: 'string', length: 200, nullable: true },
    error: { type: 'text', nullable: true },
    startedAt: { type: 'Date' },
    finishedAt: { type: 'Date' },
    durationMs: { type: 'integer' },
  },
});

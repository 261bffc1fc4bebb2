import { EntitySchema } from '@mikro-orm/core';
import type { Channel } from '../../domain/channels';

/**
 * `cancelled`: the channel was given up (fell back, or the notification was cancelled): a late job skips the provider.
 * `unknown`: a worker died mid-send on an at-most-once channel (docs/delivery.md, "Exactly once towards providers"): never sent again.
 */
export type SendRecordStatus = 'sending' | 'sent' | 'failed' | 'cancelled' | 'unknown';

/**
 * The exactly-once guard towards providers: one row per (notification, channel).
 * A worker claims it before calling the provider; `sent` means never call again.
 */
export class SendRecord {
  notificationId!: string;
  channel!: Channel;
  status!: SendRecordStatus;
  providerMessageId: string | null = null;
  claimedBy: string | null = null;
  claimedAt: Date | null = null;
  sentAt: Date | null = null;
}

export const SendRecordSchema = new EntitySchema<SendRecord>({
  class: SendRecord,
  tableName: 'send_records',
  properties: {
    notificationId: { type: 'uuid', primary: true },
    channel: { type: 'string', length: 16, primary: true },
    status: { type: 'string', length: 16 },
    providerMessageId: { type: 'string', length: 200, nullable: true },
    claimedBy: { type: 'string', length: 200, nullable: true },
    claimedAt: { type: 'Date', nullable: true },
    sentAt: { type: 'Date', nullable: true },
  },
});

import { EntitySchema } from '@mikro-orm/core';
import type { QuietHours } from '../../domain/quiet-hours';

export class Recipient {
  id!: string;
  /** Shown in notifications: templates' `userName` defaults to it. */
  name: string | null = null;
  email: string | null = null;
  phone: string | null = null;
  timezone = 'UTC';
  locale = 'en';
  roles: string[] = [];
  /** Global mute: every non-mandatory channel is suppressed. */
  muted = false;
  quietHours: QuietHours | null = null;
  webhookUrl: string | null = null;
  /** Signs deliveries to webhookUrl; null for endpoints stored before per-endpoint secrets (WEBHOOK_SECRET signs those). Never shown again after it was issued. */
  webhookSecret: string | null = null;
  /** The secret before the last rotation, also signing until webhookSecretPreviousUntil. */
  webhookSecretPrevious: string | null = null;
  webhookSecretPreviousUntil: Date | null = null;
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
}

export const RecipientSchema = new EntitySchema<Recipient>({
  class: Recipient,
  tableName: 'recipients',
  properties: {
    id: { type: 'string', primary: true, length: 200 },
    name: { type: 'string', nullable: true, length: 200 },
    email: { type: 'string', nullable: true, length: 320 },
    phone: { type: 'string', nullable: true, length: 32 },
    timezone: { type: 'string', length: 64 },
    locale: { type: 'string', length: 16 },
    roles: { type: 'text[]' },
    muted: { type: 'boolean' },
    quietHours: { type: 'json', nullable: true },
    webhookUrl: { type: 'string', nullable: true, length: 2048 },
    webhookSecret: { type: 'string', nullable: true, length: 100, hidden: true },
    webhookSecretPrevious: { type: 'string', nullable: true, length: 100, hidden: true },
    webhookSecretPreviousUntil: { type: 'Date', nullable: true, hidden: true },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    updatedAt: { type: 'Date', onCreate: () => new Date(), onUpdate: () => new Date() },
  },
});

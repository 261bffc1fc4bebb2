import type { Channel } from './channels';
import type { EventType } from './business-event';

/**
 * The one table mapping business events to templates, categories and channels.
 * Adding an event is one entry here plus its templates (seeded by a migration).
 */
export interface EventDefinition {
  templateCode: string;
  category: Category;
  /** Channels tried when the envelope does not restrict them. */
  channels: Channel[];
  /** Recipients when the envelope names none: every recipient with this role. */
  defaultRecipientRole?: string;
}

export const CATEGORIES = ['order_updates', 'payment_updates', 'inventory_alerts', 'marketing', 'account'] as const;
export type Category = (typeof CATEGORIES)[number];

/** Categories a recipient cannot switch off on these channels (legal/transactional mail). */
export const MANDATORY_CHANNELS: Partial<Record<Category, Channel[]>> = {
  order_updates: ['in_app', 'email'],
  payment_updates: ['in_app', 'email'],
};

export const EVENT_CATALOG: Record<EventType, EventDefinition> = {
  ORDER_CREATED: { templateCode: 'order_created', category: 'order_updates', channels: ['in_app', 'email'] },
  ORDER_SHIPPED: { templateCode: 'order_shipped', category: 'order_updates', channels: ['in_app', 'email', 'push'] },
  ORDER_DELIVERED: { templateCode: 'order_delivered', category: 'order_updates', channels: ['in_app', 'email', 'push'] },
  PAYMENT_CAPTURED: { templateCode: 'payment_captured', category: 'payment_updates', channels: ['in_app', 'email'] },
  PAYMENT_FAILED: { templateCode: 'payment_failed', category: 'payment_updates', channels: ['in_app', 'email', 'sms'] },
  INVENTORY_LOW_STOCK: {
    templateCode: 'inventory_low_stock',
    category: 'inventory_alerts',
    channels: ['in_app', 'email'],
    defaultRecipientRole: 'admin',
  },
};

export function isMandatory(category: string, channel: Channel): boolean {
  return (MANDATORY_CHANNELS[category as Category] ?? []).includes(channel);
}

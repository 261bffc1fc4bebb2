import type { Channel } from './channels';
import type { EventType } from './event-types';

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
  /** A later notification this event schedules per recipient (e.g. a payment reminder). */
  followUp?: FollowUpDefinition;
  /** Follow-ups of these kinds for the same order and recipient are cancelled when this event arrives. */
  cancelsFollowUps?: FollowUpKind[];
  /** Still-waiting notifications of these events for the same order and recipient are cancelled. */
  supersedes?: EventType[];
  /** Channel tried when one fails for good or cannot reach the recipient; default DEFAULT_FALLBACKS. */
  fallbacks?: Partial<Record<Channel, Channel>>;
}

/** Fallbacks of templates that name none: a push that cannot be delivered goes out as SMS. */
export const DEFAULT_FALLBACKS: Partial<Record<Channel, Channel>> = { push: 'sms' };

export const FOLLOW_UP_KINDS = ['payment_reminder'] as const;
export type FollowUpKind = (typeof FOLLOW_UP_KINDS)[number];

export interface FollowUpDefinition {
  kind: FollowUpKind;
  templateCode: string;
}

/**
 * The data field tying events of one order together; follow-up ids and supersession use it.
 * Events without it get no follow-ups and supersede nothing.
 */
export const CORRELATION_FIELD = 'orderNumber';

export const CATEGORIES = [
  'order_updates',
  'payment_updates',
  'inventory_alerts',
  'marketing',
  'account',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** Categories a recipient cannot switch off on these channels (legal/transactional mail). */
export const MANDATORY_CHANNELS: Partial<Record<Category, Channel[]>> = {
  order_updates: ['in_app', 'email'],
  payment_updates: ['in_app', 'email'],
};

export const EVENT_CATALOG: Record<EventType, EventDefinition> = {
  ORDER_CREATED: { templateCode: 'order_created', category: 'order_updates', channels: ['in_app', 'email'] },
  ORDER_SHIPPED: {
    templateCode: 'order_shipped',
    category: 'order_updates',
    channels: ['in_app', 'email', 'push'],
  },
  ORDER_DELIVERED: {
    templateCode: 'order_delivered',
    category: 'order_updates',
    channels: ['in_app', 'email', 'push'],
    supersedes: ['ORDER_SHIPPED'],
  },
  ORDER_CANCELLED: {
    templateCode: 'order_cancelled',
    category: 'order_updates',
    channels: ['in_app', 'email'],
    // A cancelled order needs no payment reminder; its journey ends (docs/order-journeys.md).
    cancelsFollowUps: ['payment_reminder'],
  },
  PAYMENT_CAPTURED: {
    templateCode: 'payment_captured',
    category: 'payment_updates',
    channels: ['in_app', 'email'],
    cancelsFollowUps: ['payment_reminder'],
  },
  PAYMENT_FAILED: {
    templateCode: 'payment_failed',
    category: 'payment_updates',
    channels: ['in_app', 'email', 'sms'],
    followUp: { kind: 'payment_reminder', templateCode: 'payment_failed_reminder' },
  },
  INVENTORY_LOW_STOCK: {
    templateCode: 'inventory_low_stock',
    category: 'inventory_alerts',
    channels: ['in_app', 'email'],
    defaultRecipientRole: 'admin',
    // Staff alerts go to the admin inbox, never to personal phones.
    fallbacks: { push: 'email' },
  },
};

/** Fallbacks of a template code: those of the event that uses it, else the defaults (direct sends). */
export function fallbacksFor(templateCode: string): Partial<Record<Channel, Channel>> {
  const definition = Object.values(EVENT_CATALOG).find((d) => d.templateCode === templateCode);
  return definition?.fallbacks ?? DEFAULT_FALLBACKS;
}

/** The order a business event belongs to, when its data names one. */
export function correlationKeyOf(data: Record<string, unknown>): string | null {
  const value = data[CORRELATION_FIELD];
  return typeof value === 'string' || typeof value === 'number' ? String(value) : null;
}

export function isMandatory(category: string, channel: Channel): boolean {
  return (MANDATORY_CHANNELS[category as Category] ?? []).includes(channel);
}

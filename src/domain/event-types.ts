/** The business events the service knows (docs/contracts.md, "Business event envelope"). */
export const EVENT_TYPES = [
  'ORDER_CREATED',
  'ORDER_SHIPPED',
  'ORDER_DELIVERED',
  'ORDER_CANCELLED',
  'PAYMENT_CAPTURED',
  'PAYMENT_FAILED',
  'INVENTORY_LOW_STOCK',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

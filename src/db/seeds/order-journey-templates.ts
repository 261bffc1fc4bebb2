import type { TemplateSeed } from './default-templates';

/**
 * Templates of order journeys (docs/order-journeys.md), version 1, seeded by
 * Migration20261206040000_order_journeys: ORDER_CANCELLED's, the one message of a shipment delivered
 * within the fold window, and the journey's own delay message. Optional variables render inside `{{#if}}`.
 */
export const ORDER_JOURNEY_TEMPLATES: TemplateSeed[] = [
  {
    code: 'order_cancelled',
    category: 'order_updates',
    locale: 'en',
    channels: {
      in_app: {
        title: 'Order {{orderNumber}} cancelled',
        body: 'Your order was cancelled.{{#if reason}} {{reason}}{{/if}}',
        actionText: 'View order',
        actionUrl: '{{#if orderUrl}}{{orderUrl}}{{else}}/orders/{{orderNumber}}{{/if}}',
      },
      email: {
        subject: 'Your order {{orderNumber}} was cancelled',
        html: '<p>{{#if userName}}Hi {{userName}}, your{{else}}Your{{/if}} order <strong>{{orderNumber}}</strong> was cancelled.{{#if reason}} {{reason}}{{/if}}</p><p>Any payment taken will be refunded.</p>',
        text: '{{#if userName}}Hi {{userName}}, your{{else}}Your{{/if}} order {{orderNumber}} was cancelled.{{#if reason}} {{reason}}{{/if}}\n\nAny payment taken will be refunded.',
      },
    },
  },
  {
    code: 'order_shipped_delivered',
    category: 'order_updates',
    locale: 'en',
    channels: {
      in_app: {
        title: 'Order {{orderNumber}} shipped and delivered',
        body: 'Your order was shipped and has already been delivered. Enjoy!',
        actionText: 'View order',
        actionUrl: '{{#if orderUrl}}{{orderUrl}}{{else}}/orders/{{orderNumber}}{{/if}}',
      },
      email: {
        subject: 'Your order {{orderNumber}} was shipped and delivered',
        html: '<p>Order <strong>{{orderNumber}}</strong> was shipped and has already been delivered.{{#if trackingNumber}} Tracking number: {{trackingNumber}}.{{/if}} We hope you enjoy it.</p>',
        text: 'Order {{orderNumber}} was shipped and has already been delivered.{{#if trackingNumber}} Tracking number: {{trackingNumber}}.{{/if}} We hope you enjoy it.',
      },
      sms: { text: 'Order {{orderNumber}} was shipped and delivered.' },
      push: {
        title: 'Order shipped and delivered',
        body: 'Order {{orderNumber}} was shipped and delivered.',
        actionUrl: '/orders/{{orderNumber}}',
      },
    },
  },
  {
    code: 'order_delayed',
    category: 'order_updates',
    locale: 'en',
    channels: {
      in_app: {
        title: 'Order {{orderNumber}} is running late',
        body: "Your order hasn't shipped by the date we promised. We're on it and will tell you as soon as it ships.",
        actionText: 'View order',
        actionUrl: '/orders/{{orderNumber}}',
      },
      email: {
        subject: 'Your order {{orderNumber}} is running late',
        html: "<p>Your order <strong>{{orderNumber}}</strong> hasn't shipped by the promised date ({{promisedShipBy}}).</p><p>Here is what's happening: it is still being prepared, and we will email you as soon as it ships. Nothing is needed from you.</p>",
        text: "Your order {{orderNumber}} hasn't shipped by the promised date ({{promisedShipBy}}).\n\nHere is what's happening: it is still being prepared, and we will email you as soon as it ships. Nothing is needed from you.",
      },
    },
  },
];

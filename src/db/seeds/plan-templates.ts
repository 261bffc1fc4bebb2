import type { TemplateSeed } from './default-templates';

/**
 * The default templates in the original integration plan's variable names (src/domain/event-data.ts
 * lists them per event), added as a new version of every channel and locale by
 * Migration20261125004000_plan_variables. Optional variables render only inside `{{#if}}`, so the
 * minimal data of each event renders every channel; `userName` defaults to the recipient's name.
 */
const greeting = (fallback: string) => `{{#if userName}}Hi {{userName}},{{else}}${fallback}{{/if}}`;
const orderLink = (path: string) =>
  `{{#if orderUrl}}{{orderUrl}}{{else}}/orders/{{orderNumber}}${path}{{/if}}`;
const money = (amount: string) =>
  `{{#if ${amount} includeZero=true}} of {{${amount}}}{{#if currency}} {{currency}}{{/if}}{{/if}}`;
const htmlOrderLink = (label: string) => `{{#if orderUrl}}<p><a href="{{orderUrl}}">${label}</a></p>{{/if}}`;
const textOrderLink = (label: string) => `{{#if orderUrl}}\n\n${label}: {{orderUrl}}{{/if}}`;
const paymentId = (lead: string) => `{{#if paymentId}}${lead}Payment id: {{paymentId}}.{{/if}}`;
const tracking = (lead: string) => `{{#if trackingNumber}}${lead}Tracking number: {{trackingNumber}}.{{/if}}`;

export const PLAN_TEMPLATES: TemplateSeed[] = [
  {
    code: 'order_created',
    category: 'order_updates',
    locale: 'en',
    channels: {
      in_app: {
        title:
          '{{#if userName}}{{userName}}, your order {{orderNumber}} is placed{{else}}Order {{orderNumber}} placed{{/if}}',
        body: `Thanks for your order${money('total')}.{{#if itemCount}} {{itemCount}} item(s).{{/if}}`,
        actionText: 'View order',
        actionUrl: orderLink(''),
      },
      email: {
        subject: 'We received your order {{orderNumber}}',
        html: `<p>${greeting('Hello,')}</p><h1>Thank you for your order</h1><p>Order <strong>{{orderNumber}}</strong>{{#if itemCount}} ({{itemCount}} item(s)){{/if}}{{#if total includeZero=true}} totalling {{total}}{{#if currency}} {{currency}}{{/if}}{{/if}} is confirmed.</p>${htmlOrderLink('View your order')}`,
        text: `${greeting('Hello,')}\n\nThank you for your order. Order {{orderNumber}}{{#if itemCount}} ({{itemCount}} item(s)){{/if}}{{#if total includeZero=true}} totalling {{total}}{{#if currency}} {{currency}}{{/if}}{{/if}} is confirmed.${textOrderLink('View your order')}`,
      },
      sms: {
        text: 'Order {{orderNumber}} confirmed{{#if total includeZero=true}}: {{total}}{{#if currency}} {{currency}}{{/if}}{{/if}}.',
      },
      push: {
        title: 'Order placed',
        body: '{{#if userName}}{{userName}}, order{{else}}Order{{/if}} {{orderNumber}} is confirmed.',
        actionUrl: orderLink(''),
      },
    },
  },
  {
    code: 'order_shipped',
    category: 'order_updates',
    locale: 'en',
    channels: {
      in_app: {
        title:
          '{{#if userName}}{{userName}}, your order {{orderNumber}} has shipped{{else}}Order {{orderNumber}} shipped{{/if}}',
        body: `Your order is on its way.${tracking(' ')}`,
        actionText: 'Track order',
        actionUrl: orderLink('/tracking'),
      },
      email: {
        subject: 'Your order {{orderNumber}} has shipped',
        html: `<p>${greeting('Hello,')}</p><p>Good news: order <strong>{{orderNumber}}</strong> is on its way.</p>{{#if trackingNumber}}<p>Tracking number: <strong>{{trackingNumber}}</strong></p>{{/if}}${htmlOrderLink('Track your order')}`,
        text: `${greeting('Hello,')}\n\nGood news: order {{orderNumber}} is on its way.${tracking(' ')}${textOrderLink('Track your order')}`,
      },
      sms: { text: `Order {{orderNumber}} has shipped.${tracking(' ')}` },
      push: {
        title: 'Order shipped',
        body: `Order {{orderNumber}} is on its way.${tracking(' ')}`,
        actionUrl: orderLink('/tracking'),
      },
    },
  },
  {
    code: 'order_delivered',
    category: 'order_updates',
    locale: 'en',
    channels: {
      in_app: {
        title:
          '{{#if userName}}{{userName}}, your order {{orderNumber}} was delivered{{else}}Order {{orderNumber}} delivered{{/if}}',
        body: 'Your order was delivered. Enjoy!',
        actionText: 'Rate your order',
        actionUrl: orderLink(''),
      },
      email: {
        subject: 'Your order {{orderNumber}} was delivered',
        html: `<p>${greeting('Hello,')}</p><p>Order <strong>{{orderNumber}}</strong> was delivered. We hope you enjoy it.</p>${htmlOrderLink('View your order')}`,
        text: `${greeting('Hello,')}\n\nOrder {{orderNumber}} was delivered. We hope you enjoy it.${textOrderLink('View your order')}`,
      },
      sms: { text: 'Order {{orderNumber}} was delivered.' },
      push: {
        title: 'Order delivered',
        body: 'Order {{orderNumber}} was delivered.',
        actionUrl: orderLink(''),
      },
    },
  },
  {
    code: 'payment_captured',
    category: 'payment_updates',
    locale: 'en',
    channels: {
      in_app: {
        title: '{{#if userName}}{{userName}}, we received your payment{{else}}Payment received{{/if}}',
        body: `We received your payment${money('amount')} for order {{orderNumber}}.${paymentId(' ')}`,
        actionText: 'View receipt',
        actionUrl: orderLink('/receipt'),
      },
      email: {
        subject: 'Payment received for order {{orderNumber}}',
        html: `<p>${greeting('Hello,')}</p><p>We received your payment${money('amount')} for order <strong>{{orderNumber}}</strong>.</p>{{#if paymentId}}<p>Payment id: {{paymentId}}</p>{{/if}}${htmlOrderLink('View your order')}`,
        text: `${greeting('Hello,')}\n\nWe received your payment${money('amount')} for order {{orderNumber}}.${paymentId(' ')}${textOrderLink('View your order')}`,
      },
      sms: { text: `Payment${money('amount')} received for order {{orderNumber}}.` },
      push: {
        title: 'Payment received',
        body: `Payment${money('amount')} for order {{orderNumber}} received.`,
        actionUrl: orderLink('/receipt'),
      },
    },
  },
  {
    code: 'payment_failed',
    category: 'payment_updates',
    locale: 'en',
    channels: {
      in_app: {
        title: '{{#if userName}}{{userName}}, your payment failed{{else}}Payment failed{{/if}}',
        body: `Payment${money('amount')} for order {{orderNumber}} failed. Please update your payment method.`,
        actionText: 'Retry payment',
        actionUrl: orderLink('/pay'),
      },
      email: {
        subject: 'Payment failed for order {{orderNumber}}',
        html: `<p>${greeting('Hello,')}</p><p>Your payment${money('amount')} for order <strong>{{orderNumber}}</strong> failed. Please update your payment method.</p>{{#if paymentId}}<p>Payment id: {{paymentId}}</p>{{/if}}${htmlOrderLink('Retry the payment')}`,
        text: `${greeting('Hello,')}\n\nYour payment${money('amount')} for order {{orderNumber}} failed. Please update your payment method.${paymentId(' ')}${textOrderLink('Retry the payment')}`,
      },
      sms: { text: 'Payment for order {{orderNumber}} failed. Please retry.' },
      push: {
        title: 'Payment failed',
        body: 'Payment for order {{orderNumber}} failed.',
        actionUrl: orderLink('/pay'),
      },
    },
  },
  {
    code: 'payment_failed_reminder',
    category: 'payment_updates',
    locale: 'en',
    channels: {
      in_app: {
        title: '{{#if userName}}{{userName}}, your order is waiting{{else}}Your order is waiting{{/if}}',
        body: 'Order {{orderNumber}} is still unpaid. Complete your payment to ship it.',
        actionText: 'Pay now',
        actionUrl: orderLink('/pay'),
      },
      email: {
        subject: 'Reminder: order {{orderNumber}} is waiting for payment',
        html: `<p>${greeting('Hello,')}</p><p>Order <strong>{{orderNumber}}</strong> is still unpaid{{#if amount includeZero=true}} ({{amount}}{{#if currency}} {{currency}}{{/if}}){{/if}}. Complete your payment so we can ship it.</p>${htmlOrderLink('Pay now')}`,
        text: `${greeting('Hello,')}\n\nOrder {{orderNumber}} is still unpaid{{#if amount includeZero=true}} ({{amount}}{{#if currency}} {{currency}}{{/if}}){{/if}}. Complete your payment so we can ship it.${textOrderLink('Pay now')}`,
      },
      sms: { text: 'Reminder: order {{orderNumber}} is still unpaid.' },
      push: {
        title: 'Payment reminder',
        body: 'Order {{orderNumber}} is still unpaid.',
        actionUrl: orderLink('/pay'),
      },
    },
  },
  {
    code: 'inventory_low_stock',
    category: 'inventory_alerts',
    locale: 'en',
    channels: {
      in_app: {
        title: 'Low stock: {{productName}}',
        body: '{{currentStock}} left{{#if threshold includeZero=true}} (alert threshold {{threshold}}){{/if}}.{{#if sku}} SKU {{sku}}.{{/if}}',
        actionText: 'Restock',
        actionUrl: '{{#if productUrl}}{{productUrl}}{{else}}/admin/inventory{{/if}}',
      },
      email: {
        subject: 'Low stock: {{productName}}{{#if sku}} ({{sku}}){{/if}}',
        html: `{{#if userName}}<p>Hi {{userName}},</p>{{/if}}<p><strong>{{productName}}</strong>{{#if sku}} (SKU {{sku}}){{/if}} is down to {{currentStock}} units{{#if threshold includeZero=true}}, below the alert threshold of {{threshold}}{{/if}}.</p>{{#if productUrl}}<p><a href="{{productUrl}}">Restock it</a></p>{{/if}}`,
        text: `{{#if userName}}Hi {{userName}},\n\n{{/if}}{{productName}}{{#if sku}} (SKU {{sku}}){{/if}} is down to {{currentStock}} units{{#if threshold includeZero=true}}, below the alert threshold of {{threshold}}{{/if}}.{{#if productUrl}}\n\nRestock it: {{productUrl}}{{/if}}`,
      },
      sms: { text: 'Low stock: {{productName}} has {{currentStock}} left.' },
      push: {
        title: 'Low stock',
        body: '{{productName}} has {{currentStock}} left.',
        actionUrl: '{{#if productUrl}}{{productUrl}}{{else}}/admin/inventory{{/if}}',
      },
    },
  },
];

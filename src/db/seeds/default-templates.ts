import type { Channel } from '../../domain/channels';
import type { Category } from '../../domain/event-catalog';

export interface TemplateSeed {
  code: string;
  category: Category;
  locale: string;
  channels: Partial<Record<Channel, Record<string, string>>>;
}

/**
 * Version 1 of the default templates, inserted by a migration. Handlebars syntax; every variable
 * referenced must be present in the event's data (strict rendering). Newer versions are added
 * through the template API, never by editing these rows.
 */
export const DEFAULT_TEMPLATES: TemplateSeed[] = [
  {
    code: 'order_created',
    category: 'order_updates',
    locale: 'en',
    channels: {
      in_app: {
        title: 'Order {{orderNumber}} placed',
        body: 'Thanks for your order of {{total}} {{currency}}.',
        actionText: 'View order',
        actionUrl: '/orders/{{orderNumber}}',
      },
      email: {
        subject: 'We received your order {{orderNumber}}',
        html: '<h1>Thank you for your order</h1><p>Order <strong>{{orderNumber}}</strong> totalling {{total}} {{currency}} is confirmed.</p>',
        text: 'Thank you for your order. Order {{orderNumber}} totalling {{total}} {{currency}} is confirmed.',
      },
      sms: { text: 'Order {{orderNumber}} confirmed: {{total}} {{currency}}.' },
      push: {
        title: 'Order placed',
        body: 'Order {{orderNumber}} is confirmed.',
        actionUrl: '/orders/{{orderNumber}}',
      },
    },
  },
  {
    code: 'order_shipped',
    category: 'order_updates',
    locale: 'en',
    channels: {
      in_app: {
        title: 'Order {{orderNumber}} shipped',
        body: 'Your order is on its way.',
        actionText: 'Track order',
        actionUrl: '/orders/{{orderNumber}}/tracking',
      },
      email: {
        subject: 'Your order {{orderNumber}} has shipped',
        html: '<p>Good news: order <strong>{{orderNumber}}</strong> is on its way.</p>',
        text: 'Good news: order {{orderNumber}} is on its way.',
      },
      sms: { text: 'Order {{orderNumber}} has shipped.' },
      push: {
        title: 'Order shipped',
        body: 'Order {{orderNumber}} is on its way.',
        actionUrl: '/orders/{{orderNumber}}/tracking',
      },
    },
  },
  {
    code: 'order_delivered',
    category: 'order_updates',
    locale: 'en',
    channels: {
      in_app: {
        title: 'Order {{orderNumber}} delivered',
        body: 'Your order was delivered. Enjoy!',
        actionText: 'Rate your order',
        actionUrl: '/orders/{{orderNumber}}',
      },
      email: {
        subject: 'Your order {{orderNumber}} was delivered',
        html: '<p>Order <strong>{{orderNumber}}</strong> was delivered. We hope you enjoy it.</p>',
        text: 'Order {{orderNumber}} was delivered. We hope you enjoy it.',
      },
      sms: { text: 'Order {{orderNumber}} was delivered.' },
      push: {
        title: 'Order delivered',
        body: 'Order {{orderNumber}} was delivered.',
        actionUrl: '/orders/{{orderNumber}}',
      },
    },
  },
  {
    code: 'payment_captured',
    category: 'payment_updates',
    locale: 'en',
    channels: {
      in_app: {
        title: 'Payment received',
        body: 'We received your payment for order {{orderNumber}}.',
        actionText: 'View receipt',
        actionUrl: '/orders/{{orderNumber}}/receipt',
      },
      email: {
        subject: 'Payment received for order {{orderNumber}}',
        html: '<p>We received your payment for order <strong>{{orderNumber}}</strong>.</p>',
        text: 'We received your payment for order {{orderNumber}}.',
      },
      sms: { text: 'Payment received for order {{orderNumber}}.' },
      push: {
        title: 'Payment received',
        body: 'Payment for order {{orderNumber}} received.',
        actionUrl: '/orders/{{orderNumber}}/receipt',
      },
    },
  },
  {
    code: 'payment_failed',
    category: 'payment_updates',
    locale: 'en',
    channels: {
      in_app: {
        title: 'Payment failed',
        body: 'Payment for order {{orderNumber}} failed. Please update your payment method.',
        actionText: 'Retry payment',
        actionUrl: '/orders/{{orderNumber}}/pay',
      },
      email: {
        subject: 'Payment failed for order {{orderNumber}}',
        html: '<p>Your payment for order <strong>{{orderNumber}}</strong> failed. Please update your payment method.</p>',
        text: 'Your payment for order {{orderNumber}} failed. Please update your payment method.',
      },
      sms: { text: 'Payment for order {{orderNumber}} failed. Please retry.' },
      push: {
        title: 'Payment failed',
        body: 'Payment for order {{orderNumber}} failed.',
        actionUrl: '/orders/{{orderNumber}}/pay',
      },
    },
  },
  {
    code: 'payment_failed_reminder',
    category: 'payment_updates',
    locale: 'en',
    channels: {
      in_app: {
        title: 'Your order is waiting',
        body: 'Order {{orderNumber}} is still unpaid. Complete your payment to ship it.',
        actionText: 'Pay now',
        actionUrl: '/orders/{{orderNumber}}/pay',
      },
      email: {
        subject: 'Reminder: order {{orderNumber}} is waiting for payment',
        html: '<p>Order <strong>{{orderNumber}}</strong> is still unpaid. Complete your payment so we can ship it.</p>',
        text: 'Order {{orderNumber}} is still unpaid. Complete your payment so we can ship it.',
      },
      sms: { text: 'Reminder: order {{orderNumber}} is still unpaid.' },
      push: {
        title: 'Payment reminder',
        body: 'Order {{orderNumber}} is still unpaid.',
        actionUrl: '/orders/{{orderNumber}}/pay',
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
        body: 'SKU {{sku}} has {{quantity}} left.',
        actionText: 'Restock',
        actionUrl: '/admin/inventory/{{sku}}',
      },
      email: {
        subject: 'Low stock: {{productName}} ({{sku}})',
        html: '<p><strong>{{productName}}</strong> (SKU {{sku}}) is down to {{quantity}} units.</p>',
        text: '{{productName}} (SKU {{sku}}) is down to {{quantity}} units.',
      },
      sms: { text: 'Low stock: {{sku}} has {{quantity}} left.' },
      push: {
        title: 'Low stock',
        body: '{{productName}} has {{quantity}} left.',
        actionUrl: '/admin/inventory/{{sku}}',
      },
    },
  },
];

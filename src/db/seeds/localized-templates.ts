import type { Category } from '../../domain/event-catalog';
import type { TemplateSeed } from './default-templates';

/**
 * The event templates in en, de and hi, added by Migration20261206030000_locales_and_layout (en as a new
 * version, de and hi as version 1; docs/emails-and-locales.md). Same variables as PLAN_TEMPLATES; money
 * and numbers through `{{money}}` / `{{number}}` (the recipient's locale), email buttons on
 * `{{shopUrl}}`. Emails carry only their content: the layout adds the shop's header and footer.
 */

type Code =
  | 'order_created'
  | 'order_shipped'
  | 'order_delivered'
  | 'payment_captured'
  | 'payment_failed'
  | 'payment_failed_reminder'
  | 'inventory_low_stock';

interface CodePhrases {
  title: string;
  body: string;
  /** The in-app action and the email's button. */
  action: string;
  subject: string;
  headline: string;
  /** The email's paragraph; `b` marks what is bold in HTML. */
  message: (b: (s: string) => string) => string;
  sms: string;
  pushTitle: string;
  pushBody: string;
}

interface LocalePhrases {
  greeting: string;
  codes: Record<Code, CodePhrases>;
}

const CATEGORIES: Record<Code, Category> = {
  order_created: 'order_updates',
  order_shipped: 'order_updates',
  order_delivered: 'order_updates',
  payment_captured: 'payment_updates',
  payment_failed: 'payment_updates',
  payment_failed_reminder: 'payment_updates',
  inventory_low_stock: 'inventory_alerts',
};

/** Where each code's action goes, relative to the shop (`base` is `/orders/<n>`). */
const ACTION_PATHS: Record<Code, string> = {
  order_created: '',
  order_shipped: '/tracking',
  order_delivered: '',
  payment_captured: '/receipt',
  payment_failed: '/pay',
  payment_failed_reminder: '/pay',
  inventory_low_stock: '',
};

const ifVar = (name: string, then: string) => `{{#if ${name}}}${then}{{/if}}`;
const ifAmount = (name: string, then: string) => `{{#if ${name} includeZero=true}}${then}{{/if}}`;
const money = (name: string) => `{{money ${name} currency}}`;

function actionUrl(code: Code, absolute: boolean): string {
  const shop = absolute ? '{{shopUrl}}' : '';
  if (code === 'inventory_low_stock')
    return `{{#if productUrl}}{{productUrl}}{{else}}${shop}/admin/inventory{{/if}}`;
  return `{{#if orderUrl}}{{orderUrl}}{{else}}${shop}/orders/{{orderNumber}}${ACTION_PATHS[code]}{{/if}}`;
}

function localized(locale: string, phrases: LocalePhrases): TemplateSeed[] {
  return (Object.keys(phrases.codes) as Code[]).map((code) => {
    const p = phrases.codes[code];
    const greeting = phrases.greeting;
    return {
      code,
      category: CATEGORIES[code],
      locale,
      channels: {
        in_app: { title: p.title, body: p.body, actionText: p.action, actionUrl: actionUrl(code, false) },
        email: {
          subject: p.subject,
          html: `<p>${greeting}</p><h1>${p.headline}</h1><p>${p.message((s) => `<strong>${s}</strong>`)}</p>`,
          text: `${greeting}\n\n${p.headline}\n\n${p.message((s) => s)}`,
          actionText: p.action,
          actionUrl: actionUrl(code, true),
        },
        sms: { text: p.sms },
        push: { title: p.pushTitle, body: p.pushBody, actionUrl: actionUrl(code, false) },
      },
    };
  });
}

const EN: LocalePhrases = {
  greeting: '{{#if userName}}Hi {{userName}},{{else}}Hello,{{/if}}',
  codes: {
    order_created: {
      title:
        '{{#if userName}}{{userName}}, your order {{orderNumber}} is placed{{else}}Order {{orderNumber}} placed{{/if}}',
      body: `Thanks for your order${ifAmount('total', ` of ${money('total')}`)}.${ifVar('itemCount', ' {{number itemCount}} item(s).')}`,
      action: 'View order',
      subject: 'We received your order {{orderNumber}}',
      headline: 'Thank you for your order',
      message: (b) =>
        `Order ${b('{{orderNumber}}')}${ifVar('itemCount', ' ({{number itemCount}} item(s))')}${ifAmount('total', ` totalling ${b(money('total'))}`)} is confirmed.`,
      sms: `Order {{orderNumber}} confirmed${ifAmount('total', `: ${money('total')}`)}.`,
      pushTitle: 'Order placed',
      pushBody: '{{#if userName}}{{userName}}, order{{else}}Order{{/if}} {{orderNumber}} is confirmed.',
    },
    order_shipped: {
      title:
        '{{#if userName}}{{userName}}, your order {{orderNumber}} has shipped{{else}}Order {{orderNumber}} shipped{{/if}}',
      body: `Your order is on its way.${ifVar('trackingNumber', ' Tracking number: {{trackingNumber}}.')}`,
      action: 'Track your order',
      subject: 'Your order {{orderNumber}} has shipped',
      headline: 'Your order is on its way',
      message: (b) =>
        `Good news: order ${b('{{orderNumber}}')} has shipped.${ifVar('trackingNumber', ` Tracking number: ${b('{{trackingNumber}}')}.`)}`,
      sms: `Order {{orderNumber}} has shipped.${ifVar('trackingNumber', ' Tracking number: {{trackingNumber}}.')}`,
      pushTitle: 'Order shipped',
      pushBody: 'Order {{orderNumber}} is on its way.',
    },
    order_delivered: {
      title:
        '{{#if userName}}{{userName}}, your order {{orderNumber}} was delivered{{else}}Order {{orderNumber}} delivered{{/if}}',
      body: 'Your order was delivered. Enjoy!',
      action: 'View your order',
      subject: 'Your order {{orderNumber}} was delivered',
      headline: 'Your order was delivered',
      message: (b) => `Order ${b('{{orderNumber}}')} was delivered. We hope you enjoy it.`,
      sms: 'Order {{orderNumber}} was delivered.',
      pushTitle: 'Order delivered',
      pushBody: 'Order {{orderNumber}} was delivered.',
    },
    payment_captured: {
      title: '{{#if userName}}{{userName}}, we received your payment{{else}}Payment received{{/if}}',
      body: `We received your payment${ifAmount('amount', ` of ${money('amount')}`)} for order {{orderNumber}}.${ifVar('paymentId', ' Payment id: {{paymentId}}.')}`,
      action: 'View receipt',
      subject: 'Payment received for order {{orderNumber}}',
      headline: 'Payment received',
      message: (b) =>
        `We received your payment${ifAmount('amount', ` of ${b(money('amount'))}`)} for order ${b('{{orderNumber}}')}.${ifVar('paymentId', ' Payment id: {{paymentId}}.')}`,
      sms: `Payment${ifAmount('amount', ` of ${money('amount')}`)} received for order {{orderNumber}}.`,
      pushTitle: 'Payment received',
      pushBody: 'Payment for order {{orderNumber}} received.',
    },
    payment_failed: {
      title: '{{#if userName}}{{userName}}, your payment failed{{else}}Payment failed{{/if}}',
      body: 'Payment for order {{orderNumber}} failed. Please update your payment method.',
      action: 'Retry the payment',
      subject: 'Payment failed for order {{orderNumber}}',
      headline: 'Your payment failed',
      message: (b) =>
        `Your payment${ifAmount('amount', ` of ${b(money('amount'))}`)} for order ${b('{{orderNumber}}')} failed. Please update your payment method.`,
      sms: 'Payment for order {{orderNumber}} failed. Please retry.',
      pushTitle: 'Payment failed',
      pushBody: 'Payment for order {{orderNumber}} failed.',
    },
    payment_failed_reminder: {
      title: '{{#if userName}}{{userName}}, your order is waiting{{else}}Your order is waiting{{/if}}',
      body: 'Order {{orderNumber}} is still unpaid. Complete your payment to ship it.',
      action: 'Pay now',
      subject: 'Reminder: order {{orderNumber}} is waiting for payment',
      headline: 'Your order is waiting',
      message: (b) =>
        `Order ${b('{{orderNumber}}')} is still unpaid${ifAmount('amount', ` (${b(money('amount'))})`)}. Complete your payment so we can ship it.`,
      sms: 'Reminder: order {{orderNumber}} is still unpaid.',
      pushTitle: 'Payment reminder',
      pushBody: 'Order {{orderNumber}} is still unpaid.',
    },
    inventory_low_stock: {
      title: 'Low stock: {{productName}}',
      body: `{{number currentStock}} left${ifAmount('threshold', ' (alert threshold {{number threshold}})')}.${ifVar('sku', ' SKU {{sku}}.')}`,
      action: 'Restock',
      subject: `Low stock: {{productName}}${ifVar('sku', ' ({{sku}})')}`,
      headline: 'Low stock',
      message: (b) =>
        `${b('{{productName}}')}${ifVar('sku', ' (SKU {{sku}})')} is down to {{number currentStock}} units${ifAmount('threshold', ', below the alert threshold of {{number threshold}}')}.`,
      sms: 'Low stock: {{productName}} has {{number currentStock}} left.',
      pushTitle: 'Low stock',
      pushBody: '{{productName}} has {{number currentStock}} left.',
    },
  },
};

const DE: LocalePhrases = {
  greeting: '{{#if userName}}Hallo {{userName}},{{else}}Hallo,{{/if}}',
  codes: {
    order_created: {
      title: 'Bestellung {{orderNumber}} aufgegeben',
      body: `Danke für deine Bestellung${ifAmount('total', ` über ${money('total')}`)}.${ifVar('itemCount', ' {{number itemCount}} Artikel.')}`,
      action: 'Bestellung ansehen',
      subject: 'Wir haben deine Bestellung {{orderNumber}} erhalten',
      headline: 'Danke für deine Bestellung',
      message: (b) =>
        `Bestellung ${b('{{orderNumber}}')}${ifVar('itemCount', ' ({{number itemCount}} Artikel)')}${ifAmount('total', ` über ${b(money('total'))}`)} ist bestätigt.`,
      sms: `Bestellung {{orderNumber}} bestätigt${ifAmount('total', `: ${money('total')}`)}.`,
      pushTitle: 'Bestellung aufgegeben',
      pushBody: 'Bestellung {{orderNumber}} ist bestätigt.',
    },
    order_shipped: {
      title: 'Bestellung {{orderNumber}} versandt',
      body: `Deine Bestellung ist unterwegs.${ifVar('trackingNumber', ' Sendungsnummer: {{trackingNumber}}.')}`,
      action: 'Sendung verfolgen',
      subject: 'Deine Bestellung {{orderNumber}} wurde versandt',
      headline: 'Deine Bestellung ist unterwegs',
      message: (b) =>
        `Gute Nachricht: Bestellung ${b('{{orderNumber}}')} wurde versandt.${ifVar('trackingNumber', ` Sendungsnummer: ${b('{{trackingNumber}}')}.`)}`,
      sms: `Bestellung {{orderNumber}} wurde versandt.${ifVar('trackingNumber', ' Sendungsnummer: {{trackingNumber}}.')}`,
      pushTitle: 'Bestellung versandt',
      pushBody: 'Bestellung {{orderNumber}} ist unterwegs.',
    },
    order_delivered: {
      title: 'Bestellung {{orderNumber}} zugestellt',
      body: 'Deine Bestellung wurde zugestellt. Viel Freude damit!',
      action: 'Bestellung ansehen',
      subject: 'Deine Bestellung {{orderNumber}} wurde zugestellt',
      headline: 'Deine Bestellung ist da',
      message: (b) => `Bestellung ${b('{{orderNumber}}')} wurde zugestellt. Viel Freude damit!`,
      sms: 'Bestellung {{orderNumber}} wurde zugestellt.',
      pushTitle: 'Bestellung zugestellt',
      pushBody: 'Bestellung {{orderNumber}} wurde zugestellt.',
    },
    payment_captured: {
      title: 'Zahlung erhalten',
      body: `Wir haben deine Zahlung${ifAmount('amount', ` über ${money('amount')}`)} für Bestellung {{orderNumber}} erhalten.${ifVar('paymentId', ' Zahlungs-ID: {{paymentId}}.')}`,
      action: 'Beleg ansehen',
      subject: 'Zahlung für Bestellung {{orderNumber}} erhalten',
      headline: 'Zahlung erhalten',
      message: (b) =>
        `Wir haben deine Zahlung${ifAmount('amount', ` über ${b(money('amount'))}`)} für Bestellung ${b('{{orderNumber}}')} erhalten.${ifVar('paymentId', ' Zahlungs-ID: {{paymentId}}.')}`,
      sms: `Zahlung${ifAmount('amount', ` über ${money('amount')}`)} für Bestellung {{orderNumber}} erhalten.`,
      pushTitle: 'Zahlung erhalten',
      pushBody: 'Zahlung für Bestellung {{orderNumber}} erhalten.',
    },
    payment_failed: {
      title: 'Zahlung fehlgeschlagen',
      body: 'Die Zahlung für Bestellung {{orderNumber}} ist fehlgeschlagen. Bitte aktualisiere deine Zahlungsmethode.',
      action: 'Zahlung wiederholen',
      subject: 'Zahlung für Bestellung {{orderNumber}} fehlgeschlagen',
      headline: 'Deine Zahlung ist fehlgeschlagen',
      message: (b) =>
        `Deine Zahlung${ifAmount('amount', ` über ${b(money('amount'))}`)} für Bestellung ${b('{{orderNumber}}')} ist fehlgeschlagen. Bitte aktualisiere deine Zahlungsmethode.`,
      sms: 'Zahlung für Bestellung {{orderNumber}} fehlgeschlagen. Bitte erneut versuchen.',
      pushTitle: 'Zahlung fehlgeschlagen',
      pushBody: 'Zahlung für Bestellung {{orderNumber}} fehlgeschlagen.',
    },
    payment_failed_reminder: {
      title: 'Deine Bestellung wartet',
      body: 'Bestellung {{orderNumber}} ist noch nicht bezahlt. Schließe die Zahlung ab, damit wir versenden können.',
      action: 'Jetzt bezahlen',
      subject: 'Erinnerung: Bestellung {{orderNumber}} wartet auf Zahlung',
      headline: 'Deine Bestellung wartet',
      message: (b) =>
        `Bestellung ${b('{{orderNumber}}')} ist noch nicht bezahlt${ifAmount('amount', ` (${b(money('amount'))})`)}. Schließe die Zahlung ab, damit wir versenden können.`,
      sms: 'Erinnerung: Bestellung {{orderNumber}} ist noch nicht bezahlt.',
      pushTitle: 'Zahlungserinnerung',
      pushBody: 'Bestellung {{orderNumber}} ist noch nicht bezahlt.',
    },
    inventory_low_stock: {
      title: 'Niedriger Bestand: {{productName}}',
      body: `Noch {{number currentStock}} Stück${ifAmount('threshold', ' (Warnschwelle {{number threshold}})')}.${ifVar('sku', ' SKU {{sku}}.')}`,
      action: 'Nachbestellen',
      subject: `Niedriger Bestand: {{productName}}${ifVar('sku', ' ({{sku}})')}`,
      headline: 'Niedriger Bestand',
      message: (b) =>
        `Von ${b('{{productName}}')}${ifVar('sku', ' (SKU {{sku}})')} sind nur noch {{number currentStock}} Stück übrig${ifAmount('threshold', ', unter der Warnschwelle von {{number threshold}}')}.`,
      sms: 'Niedriger Bestand: {{productName}}, noch {{number currentStock}} Stück.',
      pushTitle: 'Niedriger Bestand',
      pushBody: '{{productName}}: noch {{number currentStock}} Stück.',
    },
  },
};

const HI: LocalePhrases = {
  greeting: '{{#if userName}}नमस्ते {{userName}},{{else}}नमस्ते,{{/if}}',
  codes: {
    order_created: {
      title: 'ऑर्डर {{orderNumber}} दर्ज हो गया',
      body: `आपके ऑर्डर${ifAmount('total', ` (${money('total')})`)} के लिए धन्यवाद।${ifVar('itemCount', ' {{number itemCount}} आइटम।')}`,
      action: 'ऑर्डर देखें',
      subject: 'हमें आपका ऑर्डर {{orderNumber}} मिल गया है',
      headline: 'आपके ऑर्डर के लिए धन्यवाद',
      message: (b) =>
        `ऑर्डर ${b('{{orderNumber}}')}${ifVar('itemCount', ' ({{number itemCount}} आइटम)')}${ifAmount('total', `, कुल ${b(money('total'))},`)} की पुष्टि हो गई है।`,
      sms: `ऑर्डर {{orderNumber}} की पुष्टि हुई${ifAmount('total', `: ${money('total')}`)}।`,
      pushTitle: 'ऑर्डर दर्ज हुआ',
      pushBody: 'ऑर्डर {{orderNumber}} की पुष्टि हो गई है।',
    },
    order_shipped: {
      title: 'ऑर्डर {{orderNumber}} भेज दिया गया',
      body: `आपका ऑर्डर रास्ते में है।${ifVar('trackingNumber', ' ट्रैकिंग नंबर: {{trackingNumber}}।')}`,
      action: 'ऑर्डर ट्रैक करें',
      subject: 'आपका ऑर्डर {{orderNumber}} भेज दिया गया है',
      headline: 'आपका ऑर्डर रास्ते में है',
      message: (b) =>
        `अच्छी खबर: ऑर्डर ${b('{{orderNumber}}')} भेज दिया गया है।${ifVar('trackingNumber', ` ट्रैकिंग नंबर: ${b('{{trackingNumber}}')}।`)}`,
      sms: `ऑर्डर {{orderNumber}} भेज दिया गया है।${ifVar('trackingNumber', ' ट्रैकिंग नंबर: {{trackingNumber}}।')}`,
      pushTitle: 'ऑर्डर भेजा गया',
      pushBody: 'ऑर्डर {{orderNumber}} रास्ते में है।',
    },
    order_delivered: {
      title: 'ऑर्डर {{orderNumber}} डिलीवर हो गया',
      body: 'आपका ऑर्डर डिलीवर हो गया है। आनंद लें!',
      action: 'ऑर्डर देखें',
      subject: 'आपका ऑर्डर {{orderNumber}} डिलीवर हो गया',
      headline: 'आपका ऑर्डर पहुँच गया',
      message: (b) => `ऑर्डर ${b('{{orderNumber}}')} डिलीवर हो गया है। हमें उम्मीद है कि आपको पसंद आएगा।`,
      sms: 'ऑर्डर {{orderNumber}} डिलीवर हो गया है।',
      pushTitle: 'ऑर्डर डिलीवर हुआ',
      pushBody: 'ऑर्डर {{orderNumber}} डिलीवर हो गया है।',
    },
    payment_captured: {
      title: 'भुगतान प्राप्त हुआ',
      body: `ऑर्डर {{orderNumber}} के लिए आपका भुगतान${ifAmount('amount', ` ${money('amount')}`)} प्राप्त हो गया है।${ifVar('paymentId', ' भुगतान आईडी: {{paymentId}}।')}`,
      action: 'रसीद देखें',
      subject: 'ऑर्डर {{orderNumber}} का भुगतान प्राप्त हुआ',
      headline: 'भुगतान प्राप्त हुआ',
      message: (b) =>
        `ऑर्डर ${b('{{orderNumber}}')} के लिए आपका भुगतान${ifAmount('amount', ` ${b(money('amount'))}`)} प्राप्त हो गया है।${ifVar('paymentId', ' भुगतान आईडी: {{paymentId}}।')}`,
      sms: `ऑर्डर {{orderNumber}} का भुगतान${ifAmount('amount', ` ${money('amount')}`)} प्राप्त हुआ।`,
      pushTitle: 'भुगतान प्राप्त हुआ',
      pushBody: 'ऑर्डर {{orderNumber}} का भुगतान प्राप्त हुआ।',
    },
    payment_failed: {
      title: 'भुगतान विफल रहा',
      body: 'ऑर्डर {{orderNumber}} का भुगतान विफल रहा। कृपया अपना भुगतान तरीका अपडेट करें।',
      action: 'फिर से भुगतान करें',
      subject: 'ऑर्डर {{orderNumber}} का भुगतान विफल रहा',
      headline: 'आपका भुगतान विफल रहा',
      message: (b) =>
        `ऑर्डर ${b('{{orderNumber}}')} के लिए आपका भुगतान${ifAmount('amount', ` ${b(money('amount'))}`)} विफल रहा। कृपया अपना भुगतान तरीका अपडेट करें।`,
      sms: 'ऑर्डर {{orderNumber}} का भुगतान विफल रहा। कृपया फिर से प्रयास करें।',
      pushTitle: 'भुगतान विफल',
      pushBody: 'ऑर्डर {{orderNumber}} का भुगतान विफल रहा।',
    },
    payment_failed_reminder: {
      title: 'आपका ऑर्डर इंतज़ार कर रहा है',
      body: 'ऑर्डर {{orderNumber}} का भुगतान अभी बाकी है। भेजने के लिए भुगतान पूरा करें।',
      action: 'अभी भुगतान करें',
      subject: 'याद दिलाना: ऑर्डर {{orderNumber}} भुगतान का इंतज़ार कर रहा है',
      headline: 'आपका ऑर्डर इंतज़ार कर रहा है',
      message: (b) =>
        `ऑर्डर ${b('{{orderNumber}}')} का भुगतान${ifAmount('amount', ` (${b(money('amount'))})`)} अभी बाकी है। भुगतान पूरा करें ताकि हम इसे भेज सकें।`,
      sms: 'याद दिलाना: ऑर्डर {{orderNumber}} का भुगतान अभी बाकी है।',
      pushTitle: 'भुगतान अनुस्मारक',
      pushBody: 'ऑर्डर {{orderNumber}} का भुगतान अभी बाकी है।',
    },
    inventory_low_stock: {
      title: 'कम स्टॉक: {{productName}}',
      body: `{{number currentStock}} बचे हैं${ifAmount('threshold', ' (अलर्ट सीमा {{number threshold}})')}।${ifVar('sku', ' SKU {{sku}}।')}`,
      action: 'स्टॉक भरें',
      subject: `कम स्टॉक: {{productName}}${ifVar('sku', ' ({{sku}})')}`,
      headline: 'कम स्टॉक',
      message: (b) =>
        `${b('{{productName}}')}${ifVar('sku', ' (SKU {{sku}})')} के केवल {{number currentStock}} यूनिट बचे हैं${ifAmount('threshold', ', जो अलर्ट सीमा {{number threshold}} से कम है')}।`,
      sms: 'कम स्टॉक: {{productName}} के {{number currentStock}} बचे हैं।',
      pushTitle: 'कम स्टॉक',
      pushBody: '{{productName}} के {{number currentStock}} बचे हैं।',
    },
  },
};

/** en, de and hi versions of every event template (in_app, email, sms, push). */
export const LOCALIZED_TEMPLATES: TemplateSeed[] = [
  ...localized('en', EN),
  ...localized('de', DE),
  ...localized('hi', HI),
];

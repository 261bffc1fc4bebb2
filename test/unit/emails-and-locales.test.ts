import { LOCALIZED_TEMPLATES } from '../../src/db/seeds/localized-templates';
import { fullData, minimalData, templateDataSpec } from '../../src/domain/event-data';
import { EVENT_CATALOG } from '../../src/domain/event-catalog';
import { layoutEmail, loadEmailLayout, type ShopSettings } from '../../src/templates/email-layout';
import { formatDate, formatMoney, formatNumber } from '../../src/templates/locale-format';
import { variablesNotProvided } from '../../src/templates/provided-variables';
import { assertTemplateCompiles, renderTemplateFields } from '../../src/templates/render-template';
import { analyzeTemplateFields, TemplateSyntaxError } from '../../src/templates/template-analysis';
import { templateVariables } from '../../src/templates/template-variables';
import { localeChain, templatesByLocale, type TemplateRow } from '../../activities/render-notification';

const shop: ShopSettings = { name: 'Asha & Co', address: '1 MG Road, Pune', url: 'https://shop.example/' };

describe('locale formatting', () => {
  it('formats money in the locale with the currency of the event', () => {
    expect(formatMoney(1499, 'INR', 'en-IN')).toBe('₹1,499.00');
    expect(formatMoney('1499.00', 'EUR', 'de')).toBe('1.499,00\u00a0€');
    expect(formatMoney(1499, 'INR', 'hi')).toBe('₹1,499.00');
    expect(formatMoney(1499, undefined, 'de')).toBe('1.499');
    expect(formatMoney(5, 'inr', 'xx-not-a-tag!')).toBe('₹5.00');
  });

  it('formats numbers and dates, falling back to the language and to en', () => {
    expect(formatNumber(1234567, 'de-AT')).toBe('1\u00a0234\u00a0567');
    expect(formatNumber(1234567, 'en')).toBe('1,234,567');
    expect(formatDate('2026-11-25T10:00:00Z', 'de')).toBe('25. November 2026');
    expect(formatDate('2026-11-25T10:00:00Z', 'en')).toBe('November 25, 2026');
    expect(formatDate('not a date', 'en')).toBe('not a date');
  });
});

describe('formatting helpers in templates', () => {
  it('renders {{money}}, {{number}} and {{date}} in the given locale', () => {
    const fields = { body: '{{money total currency}} · {{number n}} · {{date at}}' };
    const vars = { total: 1499, currency: 'EUR', n: 1500, at: '2026-11-25T00:00:00Z' };
    expect(renderTemplateFields(fields, vars, 'de').body).toBe('1.499,00\u00a0€ · 1.500 · 25. November 2026');
    expect(renderTemplateFields(fields, vars).body).toBe('€1,499.00 · 1,500 · November 25, 2026');
  });

  it('are the only helpers, with their arity, and count their variables as used', () => {
    const used = analyzeTemplateFields({ body: '{{#if total}}{{money total currency}}{{/if}}' });
    expect(used.get('total')).toMatchObject({ required: false });
    expect(used.get('currency')).toMatchObject({ required: false });
    expect(analyzeTemplateFields({ body: '{{number itemCount}}' }).get('itemCount')?.required).toBe(true);
    expect(() => analyzeTemplateFields({ body: '{{lookup a b}}' })).toThrow(/unknown helper "lookup"/);
    expect(() => analyzeTemplateFields({ body: '{{money total}}' })).toThrow(TemplateSyntaxError);
    expect(() => analyzeTemplateFields({ body: '{{number (money a b)}}' })).toThrow(/not SubExpression/);
    expect(() => analyzeTemplateFields({ body: '{{date at format="x"}}' })).toThrow(/takes 1 value/);
  });
});

describe('localized templates', () => {
  const cases = LOCALIZED_TEMPLATES.flatMap((t) =>
    Object.entries(t.channels).map(
      ([channel, fields]) => [`${t.code} ${channel} (${t.locale})`, t, fields] as const,
    ),
  );

  it('cover every event template in en, de and hi on in_app, email, sms and push', () => {
    const codes = Object.values(EVENT_CATALOG).flatMap((d) =>
      [d.templateCode, d.followUp?.templateCode ?? []].flat(),
    );
    for (const locale of ['en', 'de', 'hi'])
      for (const code of [
        'order_created',
        'order_shipped',
        'order_delivered',
        'payment_captured',
        'payment_failed',
        'payment_failed_reminder',
        'inventory_low_stock',
      ]) {
        expect(codes).toContain(code);
        const seed = LOCALIZED_TEMPLATES.find((t) => t.code === code && t.locale === locale);
        expect(Object.keys(seed?.channels ?? {}).sort()).toEqual(['email', 'in_app', 'push', 'sms']);
      }
  });

  it.each(cases)(
    '%s uses only what its data provides and renders minimal and full data',
    (_, seed, fields) => {
      const spec = templateDataSpec(seed.code)!.spec;
      expect(variablesNotProvided(seed.code, assertTemplateCompiles(fields))).toEqual([]);
      for (const data of [minimalData(spec), fullData(spec)]) {
        const out = renderTemplateFields(fields, templateVariables(data, {}, null, shop), seed.locale);
        for (const text of Object.values(out)) {
          expect(text).not.toMatch(/undefined|null|\{\{|NaN/);
          expect(text.trim()).not.toBe('');
        }
      }
    },
  );

  it('the order confirmation shows the formatted total and links to the order on the shop', () => {
    const email = (locale: string) =>
      LOCALIZED_TEMPLATES.find((t) => t.code === 'order_created' && t.locale === locale)!.channels.email!;
    const vars = templateVariables({ orderNumber: 'A-1', total: 1499, currency: 'INR' }, {}, null, shop);
    expect(renderTemplateFields(email('en'), vars, 'en-IN')).toMatchObject({
      html: expect.stringContaining('totalling <strong>₹1,499.00</strong>'),
      actionUrl: 'https://shop.example/orders/A-1',
    });
    const eur = templateVariables({ orderNumber: 'A-2', total: 1499, currency: 'EUR' }, {}, null, shop);
    expect(renderTemplateFields(email('de'), eur, 'de-AT').text).toContain(
      'über €\u00a01.499,00 ist bestätigt',
    );
    expect(renderTemplateFields(email('hi'), vars, 'hi').subject).toBe('हमें आपका ऑर्डर A-1 मिल गया है');
  });
});

describe('locale fallback', () => {
  const row = (locale: string, version = 1): TemplateRow => ({
    channel: 'email',
    locale,
    version,
    category: 'order_updates',
    fields: { subject: locale },
  });
  it('goes from the locale to its language to the default', () => {
    expect(localeChain('de-AT', 'en')).toEqual(['de-AT', 'de', 'en']);
    expect(localeChain('en', 'en')).toEqual(['en']);
    const pick = templatesByLocale([row('en', 3), row('de'), row('hi')], 'en');
    expect(pick('de-AT').get('email')?.locale).toBe('de');
    expect(pick('hi-IN').get('email')?.locale).toBe('hi');
    expect(pick('fr').get('email')?.locale).toBe('en');
    expect(pick('fr').get('email')?.version).toBe(3);
  });
});

describe('email layout', () => {
  it('wraps the body with the shop header, the button and the footer, in HTML and text', async () => {
    const layout = await loadEmailLayout();
    const body = {
      subject: 'S',
      html: '<p>Order <strong>A-1</strong></p>',
      actionUrl: '/orders/A-1',
      actionText: 'View order',
    };
    const de = layoutEmail(layout, body, shop, 'de');
    expect(de.html).toMatch(/^<!doctype html>/i);
    expect(de.html).toContain('<html lang="de"');
    expect(de.html).toContain('Asha &amp; Co');
    expect(de.html).toContain('href="https://shop.example/orders/A-1"');
    expect(de.html).toContain('href="https://shop.example/account/notifications"');
    expect(de.html).toContain('Benachrichtigungseinstellungen verwalten');
    expect(de.html).not.toContain('{{');
    expect(de.text).toBe(
      'Asha & Co\n\nOrder A-1\n\nView order: https://shop.example/orders/A-1\n\n-- \nAsha & Co, 1 MG Road, Pune\nBenachrichtigungseinstellungen verwalten: https://shop.example/account/notifications\n',
    );
    const plain = layoutEmail(
      layout,
      { subject: 'S', html: '<p>Hi</p>' },
      { name: 'Shop', address: '', url: null },
      'en',
    );
    expect(plain.html).not.toContain('View order');
    expect(plain.html).not.toContain('account/notifications');
    expect(plain.text).toBe('Shop\n\nHi\n\n-- \nShop\n');
  });

  it('renders an email in well under a millisecond once compiled', async () => {
    const layout = await loadEmailLayout();
    const body = {
      subject: 'S',
      html: '<h1>Thanks</h1><p>Order <strong>A-1</strong></p>',
      text: 'Thanks',
      actionUrl: '/orders/A-1',
      actionText: 'View',
    };
    const n = 500;
    const start = performance.now();
    for (let i = 0; i < n; i++) layoutEmail(layout, { ...body, subject: `S${i}` }, shop, 'en');
    expect((performance.now() - start) / n).toBeLessThan(1);
  });
});

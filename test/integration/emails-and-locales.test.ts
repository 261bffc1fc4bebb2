import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mimePart } from '../helpers/mime-part';
import { TestStack } from '../helpers/test-stack';

const hrefs = (html: string) => [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]);

describe('order emails in the shop layout and the recipient language', () => {
  let shop: Server;
  let shopUrl: string;
  let stack: TestStack;

  beforeAll(async () => {
    // The shop's storefront: order pages answer 200, anything else 404 (so a link either works or not).
    shop = createServer((req, res) => {
      res.writeHead(/^\/orders\/[^/]+$/.test(req.url ?? '') ? 200 : 404).end();
    });
    await new Promise<void>((done) => shop.listen(0, '127.0.0.1', done));
    shopUrl = `http://127.0.0.1:${(shop.address() as AddressInfo).port}`;
    stack = new TestStack({
      env: { SHOP_URL: shopUrl, SHOP_NAME: 'Asha Stores', SHOP_ADDRESS: '12 MG Road, Pune 411001' },
    });
    await stack.start();
  });
  afterAll(async () => {
    await stack?.stop();
    await new Promise((done) => shop.close(done));
  });

  async function orderEmail(locale: string, currency: string) {
    const userId = stack.uid('u');
    const eventId = stack.uid('evt');
    const orderNumber = `A-${eventId.slice(-6)}`;
    await stack.createRecipient({ id: userId, locale });
    await stack.client.publishEvent({
      id: eventId,
      type: 'ORDER_CREATED',
      occurredAt: new Date().toISOString(),
      userId,
      data: { orderNumber, total: 1499, currency },
    });
    const [mail] = await stack.smtp.waitForMessages(`${userId}@example.test`);
    return { orderNumber, html: mimePart(mail.raw, 'text/html'), text: mimePart(mail.raw, 'text/plain') };
  }

  it.each([
    ['en-IN', 'INR', 'en', '₹1,499.00', 'Thank you for your order', 'View order'],
    ['hi', 'INR', 'hi', '₹1,499.00', 'आपके ऑर्डर के लिए धन्यवाद', 'ऑर्डर देखें'],
    ['de', 'EUR', 'de', '1.499,00\u00a0€', 'Danke für deine Bestellung', 'Bestellung ansehen'],
    ['de-AT', 'EUR', 'de', '€\u00a01.499,00', 'Danke für deine Bestellung', 'Bestellung ansehen'],
    ['fr', 'EUR', 'en', '€1,499.00', 'Thank you for your order', 'View order'],
  ])(
    'a %s recipient gets the %s order confirmation in the layout (%s template) with money, a working order link and a text part',
    async (locale, currency, language, money, headline, button) => {
      const { orderNumber, html, text } = await orderEmail(locale, currency);
      // HTML part: the layout (doctype, lang, shop header and footer) around the template in its language.
      expect(html).toMatch(/^<!doctype html>/i);
      expect(html).toContain(`<html lang="${language}"`);
      expect(html).toContain('Asha Stores');
      expect(html).toContain('12 MG Road, Pune 411001');
      expect(html).toContain(headline);
      expect(html).toContain(`<strong>${money}</strong>`);
      expect(html).toContain(button);
      const orderLink = `${shopUrl}/orders/${orderNumber}`;
      expect(hrefs(html)).toEqual(expect.arrayContaining([orderLink, `${shopUrl}/account/notifications`]));
      expect((await fetch(orderLink)).status).toBe(200);
      // Text part: the same message, money and link, no markup.
      expect(text).toContain(headline);
      expect(text).toContain(money);
      expect(text).toContain(`${button}: ${orderLink}`);
      expect(text).toContain('12 MG Road, Pune 411001');
      expect(text).not.toMatch(/<[a-z]/i);
    },
  );
});

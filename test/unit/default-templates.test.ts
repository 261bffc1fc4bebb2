import { CAMPAIGN_TEMPLATES } from '../../src/db/seeds/campaign-templates';
import { ORDER_JOURNEY_TEMPLATES } from '../../src/db/seeds/order-journey-templates';
import { PLAN_TEMPLATES } from '../../src/db/seeds/plan-templates';
import { DEFAULT_TEMPLATES } from '../../src/db/seeds/default-templates';
import { fullData, minimalData, templateDataSpec } from '../../src/domain/event-data';
import { EVENT_CATALOG } from '../../src/domain/event-catalog';
import { assertTemplateCompiles, renderTemplateFields } from '../../src/templates/render-template';
import { variablesNotProvided } from '../../src/templates/provided-variables';
import { REQUIRED_TEMPLATE_FIELDS, TEMPLATED_CHANNELS } from '../../src/templates/template-fields';
import { templateVariables } from '../../src/templates/template-variables';

/** What rendering sees for a notification with this data and no recipient name (the worst case). */
const render = (fields: Record<string, string>, data: Record<string, unknown>) =>
  renderTemplateFields(fields, templateVariables(data, {}, null));

const NEWEST = [...PLAN_TEMPLATES, ...CAMPAIGN_TEMPLATES];
const cases = NEWEST.flatMap((t) =>
  Object.entries(t.channels).map(
    ([channel, fields]) => [`${t.code} ${channel} (${t.locale})`, t.code, fields] as const,
  ),
);

describe('default templates (newest versions)', () => {
  it('cover every code, channel and locale of the version-1 templates', () => {
    const keys = (seeds: typeof DEFAULT_TEMPLATES) =>
      seeds.flatMap((t) => Object.keys(t.channels).map((c) => `${t.code}/${c}/${t.locale}`)).sort();
    expect(keys(PLAN_TEMPLATES)).toEqual(keys(DEFAULT_TEMPLATES));
    // Every event has a seeded template: those of the first plan, and the events order journeys added.
    const seeded = [...PLAN_TEMPLATES, ...ORDER_JOURNEY_TEMPLATES].map((t) => t.code);
    for (const definition of Object.values(EVENT_CATALOG)) expect(seeded).toContain(definition.templateCode);
  });

  it.each(cases)(
    '%s renders the minimal and the full data of its event, and uses only what that data provides',
    (_, code, fields) => {
      const schema = templateDataSpec(code)!;
      expect(schema).not.toBeNull();
      const variables = assertTemplateCompiles(fields);
      expect(variablesNotProvided(code, variables)).toEqual([]);
      const minimal = render(fields, minimalData(schema.spec));
      const full = render(fields, fullData(schema.spec));
      for (const out of [minimal, full]) {
        for (const text of Object.values(out)) {
          expect(text).not.toMatch(/undefined|null|\{\{/);
          expect(text.trim()).not.toBe('');
        }
      }
    },
  );

  it('have the content fields each channel needs', () => {
    for (const template of NEWEST) {
      for (const channel of TEMPLATED_CHANNELS) {
        const fields = template.channels[channel];
        if (fields)
          expect(Object.keys(fields)).toEqual(expect.arrayContaining(REQUIRED_TEMPLATE_FIELDS[channel]));
      }
    }
  });

  it("render optional variables only when present, and the plan's test title names the user", () => {
    const orderCreated = PLAN_TEMPLATES.find((t) => t.code === 'order_created')!.channels;
    // The plan's "Automated Tests" data: only userName and orderNumber.
    expect(render(orderCreated.in_app!, { userName: 'Test User', orderNumber: 'TEST-123' }).title).toContain(
      'Test User',
    );
    expect(render(orderCreated.in_app!, { orderNumber: 'A-1' })).toMatchObject({
      title: 'Order A-1 placed',
      body: 'Thanks for your order.',
    });
    expect(render(orderCreated.in_app!, { orderNumber: 'A-1', total: 1499, currency: 'INR' }).body).toBe(
      'Thanks for your order of 1499 INR.',
    );
    expect(render(orderCreated.in_app!, { orderNumber: 'A-1', total: 0 }).body).toBe(
      'Thanks for your order of 0.',
    );
    const email = render(orderCreated.email!, {
      orderNumber: 'A-1',
      orderUrl: 'https://shop.example/o?a=1&b="2"',
    });
    // HTML-escaped: the quote cannot end the attribute.
    expect(email.html).toContain('<a href="https://shop.example/o?a&#x3D;1&amp;b&#x3D;&quot;2&quot;">');
    const lowStock = PLAN_TEMPLATES.find((t) => t.code === 'inventory_low_stock')!.channels;
    expect(render(lowStock.email!, { productName: 'Mug', currentStock: 0, threshold: 5 }).text).toBe(
      'Mug is down to 0 units, below the alert threshold of 5.',
    );
    expect(
      render(lowStock.email!, { productName: 'Red T-shirt', currentStock: 2, sku: 'TSHIRT-RED' }).subject,
    ).toBe('Low stock: Red T-shirt (TSHIRT-RED)');
  });
});

import { InvalidEventError, parseBusinessEvent, EVENT_TYPES } from '../../src/domain/business-event';
import { InvalidCampaignError, parseCampaign } from '../../src/domain/campaign';
import {
  checkData,
  EVENT_DATA_SPECS,
  fullData,
  minimalData,
  resolveTemplateCode,
  templateDataSpec,
} from '../../src/domain/event-data';
import { EVENT_CATALOG } from '../../src/domain/event-catalog';
import { thrown } from '../helpers/thrown';

const envelope = { id: 'evt_1', occurredAt: '2026-11-25T10:00:00Z', userId: 'u_1' };

const rejection = (input: unknown) => thrown(() => parseBusinessEvent(input), InvalidEventError);

describe('template codes', () => {
  it("are case-insensitive, with the plan's LOW_STOCK_ALERT as an alias", () => {
    expect(resolveTemplateCode('ORDER_CREATED')).toBe('order_created');
    expect(resolveTemplateCode('Payment_Captured')).toBe('payment_captured');
    expect(resolveTemplateCode('LOW_STOCK_ALERT')).toBe('inventory_low_stock');
    expect(resolveTemplateCode('welcome')).toBe('welcome');
  });

  it('never resolve through Object.prototype', () => {
    expect(resolveTemplateCode('constructor')).toBe('constructor');
    expect(templateDataSpec('constructor')).toBeNull();
    expect(templateDataSpec('__proto__')).toBeNull();
    expect(parseBusinessEvent({ ...envelope, templateCode: 'toString', data: { a: 1 } }).templateCode).toBe(
      'tostring',
    );
  });

  it('give every catalog template and follow-up a data spec', () => {
    for (const [type, definition] of Object.entries(EVENT_CATALOG)) {
      expect(templateDataSpec(definition.templateCode)?.label).toBe(type);
      if (definition.followUp) expect(templateDataSpec(definition.followUp.templateCode)?.label).toBe(type);
    }
  });
});

describe('event data specs', () => {
  it.each(EVENT_TYPES)(
    '%s accepts its minimal and its full data, and refuses each missing required field',
    (type) => {
      const spec = EVENT_DATA_SPECS[type];
      expect(parseBusinessEvent({ ...envelope, type, data: minimalData(spec) }).data).toEqual(
        minimalData(spec),
      );
      expect(parseBusinessEvent({ ...envelope, type, data: fullData(spec) }).data).toEqual(fullData(spec));
      const required = Object.keys(minimalData(spec));
      expect(required.length).toBeGreaterThan(0);
      for (const field of required) {
        const { [field]: _, ...rest } = minimalData(spec);
        const err = rejection({ ...envelope, type, data: rest });
        expect(err.fields).toEqual([`data.${field}`]);
        expect(err.message).toContain(`data.${field}: is required for ${type}`);
      }
    },
  );

  it("accepts the original plan's data verbatim", () => {
    const order = { ...envelope, type: 'ORDER_CREATED' };
    expect(() =>
      parseBusinessEvent({
        ...order,
        data: {
          userName: 'Asha',
          orderNumber: 'A-1001',
          total: '1499.00',
          currency: 'INR',
          orderUrl: 'https://shop.example/profile/orders/9',
          itemCount: 2,
        },
      }),
    ).not.toThrow();
    expect(() =>
      parseBusinessEvent({
        ...order,
        type: 'ORDER_SHIPPED',
        data: { userName: 'Asha', orderNumber: 'A-1', trackingNumber: null, orderUrl: '/profile/orders/9' },
      }),
    ).not.toThrow();
    expect(() =>
      parseBusinessEvent({
        ...order,
        type: 'PAYMENT_CAPTURED',
        data: { userName: 'Asha', amount: 1499, currency: 'INR', paymentId: 'pay_1', orderNumber: 'A-1' },
      }),
    ).not.toThrow();
    expect(() =>
      parseBusinessEvent({
        ...envelope,
        templateCode: 'LOW_STOCK_ALERT',
        userId: undefined,
        userIds: ['u_admin'],
        data: {
          productName: 'Mug',
          currentStock: 3,
          threshold: 5,
          productUrl: 'https://admin.shop.example/inventory/7',
        },
      }),
    ).not.toThrow();
  });

  it('names each field of the wrong type', () => {
    const err = rejection({
      ...envelope,
      type: 'ORDER_CREATED',
      data: {
        orderNumber: ' ',
        total: -1,
        currency: 'RUPEES',
        orderUrl: 'javascript:alert(1)',
        itemCount: 1.5,
      },
    });
    expect(err.fields.sort()).toEqual([
      'data.currency',
      'data.itemCount',
      'data.orderNumber',
      'data.orderUrl',
      'data.total',
    ]);
    expect(err.message).toMatch(/data\.currency: must be a 3-letter ISO 4217 currency code/);
  });

  it('checks a direct send to a catalog template against its event, and leaves other codes to the templates', () => {
    const direct = rejection({ ...envelope, templateCode: 'ORDER_SHIPPED', data: { trackingNumber: 'T-1' } });
    expect(direct.fields).toEqual(['data.orderNumber']);
    expect(direct.message).toContain('is required for ORDER_SHIPPED');
    expect(
      parseBusinessEvent({ ...envelope, templateCode: 'ORDER_SHIPPED', data: { orderNumber: 'A-1' } })
        .templateCode,
    ).toBe('order_shipped');
    expect(
      parseBusinessEvent({ ...envelope, templateCode: 'custom_notice', data: { anything: true } }).data,
    ).toEqual({ anything: true });
  });

  it('lets unlisted fields through and treats null optional fields as absent', () => {
    expect(
      checkData(
        EVENT_DATA_SPECS.ORDER_SHIPPED,
        { orderNumber: 7, carrier: 'BlueDart', trackingNumber: null },
        'ORDER_SHIPPED',
      ),
    ).toEqual([]);
    expect(
      checkData(EVENT_DATA_SPECS.ORDER_SHIPPED, { orderNumber: null }, 'ORDER_SHIPPED').map((p) => p.field),
    ).toEqual(['orderNumber']);
  });
});

describe('strings Postgres cannot store and deep nesting', () => {
  const order = { ...envelope, type: 'ORDER_CREATED' };

  it.each([
    ['a NUL', 'a\u0000b', /NUL/],
    ['a lone high surrogate', 'a\ud800b', /lone UTF-16 surrogate \(\\ud800\)/],
    ['a lone low surrogate', '\udc00', /lone UTF-16 surrogate \(\\udc00\)/],
  ])('refuses %s in data, naming the field', (_, text, message) => {
    const err = rejection({ ...order, data: { orderNumber: 'A-1', note: { lines: ['ok', text] } } });
    expect(err.fields).toEqual(['data.note.lines.1']);
    expect(err.message).toMatch(message);
  });

  it('refuses them in keys and in actionText / actionUrl', () => {
    expect(rejection({ ...order, data: { orderNumber: 'A-1', ['k\u0000']: 1 } }).message).toMatch(
      /data\.k\\u0000: key must not contain a NUL/,
    );
    expect(
      rejection({ ...order, data: { orderNumber: 'A-1' }, options: { actionText: 'View\ud83d' } }).fields,
    ).toEqual(['options.actionText']);
    expect(
      rejection({ ...order, data: { orderNumber: 'A-1' }, options: { actionUrl: '/x\u0000' } }).fields,
    ).toEqual(['options.actionUrl']);
  });

  it('accepts well-formed surrogate pairs (emoji)', () => {
    expect(parseBusinessEvent({ ...order, data: { orderNumber: 'A-1 🎉' } }).data.orderNumber).toBe('A-1 🎉');
  });

  it('accepts data nested 32 levels and refuses 33, even 100,000 deep, without a stack overflow', () => {
    const nest = (levels: number) => {
      let value: unknown = 'leaf';
      for (let i = 0; i < levels; i++) value = [value];
      return value;
    };
    // data itself is level 1.
    expect(() =>
      parseBusinessEvent({ ...order, data: { orderNumber: 'A-1', deep: nest(31) } }),
    ).not.toThrow();
    expect(rejection({ ...order, data: { orderNumber: 'A-1', deep: nest(32) } }).message).toMatch(
      /nests deeper than 32 levels/,
    );
    const started = Date.now();
    expect(rejection({ ...order, data: { orderNumber: 'A-1', deep: nest(100_000) } }).fields[0]).toMatch(
      /^data\.deep(\.0)+$/,
    );
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('checks campaigns the same way, and their variables against the marketing template', () => {
    const campaign = {
      name: 'Sale',
      templateCode: 'MARKETING_ANNOUNCEMENT',
      segment: { roles: ['customer'] },
      variables: { headline: 'Sale', message: 'Now' },
    };
    expect(parseCampaign(campaign).templateCode).toBe('marketing_announcement');
    const campaignError = (input: unknown) => thrown(() => parseCampaign(input), InvalidCampaignError);
    expect(campaignError({ ...campaign, name: 'Sale\u0000' }).fields).toEqual(['name']);
    expect(campaignError({ ...campaign, variables: { headline: 'x', message: '\udfff' } }).fields).toEqual([
      'variables.message',
    ]);
    expect(campaignError({ ...campaign, variables: { headline: 'Sale' } }).fields).toEqual([
      'variables.message',
    ]);
  });
});

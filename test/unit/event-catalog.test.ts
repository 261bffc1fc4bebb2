import { EVENT_TYPES } from '../../src/domain/business-event';
import {
  correlationKeyOf,
  EVENT_CATALOG,
  FOLLOW_UP_KINDS,
  isMandatory,
} from '../../src/domain/event-catalog';
import { DEFAULT_TEMPLATES } from '../../src/db/seeds/default-templates';
import { ORDER_JOURNEY_TEMPLATES } from '../../src/db/seeds/order-journey-templates';
import { assertTemplateCompiles } from '../../src/templates/render-template';
import { REQUIRED_TEMPLATE_FIELDS, type TemplatedChannel } from '../../src/templates/template-fields';

describe('event catalog', () => {
  const seeded = new Map([...DEFAULT_TEMPLATES, ...ORDER_JOURNEY_TEMPLATES].map((t) => [t.code, t]));

  it.each(EVENT_TYPES)('%s has a seeded template for each of its default channels', (type) => {
    const definition = EVENT_CATALOG[type];
    const template = seeded.get(definition.templateCode);
    expect(template?.category).toBe(definition.category);
    for (const channel of definition.channels) expect(Object.keys(template!.channels)).toContain(channel);
  });

  it('every follow-up has a template, and every cancelled kind is scheduled by some event', () => {
    const scheduled = EVENT_TYPES.flatMap((t) =>
      EVENT_CATALOG[t].followUp ? [EVENT_CATALOG[t].followUp] : [],
    );
    for (const followUp of scheduled) expect(seeded.has(followUp.templateCode)).toBe(true);
    const cancelled = EVENT_TYPES.flatMap((t) => EVENT_CATALOG[t].cancelsFollowUps ?? []);
    for (const kind of cancelled) expect(scheduled.map((f) => f.kind)).toContain(kind);
    expect(FOLLOW_UP_KINDS).toEqual(expect.arrayContaining(cancelled));
  });

  it('seeded templates compile and carry the fields their channel renders', () => {
    for (const template of [...DEFAULT_TEMPLATES, ...ORDER_JOURNEY_TEMPLATES]) {
      for (const [channel, fields] of Object.entries(template.channels)) {
        expect(Object.keys(fields)).toEqual(
          expect.arrayContaining(REQUIRED_TEMPLATE_FIELDS[channel as TemplatedChannel]),
        );
        expect(() => assertTemplateCompiles(fields)).not.toThrow();
      }
    }
  });

  it('makes order and payment updates mandatory on in-app and email only', () => {
    expect(isMandatory('order_updates', 'email')).toBe(true);
    expect(isMandatory('payment_updates', 'in_app')).toBe(true);
    expect(isMandatory('order_updates', 'sms')).toBe(false);
    expect(isMandatory('inventory_alerts', 'email')).toBe(false);
  });

  it('correlates events by order number', () => {
    expect(correlationKeyOf({ orderNumber: 'A-1' })).toBe('A-1');
    expect(correlationKeyOf({ orderNumber: 42 })).toBe('42');
    expect(correlationKeyOf({ sku: 'X' })).toBeNull();
  });
});

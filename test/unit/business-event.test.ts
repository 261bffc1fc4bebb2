import { InvalidEventError, parseBusinessEvent } from '../../src/domain/business-event';

const valid = {
  id: 'evt_1',
  type: 'ORDER_CREATED',
  occurredAt: '2026-11-25T10:00:00Z',
  userId: 'u_1',
  data: { orderNumber: 'A-1' },
};

function errorOf(input: unknown): InvalidEventError {
  try {
    parseBusinessEvent(input);
  } catch (err) {
    if (err instanceof InvalidEventError) return err;
    throw err;
  }
  throw new Error('expected the envelope to be rejected');
}

describe('parseBusinessEvent', () => {
  it('applies option defaults to a minimal envelope', () => {
    const event = parseBusinessEvent(valid);
    expect(event.options).toEqual({ priority: 'normal', delayMs: 0, sendAt: null });
    expect(event.data).toEqual({ orderNumber: 'A-1' });
  });

  it('names each offending field', () => {
    const err = errorOf({ ...valid, id: 'has space', options: { priority: 'mega' } });
    expect(err.fields).toEqual(['id', 'options.priority']);
    expect(err.message).toMatch(/^invalid event: id: .*options\.priority/);
  });

  it('requires a recipient except for INVENTORY_LOW_STOCK', () => {
    expect(errorOf({ ...valid, userId: undefined }).fields).toEqual(['userId']);
    const lowStock = {
      ...valid,
      type: 'INVENTORY_LOW_STOCK',
      userId: undefined,
      data: { productName: 'Mug', currentStock: 1 },
    };
    expect(parseBusinessEvent(lowStock).userId).toBeUndefined();
  });

  it('rejects unknown keys, repeated channels and type together with templateCode', () => {
    expect(errorOf({ ...valid, extra: 1 }).fields).toEqual(['(envelope)']);
    expect(errorOf({ ...valid, options: { channels: ['email', 'email'] } }).fields).toEqual([
      'options.channels',
    ]);
    expect(errorOf({ ...valid, templateCode: 'order_created' }).fields).toEqual(['templateCode']);
  });

  it('accepts a direct send by template code', () => {
    const { id, occurredAt, userId } = valid;
    expect(parseBusinessEvent({ id, occurredAt, userId, templateCode: 'welcome' }).templateCode).toBe(
      'welcome',
    );
  });
});

import { queuePrefixFor } from '../../src/delivery/queue-keys';

/** REDIS_KEY_LAYOUT (docs/contracts.md, "BullMQ"): the BullMQ prefix of each channel's queue. */
describe('queuePrefixFor', () => {
  it('gives each queue a hash tag of its own in the spread layout, QUEUE_PREFIX itself in the single one', () => {
    expect(queuePrefixFor('{notifications}', 'spread', 'email')).toBe('{notifications:send-email}');
    expect(queuePrefixFor('{notifications}', 'spread', 'in_app')).toBe('{notifications:send-in_app}');
    expect(queuePrefixFor('{notifications}', 'single', 'email')).toBe('{notifications}');
    // A prefix without braces still ends up as one tag per queue.
    expect(queuePrefixFor('shop-a', 'spread', 'sms')).toBe('{shop-a:send-sms}');
  });
});

import { WorkflowNotFoundError } from '@temporalio/client';
import { Redis } from 'ioredis';
import { parseInfoMemory } from '../../src/api/redis-backpressure';
import { eventWorkflowId } from '../../src/domain/workflow-ids';
import { ApiTestApp, apiTestEnv, orderCreated } from '../helpers/api-app';
import { PrivateRedis } from '../helpers/private-services';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/**
 * I6 at the door (docs/contracts.md, "BullMQ", bounded Redis): while the queues' Redis is nearly full,
 * the publishing routes answer 429 with Retry-After and start nothing; once memory is back, the same
 * request is accepted. A private Redis with a real maxmemory, filled for real.
 */
describe('publishing while Redis is nearly full', () => {
  let redis: PrivateRedis;
  let admin: Redis;
  let stack: TestStack;
  let api: ApiTestApp;

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    stack = await new TestStack({
      env: apiTestEnv({ REDIS_URL: redis.url }),
      deliveryWorkers: false,
    }).start();
    api = await new ApiTestApp(stack).start();
  });
  afterAll(async () => {
    await api?.close();
    await stack?.stop();
    admin?.disconnect();
    await redis?.close();
  });

  const memory = async () => parseInfoMemory(await admin.info('memory'));
  const publishEvent = (id: string, userId: string) =>
    api.service({ method: 'POST', url: '/api/events', payload: orderCreated(id, userId) });
  const publishDirect = (userId: string) =>
    api.service({
      method: 'POST',
      url: '/api/notifications',
      payload: {
        userId,
        templateCode: 'order_created',
        variables: { orderNumber: 'A-1', total: 5, currency: 'INR' },
      },
    });

  it('answers 429 with Retry-After above REDIS_BACKPRESSURE_RATIO of maxmemory, and accepts the same event once memory is back', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    expect(stack.config.redisBackpressureRatio).toBe(0.8);

    // No maxmemory: no check, whatever Redis holds.
    expect((await publishEvent(stack.uid('evt'), userId)).statusCode).toBe(202);

    // maxmemory with 4 MB of room, then filled to 85 %: past the ratio, still below the limit (writes would still succeed).
    const { usedMemory } = await memory();
    const maxMemory = usedMemory + 4 * 1024 * 1024;
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', String(maxMemory));
    // In small pieces: one big SET would need its query buffer and its value at once, past maxmemory.
    const fillers: string[] = [];
    for (let filled = await memory(); filled.usedMemory < 0.85 * filled.maxMemory; filled = await memory()) {
      fillers.push(`filler:${fillers.length}`);
      await admin.set(fillers[fillers.length - 1], 'x'.repeat(128 * 1024));
    }
    const filled = await memory();
    expect(filled.usedMemory / filled.maxMemory).toBeGreaterThanOrEqual(0.8);
    expect(filled.usedMemory).toBeLessThan(filled.maxMemory);

    // The probe is cached for about a second: poll (a new event each time) until this API process has seen the fill.
    let refusedId = '';
    const refused = await waitFor(async () => {
      refusedId = stack.uid('evt');
      const res = await publishEvent(refusedId, userId);
      return res.statusCode === 429 ? res : undefined;
    }, 5_000);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.json()).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
    expect(refused.json().message).toMatch(
      /^the delivery queues are nearly full \(Redis at \d+% of maxmemory, limit 80%\): nothing was accepted, retry in 5 s$/,
    );
    const direct = await publishDirect(userId);
    expect({ status: direct.statusCode, retryAfter: direct.headers['retry-after'] }).toEqual({
      status: 429,
      retryAfter: '5',
    });
    // Nothing was started for the refused event.
    await expect(
      stack.temporalClient.workflow.getHandle(eventWorkflowId(refusedId)).describe(),
    ).rejects.toBeInstanceOf(WorkflowNotFoundError);

    await admin.del(...fillers);
    const accepted = await waitFor(async () => {
      const res = await publishEvent(refusedId, userId);
      return res.statusCode === 202 ? res : undefined;
    }, 5_000);
    expect(accepted.json()).toMatchObject({ eventId: refusedId, started: true });
  });
});

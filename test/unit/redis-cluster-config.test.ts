import { fullest } from '../../src/api/redis-backpressure';
import { loadConfig } from '../../src/config';
import { redisTarget } from '../../src/runtime/connections';

describe('loadConfig: REDIS_CLUSTER_NODES (docs/contracts.md)', () => {
  it('is unset by default: the processes use REDIS_URL', () => {
    const config = loadConfig({});
    expect(config.redisClusterNodes).toBeNull();
    expect(redisTarget(config)).toBe('redis://127.0.0.1:6379');
  });

  it('reads comma-separated host:port seeds, which then win over the default REDIS_URL', () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: ' redis-1:7000, 10.0.0.2:7001 ,' });
    expect(config.redisClusterNodes).toEqual([
      { host: 'redis-1', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
    ]);
    expect(redisTarget(config)).toEqual(config.redisClusterNodes);
  });

  it.each(['redis-1', 'redis://redis-1:7000', 'redis-1:0', 'redis-1:70000', 'a b:7000', ','])(
    'names the setting for the bad seed list %j',
    (value) => {
      expect(() => loadConfig({ REDIS_CLUSTER_NODES: value })).toThrow(
        /^invalid configuration: REDIS_CLUSTER_NODES: /,
      );
    },
  );

  it('refuses a REDIS_URL naming another instance next to the cluster seeds', () => {
    expect(() =>
      loadConfig({ REDIS_CLUSTER_NODES: 'redis-1:7000', REDIS_URL: 'redis://cache:6379' }),
    ).toThrow('invalid configuration: REDIS_CLUSTER_NODES, REDIS_URL: set one of the two, not both');
  });

  it('wants QUEUE_PREFIX to open with a hash tag on a cluster (its keys must share one slot)', () => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'redis-1:7000', QUEUE_PREFIX: 'notifications' })).toThrow(
      'invalid configuration: QUEUE_PREFIX: must start with a hash tag such as {notifications} when REDIS_CLUSTER_NODES is set',
    );
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'redis-1:7000', QUEUE_PREFIX: '{shop-a}' }).queuePrefix).toBe(
      '{shop-a}',
    );
    expect(loadConfig({ QUEUE_PREFIX: 'notifications' }).queuePrefix).toBe('notifications');
  });
});

describe('fullest: the Redis backpressure probe on a cluster', () => {
  it('takes the master closest to its maxmemory; one without maxmemory counts as empty', () => {
    const roomy = { usedMemory: 900, maxMemory: 10_000 };
    const tight = { usedMemory: 850, maxMemory: 1000 };
    const unlimited = { usedMemory: 1_000_000, maxMemory: 0 };
    expect(fullest([roomy, tight, unlimited])).toBe(tight);
    expect(fullest([unlimited, roomy])).toBe(roomy);
    expect(fullest([unlimited])).toBe(unlimited);
    expect(fullest([])).toBeNull();
  });
});

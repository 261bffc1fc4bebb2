import { Cluster, type Redis, type RedisOptions } from 'ioredis';

/** What the service talks to: one Redis instance, or a Redis Cluster (REDIS_CLUSTER_NODES, docs/contracts.md). */
export type RedisConnection = Redis | Cluster;

/**
 * A second connection to the same Redis with other options (a subscriber, a fail-fast limiter): a
 * Cluster's duplicate takes seeds first and its per-node options inside redisOptions.
 */
export function duplicateRedis(
  redis: RedisConnection,
  options: Pick<
    RedisOptions,
    'lazyConnect' | 'connectionName' | 'maxRetriesPerRequest' | 'enableOfflineQueue'
  >,
): RedisConnection {
  if (!(redis instanceof Cluster)) return redis.duplicate(options);
  const { lazyConnect, enableOfflineQueue, ...nodeOptions } = options;
  // An option left out keeps the cluster's own (an explicit undefined would switch the offline queue off).
  const clusterOptions = Object.fromEntries(
    Object.entries({ lazyConnect, enableOfflineQueue }).filter(([, value]) => value !== undefined),
  );
  return redis.duplicate(undefined, {
    ...clusterOptions,
    redisOptions: { ...redis.options.redisOptions, ...nodeOptions },
  });
}

/** The masters of a cluster (each holds its own slots' keys), or the one instance. */
export function redisMasters(redis: RedisConnection): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

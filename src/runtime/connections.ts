import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { Cluster, Redis } from 'ioredis';
import type { Config, RedisClusterNode } from '../config';
import { redactedUrl } from '../redacted-url';
import type { RedisConnection } from '../redis-connection';
import { temporalDataConverter } from '../temporal/payload-codec';
import { connectionSecurityOptions } from '../temporal/connection-security';

/** Where connectRedis connects: a redis:// URL, or the seeds of a cluster. */
export type RedisTarget = string | RedisClusterNode[];

/** The target a config names: the cluster's seeds when REDIS_CLUSTER_NODES is set, REDIS_URL otherwise. */
export function redisTarget(config: Pick<Config, 'redisUrl' | 'redisClusterNodes'>): RedisTarget {
  return config.redisClusterNodes ?? config.redisUrl;
}

/**
 * A Redis connection fit for BullMQ workers (blocking commands must not time out). Fails fast when unreachable.
 * For a cluster, the per-node options (maxRetriesPerRequest null, as BullMQ's workers require) go into
 * redisOptions, as ioredis applies them to every node's connection.
 */
export async function connectRedis(target: RedisTarget, name = 'notifications'): Promise<RedisConnection> {
  const nodeOptions = { maxRetriesPerRequest: null, connectionName: name, connectTimeout: 5000 };
  const redis: RedisConnection =
    typeof target === 'string'
      ? new Redis(target, { ...nodeOptions, lazyConnect: true })
      : new Cluster(target, { lazyConnect: true, redisOptions: nodeOptions });
  // Heard here so ioredis does not print "Unhandled error event" next to our one line; the cause goes into it.
  let cause: Error | null = null;
  const remember = (err: Error) => (cause ??= err);
  redis.on('error', remember);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new Error(`Redis unreachable at ${describeTarget(target)}: ${(cause ?? (err as Error)).message}`, {
      cause: err,
    });
  } finally {
    redis.off('error', remember);
  }
  // A cluster reports node trouble (a failover, a node away) as events; it reconnects on its own.
  if (redis instanceof Cluster) redis.on('error', () => undefined);
  return redis;
}

function describeTarget(target: RedisTarget): string {
  return typeof target === 'string'
    ? redactedUrl(target)
    : `the cluster ${target.map((n) => `${n.host}:${n.port}`).join(',')}`;
}

export async function connectTemporalClient(temporal: Config['temporal']): Promise<Client> {
  try {
    const connection = await Connection.connect({
      address: temporal.address,
      connectTimeout: 5000,
      ...connectionSecurityOptions(temporal.security),
    });
    return temporalClientOn(connection, temporal);
  } catch (err) {
    throw new Error(`Temporal unreachable at ${temporal.address}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * A Client on a connection (a Connection, or a worker's NativeConnection) with our data converter: every
 * Client we create goes through here or connectTemporalClient, so every payload it writes is encrypted
 * when PAYLOAD_ENCRYPTION_KEYS is set (src/temporal/payload-codec.ts).
 */
export function temporalClientOn(
  connection: Connection | NativeConnection,
  temporal: Config['temporal'],
): Client {
  return new Client({
    connection,
    namespace: temporal.namespace,
    dataConverter: temporalDataConverter(temporal),
  });
}

export async function connectTemporalWorker(temporal: Config['temporal']): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect({
      address: temporal.address,
      ...connectionSecurityOptions(temporal.security),
    });
  } catch (err) {
    throw new Error(`Temporal unreachable at ${temporal.address}: ${(err as Error).message}`, { cause: err });
  }
}

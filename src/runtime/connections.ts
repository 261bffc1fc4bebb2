import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { Redis } from 'ioredis';
import type { Config } from '../config';
import { redactedUrl } from '../redacted-url';
import { temporalDataConverter } from '../temporal/payload-codec';
import { connectionSecurityOptions } from '../temporal/connection-security';

/** A Redis connection fit for BullMQ workers (blocking commands must not time out). Fails fast when unreachable. */
export async function connectRedis(url: string, name = 'notifications'): Promise<Redis> {
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    connectionName: name,
    lazyConnect: true,
    connectTimeout: 5000,
  });
  // Heard here so ioredis does not print "Unhandled error event" next to our one line; the cause goes into it.
  let cause: Error | null = null;
  const remember = (err: Error) => (cause ??= err);
  redis.on('error', remember);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new Error(`Redis unreachable at ${redactedUrl(url)}: ${(cause ?? (err as Error)).message}`, {
      cause: err,
    });
  } finally {
    redis.off('error', remember);
  }
  return redis;
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

import { hostname } from 'node:os';
import type { Client } from '@temporalio/client';
import { Queue, type Worker } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { Config } from '../config';
import { queueNameFor, type Channel } from '../domain/channels';
import { queuePrefixFor } from '../delivery/queue-keys';
import type { Orm } from '../db/orm';
import { startChannelWorker, type DeliveryObserver } from '../delivery/channel-worker';

/** A standalone Redis or a Redis Cluster (BullMQ takes either). */
export type RedisConnection = Redis | Cluster;
import { OutcomeRecorder, temporalWaker } from '../state/outcome-recorder';
import { TemporalOutcomeReporter, type OutcomeReporter } from '../delivery/outcome-reporter';
import { keptJobs, SendQueues } from '../delivery/send-queues';
import type { ChannelProvider } from '../delivery/providers/provider';
import { SendRecordStore } from '../state/send-records';

export interface DeliveryWorkers {
  workers: Map<Channel, Worker>;
  /** Stops taking jobs, lets in-flight ones finish (provider timeouts bound the wait), closes providers. */
  close(): Promise<void>;
}

/** Starts one BullMQ worker per channel in config.deliveryChannels that has a provider. */
export function startDeliveryWorkers(input: {
  config: Config;
  orm: Orm;
  redis: RedisConnection;
  temporalClient: Client;
  providers: Partial<Record<Channel, ChannelProvider>>;
  /** Default: config.sendLockDurationMs. */
  lockDurationMs?: number;
  /** Release-0 notification workflows; default: signals through temporalClient. */
  outcomes?: OutcomeReporter;
  /** Lean event path; default: Postgres, fallbacks handed to the queues, the event workflow woken through temporalClient. */
  recorder?: OutcomeRecorder;
  observer?: DeliveryObserver;
  log?: (line: string) => void;
}): DeliveryWorkers {
  const { config, providers } = input;
  const outcomes = input.outcomes ?? new TemporalOutcomeReporter(input.temporalClient);
  const fallbackQueues = new SendQueues({
    connection: input.redis,
    prefix: config.queuePrefix,
    layout: config.redisKeyLayout,
    channels: config.channels,
    keep: keptJobs(config),
  });
  const recorder =
    input.recorder ??
    new OutcomeRecorder(fallbackQueues, temporalWaker(input.temporalClient), config.deliveryDeadlineMs);
  const shared: SharedWorkerParts = {
    ...input,
    outcomes,
    recorder,
    sendRecords: new SendRecordStore(config.sendRecordStaleMs),
    workerId: `${hostname()}:${process.pid}`,
  };
  const workers = new Map<Channel, Worker>();
  for (const channel of config.deliveryChannels) {
    const provider = providers[channel];
    if (!provider) {
      input.log?.(`channel ${channel}: no provider configured, its queue is not consumed by this process`);
      continue;
    }
    const prefix = queuePrefixFor(config.queuePrefix, config.redisKeyLayout, channel);
    workers.set(channel, channelWorkerFor(shared, channel, provider, prefix));
  }
  // Jobs enqueued under the single layout before a switch to spread: drained by extra workers.
  const drain = { drainers: [] as Worker[], closed: false };
  const checked =
    config.redisKeyLayout === 'spread'
      ? drainSingleLayoutQueues(shared, [...workers.keys()], drain).catch((err: unknown) =>
          input.log?.(
            `single-layout queues not checked: ${err instanceof Error ? err.message : String(err)}`,
          ),
        )
      : Promise.resolve();
  return {
    workers,
    async close() {
      // A check still waiting for Redis starts nothing more; close does not wait for it long.
      drain.closed = true;
      await Promise.race([checked, new Promise((done) => setTimeout(done, 2000).unref())]);
      // A worker closed while its Redis connections still start up throws an unhandled 'error' (BullMQ): let them finish first.
      await Promise.all(
        [...workers.values(), ...drain.drainers].map(async (w) => {
          await w.waitUntilReady().catch(() => undefined);
          await w.close();
        }),
      );
      await Promise.all(Object.values(providers).map(async (p) => p?.close?.()));
      await fallbackQueues.close();
    },
  };
}

/** What every channel worker of the process shares. */
interface SharedWorkerParts {
  config: Config;
  orm: Orm;
  redis: RedisConnection;
  outcomes: OutcomeReporter;
  recorder: OutcomeRecorder;
  sendRecords: SendRecordStore;
  workerId: string;
  lockDurationMs?: number;
  observer?: DeliveryObserver;
  log?: (line: string) => void;
  providers: Partial<Record<Channel, ChannelProvider>>;
}

function channelWorkerFor(
  shared: SharedWorkerParts,
  channel: Channel,
  provider: ChannelProvider,
  prefix: string,
): Worker {
  const { config } = shared;
  return startChannelWorker({
    channel,
    connection: shared.redis,
    prefix,
    config: config.channels[channel],
    orm: shared.orm,
    provider,
    sendRecords: shared.sendRecords,
    staleAfterMs: config.sendRecordStaleMs,
    outcomes: shared.outcomes,
    recorder: shared.recorder,
    workerId: shared.workerId,
    lockDurationMs: shared.lockDurationMs ?? config.sendLockDurationMs,
    infraRetryMaxBackoffMs: config.sendJobs.infraRetryMaxBackoffMs,
    infraRetryHorizonMs: config.infraRetryHorizonMs,
    observer: shared.observer,
    log: shared.log,
  });
}

/** Job states a queue may still hold work in. */
const UNFINISHED = ['wait', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children'] as const;

/**
 * For each channel whose queue under the single layout (QUEUE_PREFIX, src/delivery/queue-keys.ts) still
 * holds jobs, a worker on it until the process stops: a switch to the spread layout loses no job in flight.
 */
async function drainSingleLayoutQueues(
  shared: SharedWorkerParts,
  channels: Channel[],
  drain: { drainers: Worker[]; closed: boolean },
): Promise<void> {
  const { config } = shared;
  for (const channel of channels) {
    const legacy = new Queue(queueNameFor(channel), { connection: shared.redis, prefix: config.queuePrefix });
    try {
      const counts = await legacy.getJobCounts(...UNFINISHED);
      const left = Object.values(counts).reduce((a, b) => a + b, 0);
      if (left === 0 || drain.closed) continue;
      shared.log?.(
        `channel ${channel}: ${left} jobs under the single key layout (${config.queuePrefix}:${queueNameFor(channel)}): draining them too`,
      );
      drain.drainers.push(channelWorkerFor(shared, channel, shared.providers[channel]!, config.queuePrefix));
    } finally {
      await legacy.close();
    }
  }
}

import { hostname } from 'node:os';
import type { Client } from '@temporalio/client';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config';
import type { Channel } from '../domain/channels';
import type { Orm } from '../db/orm';
import { startChannelWorker, type DeliveryObserver } from '../delivery/channel-worker';
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
  redis: Redis;
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
    channels: config.channels,
    keep: keptJobs(config),
  });
  const recorder =
    input.recorder ??
    new OutcomeRecorder(fallbackQueues, temporalWaker(input.temporalClient), config.deliveryDeadlineMs);
  const sendRecords = new SendRecordStore(config.sendRecordStaleMs);
  const workerId = `${hostname()}:${process.pid}`;
  const workers = new Map<Channel, Worker>();
  for (const channel of config.deliveryChannels) {
    const provider = providers[channel];
    if (!provider) {
      input.log?.(`channel ${channel}: no provider configured, its queue is not consumed by this process`);
      continue;
    }
    workers.set(
      channel,
      startChannelWorker({
        channel,
        connection: input.redis,
        prefix: config.queuePrefix,
        config: config.channels[channel],
        orm: input.orm,
        provider,
        sendRecords,
        staleAfterMs: config.sendRecordStaleMs,
        outcomes,
        recorder,
        workerId,
        lockDurationMs: input.lockDurationMs ?? config.sendLockDurationMs,
        infraRetryMaxBackoffMs: config.sendJobs.infraRetryMaxBackoffMs,
        infraRetryHorizonMs: config.infraRetryHorizonMs,
        observer: input.observer,
        log: input.log,
      }),
    );
  }
  return {
    workers,
    async close() {
      // A worker closed while its Redis connections still start up throws an unhandled 'error' (BullMQ): let them finish first.
      await Promise.all(
        [...workers.values()].map(async (w) => {
          await w.waitUntilReady().catch(() => undefined);
          await w.close();
        }),
      );
      await Promise.all(Object.values(providers).map(async (p) => p?.close?.()));
      await fallbackQueues.close();
    },
  };
}

import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import type { RedisConnection } from '../redis-connection';
import type { Config } from '../config';
import { openOrm, type Orm } from '../db/orm';
import { poolMaxFor } from '../db/pool-size';
import { effectiveRateLimit } from '../delivery/channel-worker';
import { startStuckWorkScans } from '../operations/stuck-work-monitor';
import { startRetentionSweeps } from '../operations/retention-sweep';
import { retentionSettingsFrom, type RetentionSettings } from '../operations/retention-settings';
import { analyticsRollupMsFrom, startAnalyticsRollups } from '../operations/analytics-rollup';
import { DeliveryMetrics } from '../delivery/delivery-metrics';
import { createProviders } from '../delivery/providers/create-providers';
import type { ChannelProvider } from '../delivery/providers/provider';
import type { Channel } from '../domain/channels';
import { keptJobs, SendQueues } from '../delivery/send-queues';
import {
  connectRedis,
  redisTarget,
  connectTemporalClient,
  connectTemporalWorker,
  temporalClientOn,
} from './connections';
import { startDeliveryWorkers, type DeliveryWorkers } from './delivery-workers';
import { startMetricsServer, type MetricsServer } from './metrics-server';
import { createTemporalWorkers, WORKFLOW_WORKER_DB_SLOTS, type TemporalWorkers } from './temporal-worker';

export interface ServiceParts {
  /** Run the workflow worker (businessEventWorkflow, notificationWorkflow and activities). */
  temporalWorker: boolean;
  /** Run the channel workers of config.deliveryChannels. */
  deliveryWorkers: boolean;
}

export interface RunningService {
  config: Config;
  orm: Orm;
  redis: RedisConnection;
  temporalClient: Client;
  /**
   * True when temporalClient shares the workflow worker's connection, so event workflows can start
   * eagerly (their first task runs in this process without a round trip through matching).
   */
  eagerStart: boolean;
  queues: SendQueues;
  delivery: DeliveryWorkers | null;
  /** The Prometheus endpoint, when config.metricsPort is set. */
  metricsServer: MetricsServer | null;
  /** Graceful: stop polling, finish in-flight work, close connections. */
  stop(): Promise<void>;
}

/** The stuck-work scans, the retention sweep and the analytics rollups of a worker process. */
function startPeriodicJobs(
  settings: { retention: RetentionSettings; rollupMs: number },
  input: Omit<Parameters<typeof startStuckWorkScans>[0], 'env' | 'config'> & {
    config: Config;
    metrics: DeliveryMetrics;
  },
): { stop(): Promise<void> } {
  const { config, orm, redis, log } = input;
  const registry = input.metrics.registry;
  const jobs = [
    startStuckWorkScans({ ...input, env: process.env }),
    startRetentionSweeps({ settings: settings.retention, config, orm, redis, registry, log }),
    startAnalyticsRollups({ orm, redis, config, intervalMs: settings.rollupMs, log }),
  ];
  return {
    async stop() {
      for (const job of jobs) await job?.stop();
    },
  };
}

/** Connects to Postgres, Redis and Temporal (failing fast, naming the one unreachable) and starts the chosen parts. */
export async function startService(
  config: Config,
  parts: ServiceParts,
  log: (line: string) => void,
  /** Providers for channels the config has none for (the dev command's outbox). */
  extraProviders: Partial<Record<Channel, ChannelProvider>> = {},
): Promise<RunningService> {
  // Validated before connecting: a bad retention setting stops the start naming the variable.
  const settings = {
    retention: retentionSettingsFrom(process.env),
    rollupMs: analyticsRollupMsFrom(process.env),
  };
  const poolMax = poolMaxOf(config, parts);
  const orm = await openOrm(config.databaseUrl, { poolMax });
  log(`postgres pool: at most ${poolMax} connections`);
  const redis = await connectRedis(redisTarget(config));
  let temporalClient = await connectTemporalClient(config.temporal);
  const queues = new SendQueues({
    connection: redis,
    prefix: config.queuePrefix,
    layout: config.redisKeyLayout,
    channels: config.channels,
    keep: keptJobs(config),
  });

  const workflows = parts.temporalWorker
    ? await startWorkflowWorkers(config, { orm, queues, temporalClient, redis }, log)
    : null;
  if (workflows) temporalClient = workflows.temporalClient;
  const metrics = new DeliveryMetrics();
  const delivery = parts.deliveryWorkers
    ? startDeliveryWorkers({
        config,
        orm,
        redis,
        temporalClient,
        providers: { ...extraProviders, ...createProviders(config, orm, redis) },
        observer: metrics,
        log,
      })
    : null;
  if (delivery) log(`delivery workers consuming: ${[...delivery.workers.keys()].join(', ') || 'none'}`);
  for (const channel of delivery?.workers.keys() ?? []) {
    metrics.trackQueue(channel, queues.queue(channel), effectiveRateLimit(config.channels[channel]).max);
  }
  // Worker processes' periodic jobs, one process per interval each: stuck work (docs/contracts.md, "Stuck work"),
  // retention (docs/data-lifecycle.md), analytics rollups (docs/analytics.md).
  const periodic =
    parts.temporalWorker || parts.deliveryWorkers
      ? startPeriodicJobs(settings, { config, orm, redis, queues, temporalClient, metrics, log })
      : null;
  const metricsServer =
    config.metricsPort === null ? null : await startMetricsServer(metrics.registry, config.metricsPort);
  if (metricsServer) log(`metrics at ${metricsServer.url}`);

  return {
    config,
    orm,
    redis,
    temporalClient,
    eagerStart: workflows !== null,
    queues,
    delivery,
    metricsServer,
    async stop() {
      await periodic?.stop();
      workflows?.worker.shutdown();
      await Promise.all([workflows?.run, delivery?.close()]);
      await metricsServer?.close();
      await queues.close();
      if (workflows) await workflows.connection.close();
      else await temporalClient.connection.close();
      redis.disconnect();
      await orm.close();
    },
  };
}

/**
 * The workflow workers on a native connection of their own; the service's Temporal client moves onto it
 * (its first connection closes) so event workflows can start eagerly in this process.
 */
async function startWorkflowWorkers(
  config: Config,
  deps: { orm: Orm; queues: SendQueues; temporalClient: Client; redis: RedisConnection },
  log: (line: string) => void,
): Promise<{
  connection: NativeConnection;
  temporalClient: Client;
  worker: TemporalWorkers;
  run: Promise<void>;
}> {
  const connection = await connectTemporalWorker(config.temporal);
  await deps.temporalClient.connection.close();
  const temporalClient = temporalClientOn(connection, config.temporal);
  const worker = await createTemporalWorkers({
    connection,
    config,
    deps: {
      orm: deps.orm,
      queues: deps.queues,
      temporalClient,
      config,
      inAppFeed: { publisher: deps.redis, prefix: config.queuePrefix },
    },
    workflowBundlePath: config.workflowBundlePath,
  });
  const run = worker.run();
  log(
    `workflow workers polling task queues "${config.temporal.taskQueue}" and "${config.temporal.campaignTaskQueue}" on ${config.temporal.address}`,
  );
  return { connection, temporalClient, worker, run };
}

/** DATABASE_POOL_MAX, else what the parts this process runs use at once (docs/production.md, "Postgres connections"). */
export function poolMaxOf(config: Config, parts: ServiceParts): number {
  return poolMaxFor(config.databasePoolMax, {
    workflowWorkerSlots: parts.temporalWorker ? WORKFLOW_WORKER_DB_SLOTS : null,
    channelConcurrencies: parts.deliveryWorkers
      ? config.deliveryChannels.map((channel) => config.channels[channel].concurrency)
      : [],
  });
}

import {
  bundleWorkflowCode,
  Runtime,
  Worker,
  type NativeConnection,
  type WorkerOptions,
} from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import type { Config } from '../config';
import { temporalDataConverter } from '../temporal/payload-codec';

export interface TemporalWorkerOptions {
  connection: NativeConnection;
  config: Pick<Config, 'temporal'>;
  deps: ActivityDeps;
  /** A prebuilt workflow bundle (see bin/build-workflow-bundle); default: bundle workflows/ at start. */
  workflowBundlePath?: string;
}

/** The workflow workers of one process: events on the main task queue, campaigns on their own. */
export interface TemporalWorkers {
  workers: Worker[];
  run(): Promise<void>;
  shutdown(): void;
}

/**
 * Worker tuning (docs/contracts.md, "Worker options"). Event workflows spend their time in local
 * activities (a few milliseconds of Postgres and Redis each) and hold little state, so many run at
 * once; campaign workers take few, long, heartbeating bulk activities, so a campaign never starves
 * the event task queue and urgent events are never queued behind campaign work.
 */
const EVENT_WORKER: Partial<WorkerOptions> = {
  maxConcurrentWorkflowTaskExecutions: 100,
  maxConcurrentLocalActivityExecutions: 200,
  maxConcurrentActivityTaskExecutions: 50,
  maxCachedWorkflows: 2000,
};
const CAMPAIGN_WORKER: Partial<WorkerOptions> = {
  maxConcurrentWorkflowTaskExecutions: 10,
  maxConcurrentActivityTaskExecutions: 2,
  maxCachedWorkflows: 100,
};

/** Local activities and activities this process's workflow workers run at once: each may hold a Postgres connection (src/db/pool-size.ts). */
export const WORKFLOW_WORKER_DB_SLOTS =
  EVENT_WORKER.maxConcurrentLocalActivityExecutions! +
  EVENT_WORKER.maxConcurrentActivityTaskExecutions! +
  CAMPAIGN_WORKER.maxConcurrentActivityTaskExecutions!;

export async function createTemporalWorkers(options: TemporalWorkerOptions): Promise<TemporalWorkers> {
  const activities = createActivities(options.deps);
  // Without a prebuilt bundle, bundle once for both workers: with workflowsPath each Worker.create
  // would run its own webpack build of the same code (twice the start-up time and memory).
  const workflows = options.workflowBundlePath
    ? { workflowBundle: { codePath: options.workflowBundlePath } }
    : {
        workflowBundle: await bundleWorkflowCode({
          workflowsPath: require.resolve('../../workflows'),
          logger: Runtime.instance().logger,
        }),
      };
  // Payloads are decrypted and encrypted on the way in and out (the codec runs outside the workflow sandbox).
  const dataConverter = temporalDataConverter(options.config.temporal);
  const common = {
    connection: options.connection,
    namespace: options.config.temporal.namespace,
    activities,
    dataConverter,
    ...workflows,
  };
  const workers = await Promise.all([
    Worker.create({ ...common, ...EVENT_WORKER, taskQueue: options.config.temporal.taskQueue }),
    Worker.create({ ...common, ...CAMPAIGN_WORKER, taskQueue: options.config.temporal.campaignTaskQueue }),
  ]);
  return {
    workers,
    run: () => Promise.all(workers.map((w) => w.run())).then(() => undefined),
    shutdown: () => workers.forEach((w) => w.getState() === 'RUNNING' && w.shutdown()),
  };
}

/**
 * The Temporal runtime stops workers on SIGINT/SIGTERM by itself; our entry points own shutdown
 * (workers, queues, connections in order), so they call this before creating any worker.
 */
export function leaveShutdownSignalsToUs(): void {
  Runtime.install({ shutdownSignals: [] });
}

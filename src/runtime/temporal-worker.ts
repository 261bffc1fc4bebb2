import { Runtime, Worker, type NativeConnection } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import type { Config } from '../config';

export interface TemporalWorkerOptions {
  connection: NativeConnection;
  config: Pick<Config, 'temporal'>;
  deps: ActivityDeps;
  /** A prebuilt workflow bundle (see bin/build-workflow-bundle); default: bundle workflows/ at start. */
  workflowBundlePath?: string;
}

/** The workflow worker: runs businessEventWorkflow and notificationWorkflow and their activities. */
export async function createTemporalWorker(options: TemporalWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.config.temporal.namespace,
    taskQueue: options.config.temporal.taskQueue,
    activities: createActivities(options.deps),
    ...(options.workflowBundlePath
      ? { workflowBundle: { codePath: options.workflowBundlePath } }
      : { workflowsPath: require.resolve('../../workflows') }),
  });
}

/**
 * The Temporal runtime stops workers on SIGINT/SIGTERM by itself; our entry points own shutdown
 * (workers, queues, connections in order), so they call this before creating any worker.
 */
export function leaveShutdownSignalsToUs(): void {
  Runtime.install({ shutdownSignals: [] });
}

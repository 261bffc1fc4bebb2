import {
  condition,
  defineSignal,
  executeChild,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
} from '@temporalio/workflow';

/**
 * Tiny workflows whose histories show each kind of open work (test/integration/open-work.test.ts).
 * Every one of them is released by the `release` signal (or finishes by itself), so the test leaves nothing open.
 */
export const release = defineSignal('release');

function releasable(): () => boolean {
  let released = false;
  setHandler(release, () => {
    released = true;
  });
  return () => released;
}

/** Waits for a signal with no deadline: the stuck shape of invariant I2. */
export async function waitsForSignal(): Promise<void> {
  await condition(releasable());
}

/** Waits for a signal or an hour, whichever first: holds a timer. */
export async function waitsWithTimer(): Promise<void> {
  await condition(releasable(), '1 hour');
}

const remote = proxyActivities<{ blockUntilReleased(): Promise<void> }>({ startToCloseTimeout: '1 hour' });

/** Runs an activity that blocks until the test releases it: a pending activity. */
export async function runsActivity(): Promise<void> {
  await remote.blockUntilReleased();
}

const local = proxyLocalActivities<{ blockUntilReleased(): Promise<void> }>({
  startToCloseTimeout: '1 hour',
});

/** Runs a local activity that blocks until the test releases it: no event of its own, the workflow task stays open. */
export async function runsLocalActivity(): Promise<void> {
  await local.blockUntilReleased();
}

const failingLocal = proxyLocalActivities<{ alwaysFails(): Promise<void> }>({
  startToCloseTimeout: '5 seconds',
  // A backoff beyond the threshold is slept on a workflow timer between attempts.
  localRetryThreshold: '1 second',
  retry: { initialInterval: '3 seconds', backoffCoefficient: 1, maximumAttempts: 3 },
});

/** A local activity retrying with a backoff longer than localRetryThreshold. */
export async function retriesLocalActivity(): Promise<void> {
  await failingLocal.alwaysFails().catch(() => undefined);
}

/** Starts a child on a task queue nobody polls: a pending child. */
export async function startsChild(input: { childTaskQueue: string }): Promise<void> {
  await executeChild(waitsForSignal, {
    taskQueue: input.childTaskQueue,
    workflowId: `${input.childTaskQueue}-child`,
  });
}

/** Ends at once. */
export async function finishes(): Promise<void> {
  await sleep(1);
}

/** Its workflow task fails every time (a bug in workflow code): the server retries the task, unrecorded. */
export async function failsItsTask(): Promise<void> {
  throw new TypeError('a bug in workflow code');
}

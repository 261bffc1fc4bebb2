import { condition, defineSignal, setHandler } from '@temporalio/workflow';

/**
 * A stand-in for an event workflow still on release 0's code (test/integration/release-0-open.test.ts):
 * the type name of the real one, and no patch taken, as businessEventWorkflowV0 ran before release 1.
 */
export const release = defineSignal('release');

export async function businessEventWorkflow(): Promise<void> {
  let released = false;
  setHandler(release, () => {
    released = true;
  });
  await condition(() => released);
}

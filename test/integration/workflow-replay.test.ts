import { Worker } from '@temporalio/worker';
import { notificationWorkflowId } from '../../src/domain/workflow-ids';
import { TestStack } from '../helpers/test-stack';

/**
 * Replays real histories against the current workflow bundle: a change to workflows/ that would break
 * notifications already in flight (non-determinism) fails here instead of in production.
 */
describe('workflow determinism', () => {
  const stack = new TestStack();
  beforeAll(() => stack.start());
  afterAll(() => stack.stop());

  it('replays the histories of an event with a delay, a cancellation and a follow-up', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const orderNumber = stack.uid('A');
    const failed = { id: stack.uid('evt'), type: 'PAYMENT_FAILED', occurredAt: new Date().toISOString(), userId, data: { orderNumber }, options: { delayMs: 300 } };
    const captured = { id: stack.uid('evt'), type: 'PAYMENT_CAPTURED', occurredAt: new Date().toISOString(), userId, data: { orderNumber } };
    await stack.client.publishEvent(failed);
    const failedResult = await stack.client.eventResult(failed.id);
    await stack.client.publishEvent(captured);
    const capturedResult = await stack.client.eventResult(captured.id);
    expect(capturedResult.cancelled).toEqual([failedResult.followUps[0].workflowId]);
    await stack.temporalClient.workflow.getHandle(failedResult.followUps[0].workflowId).result();

    const ids = [
      `event-${failed.id}`,
      notificationWorkflowId(failed.id, userId),
      failedResult.followUps[0].workflowId,
      `event-${captured.id}`,
      notificationWorkflowId(captured.id, userId),
    ];
    const histories = await Promise.all(ids.map(async (workflowId) => ({ workflowId, history: await stack.temporalClient.workflow.getHandle(workflowId).fetchHistory() })));
    const results = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! } }, histories)) {
      results.push({ workflowId: result.workflowId, error: result.error ? String(result.error) : null });
    }
    expect(results).toEqual(ids.map((workflowId) => ({ workflowId, error: null })));
  });
});

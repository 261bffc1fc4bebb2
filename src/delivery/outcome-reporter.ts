import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { ChannelOutcome } from '../domain/notification-status';
import { MESSAGES } from '../domain/workflow-messages';

export interface OutcomeReporter {
  report(workflowId: string, outcome: ChannelOutcome): Promise<void>;
}

/** Reports channel outcomes to release-0 notificationWorkflows by signal (docs/contracts.md). */
export class TemporalOutcomeReporter implements OutcomeReporter {
  constructor(private readonly client: Client) {}

  async report(workflowId: string, outcome: ChannelOutcome): Promise<void> {
    try {
      await this.client.workflow.getHandle(workflowId).signal(MESSAGES.channelOutcome, outcome);
    } catch (err) {
      // The workflow already finished (deadline passed, terminated): nobody is waiting for this outcome.
      if (err instanceof WorkflowNotFoundError) return;
      throw err;
    }
  }
}

import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { ChannelOutcome } from '../domain/notification-status';
import { MESSAGES } from '../domain/workflow-messages';

export interface OutcomeReporter {
  report(workflowId: string, outcome: ChannelOutcome): Promise<void>;
}

/**
 * What a release-0 workflow learns of a failed channel (docs/contracts.md, "Signals, updates and
 * queries"): a code, never the provider's text, which may quote an address or a phone number and would
 * stay in the workflow's history. The text stays in Postgres (`delivery_attempts.error`).
 */
export const CHANNEL_FAILURE_CODES = {
  /** The provider refused for good (no address, bad number, no push subscription, ...): the fallback may take over. */
  permanent: 'delivery_failed_permanently',
  /** Every attempt failed (provider down, timeouts, ...). */
  exhausted: 'delivery_attempts_exhausted',
} as const;

/** The signal payload for an outcome: the error text replaced by its code. */
export function signalPayloadOf(outcome: ChannelOutcome): ChannelOutcome {
  const { error, ...rest } = outcome;
  if (error === undefined) return rest;
  return {
    ...rest,
    error: outcome.permanent ? CHANNEL_FAILURE_CODES.permanent : CHANNEL_FAILURE_CODES.exhausted,
  };
}

/** Reports channel outcomes to release-0 notificationWorkflows by signal (docs/contracts.md); goes with release 0 (docs/release-0.md). */
export class TemporalOutcomeReporter implements OutcomeReporter {
  constructor(private readonly client: Client) {}

  async report(workflowId: string, outcome: ChannelOutcome): Promise<void> {
    try {
      await this.client.workflow
        .getHandle(workflowId)
        .signal(MESSAGES.channelOutcome, signalPayloadOf(outcome));
    } catch (err) {
      // The workflow already finished (deadline passed, terminated): nobody is waiting for this outcome.
      if (err instanceof WorkflowNotFoundError) return;
      throw err;
    }
  }
}

import { patched } from '@temporalio/workflow';
import type { BusinessEvent } from '../../src/domain/business-event';
import type { CampaignProgress, CampaignWorkflowInput } from '../../src/domain/campaign';
import type { EventResult } from '../../src/domain/notification-request';
import { PATCHES } from '../patches';
import { businessEventWorkflowV0 } from './business-event-workflow';
import { campaignWorkflowV0 } from './campaign-workflow';

/**
 * The one door to release 0's workflow code (docs/release-0.md). An execution whose history lacks the
 * release-1 marker began under release 0 and finishes on release 0's code; every other execution gets
 * `undefined` and runs the current code. Removing release 0 starts here: see the procedure there.
 */
export function release0BusinessEvent(input: BusinessEvent): Promise<EventResult> | undefined {
  return patched(PATCHES.leanEventPath) ? undefined : businessEventWorkflowV0(input);
}

/** As release0BusinessEvent, for a campaign workflow (release 0 sent one child workflow per recipient). */
export function release0Campaign(input: CampaignWorkflowInput): Promise<CampaignProgress> | undefined {
  return patched(PATCHES.bulkCampaign) ? undefined : campaignWorkflowV0(input);
}

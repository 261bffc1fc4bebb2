/**
 * Patch ids (docs/contracts.md, "Versioning"): a workflow change after a release is guarded by
 * `patched(id)`, so histories of the previous release (test/histories) still replay.
 */
export const PATCHES = {
  /**
   * Release 1: one event workflow owns all its recipients (local activities, outcomes in Postgres).
   * This patch and bulkCampaign guard release 0's code; docs/release-0.md says when and how to
   * deprecate them and delete it.
   */
  leanEventPath: 'lean-event-path',
  /** Release 1: campaigns fan out as bulk pages instead of one workflow per recipient. */
  bulkCampaign: 'bulk-campaign-fan-out',
  /**
   * After release 1: the closing worker's outcomesReady report settles the event without a reconcile
   * step. Asked only when a report arrived: a release-1 worker that got one ran the reconcile anyway.
   */
  outcomesReport: 'outcomes-report',
  /**
   * Release 3: a step that ran out of its horizon expires the event's open work instead of failing the
   * workflow. Asked only when a step timed out: earlier releases failed there.
   */
  expireOnHorizon: 'expire-on-horizon',
  /** Release 3: a wait with no wake-up time or deadline known gets one (I2). Asked only in that case: earlier releases waited without. */
  alwaysATimer: 'always-a-timer',
  /** Release 3: a campaign completes only once every notification of it is final (reconciled at deadlines); earlier releases completed after fan-out. */
  campaignSettles: 'campaign-settles',
  /**
   * Release 5: a campaign scheduled ahead with CAMPAIGN_STAGE_LEAD_MS set stages its notifications that long
   * before its start (jobs delayed until then) and looks for lost staged jobs after it. Asked only then.
   */
  campaignStaging: 'campaign-staging',
  /**
   * Release 5: workflow ids and search attributes carry the recipient's opaque ref, never the user id
   * (follow-up ids, NotificationRecipientRef upserted after the first step). Asked only when the first
   * step answered refs: earlier releases' steps did not.
   */
  opaqueRecipientIds: 'opaque-recipient-ids',
} as const;

/**
 * Patch ids (docs/contracts.md, "Versioning"): a workflow change after a release is guarded by
 * `patched(id)`, so histories of the previous release (test/histories) still replay.
 */
export const PATCHES = {
  /** Release 1: one event workflow owns all its recipients (local activities, outcomes in Postgres). */
  leanEventPath: 'lean-event-path',
  /** Release 1: campaigns fan out as bulk pages instead of one workflow per recipient. */
  bulkCampaign: 'bulk-campaign-fan-out',
} as const;

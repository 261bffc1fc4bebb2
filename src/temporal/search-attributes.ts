import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes of docs/contracts.md: ids only, never emails or phones (Temporal stores them unencrypted). */
export const NotificationEventId = defineSearchAttributeKey(
  'NotificationEventId',
  SearchAttributeType.KEYWORD,
);
export const NotificationEventType = defineSearchAttributeKey(
  'NotificationEventType',
  SearchAttributeType.KEYWORD,
);
/**
 * Set by release 4 and earlier (the shop's user id in clear); still registered so their executions and
 * visibility queries work, never set on new workflows, which carry NotificationRecipientRef instead.
 */
export const NotificationUserId = defineSearchAttributeKey('NotificationUserId', SearchAttributeType.KEYWORD);
/** The recipient's opaque ref (`recipients.ref`, deleted by an erasure) on single-recipient events, follow-ups and digests. */
export const NotificationRecipientRef = defineSearchAttributeKey(
  'NotificationRecipientRef',
  SearchAttributeType.KEYWORD,
);

export const SEARCH_ATTRIBUTE_NAMES = [
  'NotificationEventId',
  'NotificationEventType',
  'NotificationUserId',
  'NotificationRecipientRef',
] as const;

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
export const NotificationUserId = defineSearchAttributeKey('NotificationUserId', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTE_NAMES = [
  'NotificationEventId',
  'NotificationEventType',
  'NotificationUserId',
] as const;

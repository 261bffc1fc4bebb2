/**
 * Shapes of the shopper routes' answers: one source with the server's response schemas
 * (src/api/contract-types.ts), plus the list item the widget keeps.
 */
import type { FeedItemView, LiveNotification } from '../../src/api/contract-types';

export type {
  FeedPageView as FeedPage,
  LiveNotification,
  PreferencesView as Preferences,
  QuietHoursView as QuietHours,
} from '../../src/api/contract-types';

/** One in-app notification as the list shows it: a page's item, or a live one (no category until the next reload). */
export type FeedItem = LiveNotification & Pick<FeedItemView, 'read'> & { category: string | null };

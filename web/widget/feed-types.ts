/** Shapes of the shopper routes' answers (src/api/routes/notification-center.ts, preferences.ts). */

/** One in-app notification as the list shows it. Live items carry no category until the next reload. */
export interface FeedItem {
  id: string;
  title: string | null;
  body: string | null;
  actionUrl: string | null;
  actionText: string | null;
  category: string | null;
  createdAt: string;
  read: boolean;
}

export interface FeedPage {
  items: FeedItem[];
  nextCursor: string | null;
}

/** What `event: notification` of /api/notifications/stream carries. */
export interface LiveNotification {
  id: string;
  title: string | null;
  body: string | null;
  actionUrl: string | null;
  actionText: string | null;
  createdAt: string;
}

export interface QuietHours {
  start: string;
  end: string;
  timezone: string;
}

export interface Preferences {
  muted: boolean;
  quietHours: QuietHours | null;
  /** category -> channel -> enabled */
  channels: Record<string, Record<string, boolean>>;
  /** category -> channels that cannot be switched off */
  mandatory: Record<string, string[]>;
}

import { cancelWaitingById, markAllRead, markRead } from '../../state/notification-store';
import type { FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { DeliveryAttempt, Notification, SendRecord } from '../entities';

/** Position in a recipient's feed: the last item of a page, newest first. */
export interface FeedCursor {
  /** created_at with microseconds, ISO 8601 UTC, exactly as Postgres stores it. */
  createdAt: string;
  id: string;
}

export interface FeedItem {
  id: string;
  eventId: string;
  eventType: string | null;
  templateCode: string;
  category: string;
  priority: string;
  title: string | null;
  body: string | null;
  actionUrl: string | null;
  actionText: string | null;
  createdAt: Date;
  deliveredAt: Date;
  readAt: Date | null;
  cursor: FeedCursor;
}

export interface FeedPage {
  items: FeedItem[];
  /** Cursor of the next (older) page; null on the last page. */
  next: FeedCursor | null;
}

const FEED_COLUMNS = `id, event_id, event_type, template_code, category, priority, title, body, action_url, action_text,
  created_at, delivered_at, read_at,
  to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_created_at`;

type FeedRow = {
  id: string;
  event_id: string;
  event_type: string | null;
  template_code: string;
  category: string;
  priority: string;
  title: string | null;
  body: string | null;
  action_url: string | null;
  action_text: string | null;
  // Timestamps arrive as Postgres text (MikroORM turns off pg's date parsing).
  created_at: string;
  delivered_at: string;
  read_at: string | null;
  cursor_created_at: string;
};

function toFeedItem(row: FeedRow): FeedItem {
  return {
    id: row.id,
    eventId: row.event_id,
    eventType: row.event_type,
    templateCode: row.template_code,
    category: row.category,
    priority: row.priority,
    title: row.title,
    body: row.body,
    actionUrl: row.action_url,
    actionText: row.action_text,
    createdAt: new Date(row.created_at),
    deliveredAt: new Date(row.delivered_at),
    readAt: row.read_at ? new Date(row.read_at) : null,
    cursor: { createdAt: row.cursor_created_at, id: row.id },
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Both ids of a key `notification-<eventId>-<userId>` may contain '-': each split is a candidate. */
function keyCandidates(key: string): { eventId: string; recipientId: string }[] {
  const rest = key.startsWith('notification-') ? key.slice('notification-'.length) : '';
  const candidates: { eventId: string; recipientId: string }[] = [];
  for (let i = rest.indexOf('-'); i > 0; i = rest.indexOf('-', i + 1))
    candidates.push({ eventId: rest.slice(0, i), recipientId: rest.slice(i + 1) });
  return candidates;
}

/**
 * Queries on notifications for the API. The notification center shows what the in-app channel
 * delivered (delivered_at set), always scoped to one recipient: another recipient's notification
 * behaves exactly like a missing one.
 */
export class NotificationRepository {
  constructor(private readonly em: EntityManager) {}

  findById(id: string): Promise<Notification | null> {
    return this.em.findOne(Notification, { id });
  }

  /**
   * The notification a key `notification-<eventId>-<userId>` names. Both ids may contain '-', so each
   * split is a candidate; the unique (event_id, recipient_id) index answers them in one query.
   */
  findByKey(key: string): Promise<Notification | null> {
    const candidates = keyCandidates(key);
    if (candidates.length === 0) return Promise.resolve(null);
    return this.em.findOne(Notification, { $or: candidates });
  }

  /**
   * Notifications `q` names exactly: as notification id (UUID), workflow id, event id, recipient id or
   * key `notification-<eventId>-<userId>`; newest first (the operators' search).
   */
  search(q: string, limit: number): Promise<Notification[]> {
    const or: FilterQuery<Notification>[] = [
      { workflowId: q },
      { eventId: q },
      { recipientId: q },
      ...keyCandidates(q),
    ];
    if (UUID.test(q)) or.push({ id: q.toLowerCase() });
    return this.em.find(Notification, { $or: or }, { orderBy: { createdAt: 'desc', id: 'desc' }, limit });
  }

  /** Cancels one waiting notification in place (campaign notifications: no workflow holds them); false if it no longer waits. */
  cancelWaiting(id: string, reason?: string): Promise<boolean> {
    return cancelWaitingById(this.em, id, reason ? `cancelled: ${reason}` : 'cancelled');
  }

  findByWorkflowId(workflowId: string): Promise<Notification | null> {
    return this.em.findOne(Notification, { workflowId }, { orderBy: { createdAt: 'desc' } });
  }

  /** One page of a recipient's feed, newest first (created_at, id), strictly after `after`. */
  async feed(
    recipientId: string,
    options: { limit: number; unreadOnly: boolean; after?: FeedCursor },
  ): Promise<FeedPage> {
    const params: unknown[] = [recipientId];
    let where = 'recipient_id = ? and delivered_at is not null';
    if (options.unreadOnly) where += ' and read_at is null';
    if (options.after) {
      where += ' and (created_at, id) < (?::timestamptz, ?::uuid)';
      params.push(options.after.createdAt, options.after.id);
    }
    params.push(options.limit + 1);
    const rows: FeedRow[] = await this.em
      .getConnection()
      .execute(
        `select ${FEED_COLUMNS} from notifications where ${where} order by created_at desc, id desc limit ?`,
        params,
      );
    const items = rows.slice(0, options.limit).map(toFeedItem);
    return { items, next: rows.length > options.limit ? items[items.length - 1].cursor : null };
  }

  /** Delivered notifications newer than `after` (one the client already has), oldest first: an SSE resume. */
  async feedSince(recipientId: string, afterId: string, limit: number): Promise<FeedItem[]> {
    const rows: FeedRow[] = await this.em.getConnection().execute(
      `select ${FEED_COLUMNS} from notifications n
        where recipient_id = ? and delivered_at is not null
          and (created_at, id) > (select created_at, id from notifications where id = ? and recipient_id = ?)
        order by created_at asc, id asc limit ?`,
      [recipientId, afterId, recipientId, limit],
    );
    return rows.map(toFeedItem);
  }

  async unreadCount(recipientId: string): Promise<number> {
    const [row] = await this.em
      .getConnection()
      .execute<{ count: string }[]>(
        `select count(*) as count from notifications where recipient_id = ? and delivered_at is not null and read_at is null`,
        [recipientId],
      );
    return Number(row.count);
  }

  /** Marks one of the recipient's delivered notifications read (first read time kept); null when it is not theirs. */
  markRead(recipientId: string, id: string, at: Date): Promise<Date | null> {
    return markRead(this.em, recipientId, id, at);
  }

  /** Marks every delivered, unread notification of the recipient read; returns how many changed. */
  markAllRead(recipientId: string, at: Date): Promise<number> {
    return markAllRead(this.em, recipientId, at);
  }

  deliveryAttempts(notificationId: string): Promise<DeliveryAttempt[]> {
    return this.em.find(
      DeliveryAttempt,
      { notificationId },
      { orderBy: { startedAt: 'asc', attempt: 'asc' } },
    );
  }

  sendRecords(notificationId: string): Promise<SendRecord[]> {
    return this.em.find(SendRecord, { notificationId });
  }
}

import { actionLinkTracker } from '../../tracking/email-tracking';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { FeedItemView, FeedPageView } from '../contract-types';
import {
  NotificationRepository,
  type FeedCursor,
  type FeedItem,
} from '../../db/repositories/notification-repository';
import { userIdOf } from '../auth/authenticate';
import type { ApiContext } from '../context';
import { notFound } from '../errors';
import { answerSchema, errors, noBody, noQuery, UUID_PATTERN, uuidSchema } from '../schemas';

/** Opaque to clients: base64url of [created_at, id] of the last item seen. */
function encodeCursor(cursor: FeedCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString('base64url');
}

function decodeCursor(value: string): FeedCursor | null {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (!Array.isArray(parsed) || parsed.length !== 2) return null;
    const [createdAt, id] = parsed;
    if (typeof createdAt !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(createdAt))
      return null;
    if (typeof id !== 'string' || !UUID_PATTERN.test(id)) return null;
    return { createdAt, id };
  } catch {
    return null;
  }
}

const cursorSchema = z
  .string()
  .max(200)
  .transform((value, ctx) => {
    const cursor = decodeCursor(value);
    if (!cursor) {
      ctx.addIssue({
        code: 'custom',
        message: 'is not a cursor from this API (use nextCursor of the previous page)',
      });
      return z.NEVER;
    }
    return cursor;
  });

const feedItemSchema = answerSchema<FeedItemView>()(
  z.object({
    id: z.string(),
    title: z.string().nullable(),
    body: z.string().nullable(),
    actionUrl: z.string().nullable(),
    actionText: z.string().nullable(),
    category: z.string(),
    eventType: z.string().nullable(),
    templateCode: z.string(),
    priority: z.string(),
    createdAt: z.string(),
    deliveredAt: z.string(),
    readAt: z.string().nullable(),
    read: z.boolean(),
  }),
);

export function feedItemView(item: FeedItem): z.infer<typeof feedItemSchema> {
  return {
    id: item.id,
    title: item.title,
    body: item.body,
    actionUrl: item.actionUrl,
    actionText: item.actionText,
    category: item.category,
    eventType: item.eventType,
    templateCode: item.templateCode,
    priority: item.priority,
    createdAt: item.createdAt.toISOString(),
    deliveredAt: item.deliveredAt.toISOString(),
    readAt: item.readAt?.toISOString() ?? null,
    read: item.readAt !== null,
  };
}

const SECURITY = [{ bearer: [] }];

const feedSchema = {
  tags: ['notification center'],
  summary: 'My notifications, newest first',
  description:
    'In-app notifications delivered to the caller. Pass `nextCursor` as `cursor` for the next page; `unread=true` lists unread ones only.',
  security: SECURITY,
  querystring: z
    .object({
      cursor: cursorSchema.optional(),
      limit: z.coerce.number().int().min(1).max(100).default(20),
      unread: z
        .enum(['true', 'false'])
        .default('false')
        .transform((v) => v === 'true'),
    })
    .strict(),
  response: {
    200: answerSchema<FeedPageView>()(
      z.object({ items: z.array(feedItemSchema), nextCursor: z.string().nullable() }),
    ),
    ...errors(400, 401, 403, 429),
  },
};

const unreadCountSchema = {
  tags: ['notification center'],
  summary: 'How many of my notifications are unread',
  security: SECURITY,
  querystring: noQuery,
  response: { 200: z.object({ count: z.number().int() }), ...errors(401, 403, 429) },
};

const markReadSchema = {
  tags: ['notification center'],
  summary: 'Mark one of my notifications read',
  description:
    "Idempotent: the first read time is kept. Another user's notification answers 404, like a missing one.",
  security: SECURITY,
  params: z.object({ id: uuidSchema }),
  querystring: noQuery,
  body: noBody,
  response: {
    200: z.object({ id: z.string(), readAt: z.string() }),
    ...errors(400, 401, 403, 404, 429),
  },
};

const markAllReadSchema = {
  tags: ['notification center'],
  summary: 'Mark all my notifications read',
  security: SECURITY,
  querystring: noQuery,
  body: noBody,
  response: { 200: z.object({ updated: z.number().int() }), ...errors(401, 403, 429) },
};

/** Shopper-facing: the caller's own in-app notifications (the JWT subject); anything else is a 404. */
export function notificationCenterRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    const onRequest = ctx.auth.guard('user');

    app.get('/api/notifications', { onRequest, schema: feedSchema }, async (request) => {
      const { cursor, limit, unread } = request.query;
      const page = await new NotificationRepository(request.em).feed(userIdOf(request), {
        limit,
        unreadOnly: unread,
        after: cursor,
      });
      // Action links through the click redirect (docs/tracking-and-receipts.md); identity with tracking off.
      const trackLink = actionLinkTracker(ctx.deps.config.tracking, ctx.deps.config.shop.url);
      return {
        items: page.items.map((item) =>
          feedItemView({
            ...item,
            actionUrl: item.actionUrl && trackLink(item.id, 'in_app', item.actionUrl),
          }),
        ),
        nextCursor: page.next ? encodeCursor(page.next) : null,
      };
    });

    app.get('/api/notifications/unread-count', { onRequest, schema: unreadCountSchema }, async (request) => ({
      count: await new NotificationRepository(request.em).unreadCount(userIdOf(request)),
    }));

    app.post('/api/notifications/:id/read', { onRequest, schema: markReadSchema }, async (request) => {
      const id = request.params.id.toLowerCase();
      const readAt = await new NotificationRepository(request.em).markRead(userIdOf(request), id, ctx.now());
      if (!readAt) throw notFound();
      return { id, readAt: readAt.toISOString() };
    });

    app.post('/api/notifications/read-all', { onRequest, schema: markAllReadSchema }, async (request) => ({
      updated: await new NotificationRepository(request.em).markAllRead(userIdOf(request), ctx.now()),
    }));
  };
}

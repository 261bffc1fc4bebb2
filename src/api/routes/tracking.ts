import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { recordEngagement } from '../../state/engagement';
import { verifyClickToken, verifyOpenToken } from '../../tracking/tracking-token';
import type { ApiContext } from '../context';
import { ApiError } from '../errors';
import { errors } from '../schemas';

/** A transparent 1x1 GIF. */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

/**
 * No per-address limit: image proxies (Gmail, Apple Mail Privacy Protection) fetch pixels and link
 * scanners (Safe Links) follow clicks for many recipients from few addresses. A bad token costs one
 * HMAC and no query; a valid one, one upsert of its own row.
 */
const NO_RATE_LIMIT = { rateLimit: false } as const;

const clickSchema = {
  tags: ['tracking'],
  summary: 'Tracked link (click redirect)',
  description:
    'The signed redirect every tracked link in a message goes through (docs/tracking-and-receipts.md): a token signed with TRACKING_SECRET (HMAC-SHA256 over notification id, channel and target) records `clicked` for that notification and channel (a repeat bumps the count) and answers 302 to the target. A token we did not sign answers 400 and redirects nowhere.',
  params: z.object({ token: z.string().min(1).max(1000) }),
  response: { 302: z.null().describe('to the link target'), ...errors(400, 404, 429) },
};

const openSchema = {
  tags: ['tracking'],
  summary: 'Open pixel',
  description:
    'A 1x1 GIF in HTML emails (TRACK_OPENS): a signed token records `opened`. Always answers the image (a bad token records nothing). Mail-privacy proxies (Apple Mail Privacy Protection) fetch every image on delivery: opens are inflated.',
  params: z.object({ file: z.string().min(1).max(1000).describe('<token>.gif') }),
  response: { 200: z.any().describe('image/gif'), ...errors(404, 429) },
};

/** `GET /r/{token}` and `GET /o/{token}.gif`: the public ends of tracked links and pixels; the signed token is the credential. */
export function trackingRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    const secret = ctx.deps.config.trackingSecret;
    app.get('/r/:token', { schema: clickSchema, config: NO_RATE_LIMIT }, async (request, reply) => {
      if (!secret) throw new ApiError(404, 'tracked links are not enabled here (TRACKING_SECRET unset)');
      const click = verifyClickToken(secret, request.params.token);
      if (!click) throw new ApiError(400, 'this link is not valid (its signature does not match)');
      await recordEngagement(request.em, {
        notificationId: click.notificationId,
        channel: click.channel,
        kind: 'clicked',
        at: ctx.now(),
        detail: { url: click.target },
      });
      return reply
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .redirect(click.target, 302);
    });

    app.get('/o/:file', { schema: openSchema, config: NO_RATE_LIMIT }, async (request, reply) => {
      if (!secret) throw new ApiError(404, 'open tracking is not enabled here (TRACKING_SECRET unset)');
      const token = request.params.file.replace(/\.gif$/, '');
      const open = verifyOpenToken(secret, token);
      if (open) {
        await recordEngagement(request.em, {
          notificationId: open.notificationId,
          channel: open.channel,
          kind: 'opened',
          at: ctx.now(),
        });
      }
      return reply
        .header('content-type', 'image/gif')
        .header('cache-control', 'no-store, no-cache, must-revalidate, private')
        .send(PIXEL);
    });
  };
}

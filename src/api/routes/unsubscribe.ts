import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  unsubscribeUrl,
  verifyUnsubscribeToken,
  type UnsubscribeClaims,
  type UnsubscribeSettings,
} from '../../consent/unsubscribe-token';
import {
  problemPage,
  UNSUBSCRIBE_PAGE_CSP,
  unsubscribePage,
  type EmailCategoryState,
} from '../../consent/unsubscribe-page';
import { consentsOf, recordChannelChoice } from '../../db/repositories/consent-repository';
import { PreferenceRepository } from '../../db/repositories/preference-repository';
import { needsConsent } from '../../domain/consent';
import { CATEGORIES, isMandatory } from '../../domain/event-catalog';
import type { ApiContext } from '../context';
import { acceptFormBodies } from '../form-body';

const tokenParams = z.object({ token: z.string().min(1).max(2000) });
const categoryParams = tokenParams.extend({ category: z.enum(CATEGORIES) });

/** Pages and posts of a link from an email: no session, no CSRF token; the signed token is the credential. */
const HIDDEN = { hide: true } as const;

/** A request whose link does not work: 400 (malformed, bad signature, expired) or 404 (recipient gone), nothing changed. */
class LinkProblem extends Error {
  constructor(
    readonly statusCode: 400 | 404,
    message: string,
  ) {
    super(message);
  }
}

/**
 * RFC 8058 one-click unsubscribe and the page behind the link (docs/consent.md):
 * - `GET /unsubscribe/{token}`: a page confirming, with a button (form POST) and the other categories;
 * - `POST /unsubscribe/{token}` (body `List-Unsubscribe=One-Click`, as mail clients send it): the link's
 *   category off on its channel, logged with source `one-click` and the notification it came with;
 *   2xx also when it was off already;
 * - `POST /unsubscribe/{token}/categories/{category}` (`email=on|off`): the page's other buttons.
 */
export function unsubscribeRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    acceptFormBodies(app);
    const settings = ctx.deps.config.unsubscribe;
    const claimsOf = (token: string) => verifiedClaims(settings, token);
    const render = async (em: EntityManager, reply: FastifyReply, token: string, notice?: string) => {
      const claims = claimsOf(token);
      const categories = await emailCategories(em, claims);
      const link = unsubscribeUrl(settings!.publicUrl, token);
      return page(reply, 200, unsubscribePage(link, { category: claims.category, categories, notice }));
    };
    app.setErrorHandler((err, _request, reply) => {
      if (err instanceof LinkProblem) return page(reply, err.statusCode, problemPage(err.message));
      throw err;
    });

    app.get('/unsubscribe/:token', { schema: { ...HIDDEN, params: tokenParams } }, (request, reply) =>
      render(request.em, reply, request.params.token),
    );

    app.post(
      '/unsubscribe/:token',
      { schema: { ...HIDDEN, params: tokenParams } },
      async (request, reply) => {
        const claims = claimsOf(request.params.token);
        await recordChannelChoice(request.em, {
          recipientId: claims.recipientId,
          category: claims.category,
          channel: claims.channel,
          enabled: false,
          source: 'one-click',
          notificationId: claims.notificationId,
        });
        const what = `${claims.category.replace(/_/g, ' ')} ${claims.channel === 'email' ? 'emails' : `on ${claims.channel}`}`;
        return render(request.em, reply, request.params.token, `You are unsubscribed from ${what}.`);
      },
    );

    const categorySchema = {
      ...HIDDEN,
      params: categoryParams,
      body: z.object({ email: z.enum(['on', 'off']) }),
    };
    app.post(
      '/unsubscribe/:token/categories/:category',
      { schema: categorySchema },
      async (request, reply) => {
        const claims = claimsOf(request.params.token);
        const { category } = request.params;
        const enabled = request.body.email === 'on';
        if (!enabled || !isMandatory(category, 'email'))
          await recordChannelChoice(request.em, {
            recipientId: claims.recipientId,
            category,
            channel: 'email',
            enabled,
            source: 'email-link',
            notificationId: claims.notificationId,
          });
        const notice = `${category.replace(/_/g, ' ')} emails ${enabled ? 'on again' : 'off'}.`;
        return render(request.em, reply, request.params.token, notice);
      },
    );
  };
}

function verifiedClaims(settings: UnsubscribeSettings | null, token: string): UnsubscribeClaims {
  if (!settings)
    throw new LinkProblem(404, 'unsubscribe links are not enabled here (UNSUBSCRIBE_SECRET unset)');
  const check = verifyUnsubscribeToken(token, settings.secret, settings.ttlMs);
  if (!check.ok)
    throw new LinkProblem(400, `invalid unsubscribe link: ${check.problem}; nothing was changed`);
  return check.claims;
}

/** The categories the page lists (those whose email may be switched off), the link's own first; 404 when the recipient is gone. */
async function emailCategories(em: EntityManager, claims: UnsubscribeClaims): Promise<EmailCategoryState[]> {
  const [stored, consents] = await Promise.all([
    new PreferenceRepository(em).load(claims.recipientId),
    consentsOf(em, claims.recipientId),
  ]);
  if (!stored) throw new LinkProblem(404, 'this link belongs to a recipient that no longer exists');
  const off = new Set(stored.cells.filter((c) => c.channel === 'email' && !c.enabled).map((c) => c.category));
  const granted = new Set(consents.filter((c) => c.granted).map((c) => c.category));
  const listed = CATEGORIES.filter((c) => !isMandatory(c, 'email')).sort(
    (a, b) => Number(b === claims.category) - Number(a === claims.category),
  );
  return listed.map((category) => ({
    category,
    enabled: !off.has(category),
    consented: !needsConsent(category) || granted.has(category),
  }));
}

function page(reply: FastifyReply, statusCode: number, html: string): FastifyReply {
  return (
    reply
      .code(statusCode)
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', UNSUBSCRIBE_PAGE_CSP)
      .header('x-frame-options', 'DENY')
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-store')
      // The token in the URL is a credential: never in a Referer.
      .header('referrer-policy', 'no-referrer')
      .send(html)
  );
}

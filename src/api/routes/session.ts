import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { SessionView } from '../contract-types';
import type { Principal } from '../auth/principal';
import {
  checkCsrf,
  clearSessionCookie,
  type Session,
  sessionCookieOf,
  setSessionCookie,
} from '../auth/sessions';
import type { ApiContext } from '../context';
import { ApiError } from '../errors';
import { answerSchema, errors, noQuery } from '../schemas';

export const sessionSchema = answerSchema<SessionView>()(
  z.object({
    kind: z.enum(['key', 'user']).describe('opened with an admin key or with a token'),
    subject: z.string().describe("the key's name or the user id (the token's sub)"),
    admin: z.boolean(),
    csrfToken: z
      .string()
      .describe('send as X-CSRF-Token on every POST/PUT/PATCH/DELETE riding on the cookie'),
    expiresAt: z
      .string()
      .describe("the session ends then: SESSION_TTL_MS after sign-in, or at the token's exp if earlier"),
  }),
);

/** One object rather than a union, so a 400 names the fields (a union's error names none). */
const credentialBody = z
  .object({
    adminKey: z.string().min(1).max(1000).optional().describe('an admin key (ADMIN_API_KEYS)'),
    token: z.string().min(1).max(8192).optional().describe("a shopper's or an operator's JWT"),
  })
  .strict()
  .superRefine((body, issues) => {
    if ((body.adminKey === undefined) !== (body.token === undefined)) return;
    for (const field of ['adminKey', 'token'])
      issues.addIssue({ code: 'custom', path: [field], message: 'give exactly one of adminKey and token' });
  });

const DESCRIPTION = `Browser sessions (docs/contracts.md, "Browser surfaces"): the cookie \`ns_session\` (HttpOnly,
SameSite=Strict, Path=/) authenticates every API route like the credential it was opened with; a request with
X-API-Key or Authorization uses those instead. POST/PUT/PATCH/DELETE riding on the cookie must send
\`X-CSRF-Token\`. Calls sent with \`X-Requested-With: fetch\` get 401 without a Basic challenge.`;

const NO_SESSION = 'no session (signed out or expired)';

const signInSchema = {
  tags: ['sessions'],
  summary: 'Sign in: open a browser session with an admin key or a token',
  description: `${DESCRIPTION}\n\nExactly one of \`adminKey\` and \`token\`. A service key cannot open a session (403); an invalid credential is a 401 and counts against the address like any failed authentication.`,
  querystring: noQuery,
  body: credentialBody,
  response: { 200: sessionSchema, ...errors(400, 401, 403, 413, 429, 503) },
};

const currentSessionSchema = {
  tags: ['sessions'],
  summary: 'The current browser session (and its CSRF token)',
  description: DESCRIPTION,
  querystring: noQuery,
  response: { 200: sessionSchema, ...errors(401, 503) },
};

const signOutSchema = {
  tags: ['sessions'],
  summary: 'Sign out: end the browser session',
  description: `${DESCRIPTION}\n\nNeeds X-CSRF-Token while the session lives; without a live session it only clears the cookie.`,
  querystring: noQuery,
  response: { 204: z.void().describe('signed out'), ...errors(403, 503) },
};

export function sessionRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/api/session', { schema: signInSchema }, async (request, reply) => {
      const { adminKey, token } = request.body;
      const principal = await ctx.auth.verifyCredential(
        request,
        adminKey !== undefined ? { adminKey } : { token: token! },
      );
      if (principal.kind === 'key' && !principal.admin)
        throw new ApiError(403, 'service keys cannot open a browser session');
      // Signing in again replaces the session this browser had.
      const previous = sessionCookieOf(request);
      if (previous !== undefined) await ctx.auth.sessions.close(previous);
      return openBrowserSession(ctx, request, reply, principal);
    });

    app.get('/api/session', { schema: currentSessionSchema }, async (request) => {
      const session = await cookieSession(ctx, request);
      if (!session) throw new ApiError(401, NO_SESSION);
      return sessionView(session);
    });

    app.delete('/api/session', { schema: signOutSchema }, async (request, reply) => {
      const session = await cookieSession(ctx, request);
      if (session) {
        checkCsrf(request, session);
        await ctx.auth.sessions.close(sessionCookieOf(request)!);
      }
      clearSessionCookie(request, reply);
      return reply.code(204).send();
    });
  };
}

/** The live session the request's cookie names; null without a cookie or once it ended. */
async function cookieSession(ctx: ApiContext, request: FastifyRequest): Promise<Session | null> {
  const id = sessionCookieOf(request);
  return id === undefined ? null : ctx.auth.sessions.find(id);
}

/** Opens a session for a verified principal and sets its cookie: POST /api/session and the dev sign-in. */
export async function openBrowserSession(
  ctx: ApiContext,
  request: FastifyRequest,
  reply: FastifyReply,
  principal: Principal,
): Promise<z.infer<typeof sessionSchema>> {
  // Real time, not ctx.now: the session ends with a Redis TTL and a token exp, both on the wall clock.
  const now = new Date();
  const { id, session } = await ctx.auth.sessions.open(principal, now);
  setSessionCookie(request, reply, id, session, now);
  return sessionView(session);
}

function sessionView({ principal, csrfToken, expiresAt }: Session): z.infer<typeof sessionSchema> {
  return {
    kind: principal.kind,
    subject: principal.kind === 'key' ? principal.name : principal.userId,
    admin: principal.admin,
    csrfToken,
    expiresAt: expiresAt.toISOString(),
  };
}

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { DevUser } from '../contract-types';
import { DEMO_RECIPIENTS } from '../../db/seeds/demo-recipients';
import { signUserToken } from '../dev-credentials';
import type { ApiContext } from '../context';
import { ApiError, badRequest } from '../errors';
import { answerSchema, errors, noQuery } from '../schemas';
import { openBrowserSession, sessionSchema } from './session';

const DEV_TOKEN_TTL = '12h';

/**
 * The dev sign-in (docs/contracts.md, "Dev sign-in"): /inbox/ without a token at hand. Registered only
 * with DEV_LOGIN, which only `npm run dev` may set: elsewhere these routes do not exist (404).
 */
export function devSessionRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    const { devLogin, jwt } = ctx.deps.config.api;
    if (!devLogin) return;

    app.get(
      '/api/dev/users',
      {
        schema: {
          tags: ['sessions'],
          summary: 'Dev only: the demo users one may sign in as',
          querystring: noQuery,
          response: {
            200: z.object({
              items: z.array(answerSchema<DevUser>()(z.object({ id: z.string(), name: z.string() }))),
            }),
          },
        },
      },
      async () => ({ items: DEMO_RECIPIENTS.map(({ id, name }) => ({ id, name })) }),
    );

    app.post(
      '/api/dev/session',
      {
        schema: {
          tags: ['sessions'],
          summary: 'Dev only: open a shopper session as a demo user',
          description: `Signs a ${DEV_TOKEN_TTL} token for the user with the configured JWT secret and opens a session with it, as POST /api/session {token} does.`,
          querystring: noQuery,
          body: z.object({ userId: z.string().min(1).max(200) }).strict(),
          response: { 200: sessionSchema, ...errors(400, 503) },
        },
      },
      async (request, reply) => {
        const { userId } = request.body;
        if (!DEMO_RECIPIENTS.some((demo) => demo.id === userId)) {
          throw badRequest(
            'userId',
            `not a demo user (one of ${DEMO_RECIPIENTS.map((demo) => demo.id).join(', ')})`,
          );
        }
        if (!jwt?.secret) throw new ApiError(503, 'dev sign-in needs JWT_SECRET (tokens are signed with it)');
        const token = await signUserToken(jwt.secret, userId, {
          ttl: DEV_TOKEN_TTL,
          issuer: jwt.issuer,
          audience: jwt.audience,
        });
        const principal = await ctx.auth.verifyCredential(request, { token });
        return openBrowserSession(ctx, request, reply, principal);
      },
    );
  };
}

import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { userIdOf } from '../auth/authenticate';
import type { ApiContext } from '../context';
import { DIGEST_CATEGORIES } from '../../domain/digest';
import { notFound } from '../errors';
import { errors, noQuery } from '../schemas';

const setting = z.discriminatedUnion('digest', [
  z
    .object({
      digest: z.literal('daily'),
      hour: z.number().int().min(0).max(23).describe("hour of the day, in the recipient's timezone"),
    })
    .strict(),
  z.object({ digest: z.literal('off') }).strict(),
]);
type DigestSetting = z.infer<typeof setting>;

const digestsBody = z
  .object(Object.fromEntries(DIGEST_CATEGORIES.map((c) => [c, setting.optional()])))
  .strict()
  .describe('only the categories given change, e.g. {"marketing":{"digest":"daily","hour":8}}');
const digestsAnswer = z.object(Object.fromEntries(DIGEST_CATEGORIES.map((c) => [c, setting])));

const DESCRIPTION = `A daily digest per category (${DIGEST_CATEGORIES.join(', ')}): that category's notifications
are collected and sent as one notification at \`hour\`:00 in the recipient's timezone
(docs/digests-and-caps.md). \`{"digest":"off"}\` sends each one as it comes.`;

/** GET and PUT /api/preferences/digests: the shopper's daily digests per category. */
export function digestPreferenceRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    const common = {
      onRequest: ctx.auth.guard('user'),
      schema: {
        tags: ['preferences'],
        description: DESCRIPTION,
        security: [{ bearer: [] }],
        querystring: noQuery,
      },
    } as const;
    app.get(
      '/api/preferences/digests',
      {
        ...common,
        schema: {
          ...common.schema,
          summary: 'My daily digests',
          response: { 200: digestsAnswer, ...errors(401, 403, 404, 429) },
        },
      },
      async (request) => readDigests(request.em, userIdOf(request)),
    );
    app.put(
      '/api/preferences/digests',
      {
        ...common,
        schema: {
          ...common.schema,
          summary: 'Change my daily digests',
          body: digestsBody,
          response: { 200: digestsAnswer, ...errors(400, 401, 403, 404, 413, 429) },
        },
      },
      async (request) => {
        const recipientId = userIdOf(request);
        await writeDigests(request.em, recipientId, request.body);
        return readDigests(request.em, recipientId);
      },
    );
  };
}

/** Every digest category with its setting (off unless chosen); 404 when there is no such recipient. */
async function readDigests(em: EntityManager, recipientId: string): Promise<Record<string, DigestSetting>> {
  const rows: { category: string | null; hour: number | null }[] = await em
    .getConnection()
    .execute(
      `select d.category, d.hour from recipients r left join digest_preferences d on d.recipient_id = r.id where r.id = ?`,
      [recipientId],
    );
  if (rows.length === 0) throw notFound('recipient');
  const chosen = new Map(rows.filter((r) => r.category).map((r) => [r.category!, r.hour!]));
  return Object.fromEntries(
    DIGEST_CATEGORIES.map((c) => [
      c,
      chosen.has(c) ? { digest: 'daily' as const, hour: chosen.get(c)! } : { digest: 'off' as const },
    ]),
  );
}

/** One statement: upserts the daily ones, deletes the ones switched off (only for an existing recipient). */
async function writeDigests(
  em: EntityManager,
  recipientId: string,
  change: Record<string, DigestSetting | undefined>,
): Promise<void> {
  const entries = Object.entries(change).filter((e): e is [string, DigestSetting] => e[1] !== undefined);
  const daily = entries.flatMap(([category, s]) =>
    s.digest === 'daily' ? [{ category, hour: s.hour }] : [],
  );
  const off = entries.filter(([, s]) => s.digest === 'off').map(([category]) => category);
  await em.getConnection().execute(
    `with del as (
       delete from digest_preferences where recipient_id = ? and category in (select jsonb_array_elements_text(?::jsonb)))
     insert into digest_preferences (recipient_id, category, hour)
     select r.id, x.category, x.hour from recipients r, jsonb_to_recordset(?::jsonb) as x(category text, hour int)
      where r.id = ?
     on conflict (recipient_id, category) do update set hour = excluded.hour, updated_at = now()`,
    [recipientId, JSON.stringify(off), JSON.stringify(daily), recipientId],
  );
}

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context';

const CHECK_TIMEOUT_MS = 2000;

const checkSchema = z.object({ ok: z.boolean(), latencyMs: z.number(), error: z.string().optional() });
const readinessSchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z.object({ postgres: checkSchema, redis: checkSchema, temporal: checkSchema }),
});

/** Liveness and readiness; not rate limited, no authentication. */
export function healthRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/healthz',
      {
        config: { rateLimit: false },
        schema: { tags: ['health'], summary: 'Process alive', response: { 200: z.object({ status: z.literal('ok') }) } },
      },
      async () => ({ status: 'ok' as const }),
    );

    app.get(
      '/readyz',
      {
        config: { rateLimit: false },
        schema: {
          tags: ['health'],
          summary: 'Temporal, Postgres and Redis reachable',
          response: { 200: readinessSchema, 503: readinessSchema },
        },
      },
      async (request, reply) => {
        const { deps } = ctx;
        const [postgres, redis, temporal] = await Promise.all([
          check(() => request.em.getConnection().execute('select 1')),
          check(() => deps.redis.ping()),
          check(() => deps.temporalClient.workflowService.getSystemInfo({})),
        ]);
        const ready = postgres.ok && redis.ok && temporal.ok;
        return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks: { postgres, redis, temporal } });
      },
    );
  };
}

async function check(probe: () => Promise<unknown>): Promise<z.infer<typeof checkSchema>> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { ok: true, latencyMs: Date.now() - started };
  } catch (err) {
    return { ok: false, latencyMs: Date.now() - started, error: (err as Error).message.split('\n')[0] };
  } finally {
    clearTimeout(timer);
  }
}

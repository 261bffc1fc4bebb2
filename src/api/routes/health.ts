import type { FastifyBaseLogger } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context';

const CHECK_TIMEOUT_MS = 2000;

const checkSchema = z.object({ ok: z.boolean(), latencyMs: z.number(), error: z.string().optional() });
const readinessSchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z.object({ postgres: checkSchema, redis: checkSchema, temporal: checkSchema }),
});

/**
 * Liveness and readiness; not rate limited, no authentication. Anyone may call them, so a failed check
 * says only which service and whether it timed out: driver errors can hold addresses, user names and
 * connection strings (the detail goes to the log).
 */
export function healthRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/healthz',
      {
        config: { rateLimit: false },
        schema: {
          tags: ['health'],
          summary: 'Process alive',
          response: { 200: z.object({ status: z.literal('ok') }) },
        },
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
          check('postgres', () => request.em.getConnection().execute('select 1'), request.log),
          check('redis', () => deps.redis.ping(), request.log),
          check('temporal', () => deps.temporalClient.workflowService.getSystemInfo({}), request.log),
        ]);
        const ready = postgres.ok && redis.ok && temporal.ok;
        return reply
          .code(ready ? 200 : 503)
          .send({ status: ready ? 'ready' : 'not_ready', checks: { postgres, redis, temporal } });
      },
    );
  };
}

const TIMED_OUT = `no answer within ${CHECK_TIMEOUT_MS} ms`;

async function check(
  name: string,
  probe: () => Promise<unknown>,
  log: FastifyBaseLogger,
): Promise<z.infer<typeof checkSchema>> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(TIMED_OUT)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { ok: true, latencyMs: Date.now() - started };
  } catch (err) {
    const message = (err as Error).message;
    log.warn({ check: name, err }, `readiness check ${name} failed`);
    return {
      ok: false,
      latencyMs: Date.now() - started,
      error: message === TIMED_OUT ? TIMED_OUT : 'unreachable (details in the API log)',
    };
  } finally {
    clearTimeout(timer);
  }
}

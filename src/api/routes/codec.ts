import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Payload } from '@temporalio/common';
import {
  PayloadDecryptionError,
  payloadCodecFor,
  payloadFromJson,
  payloadToJson,
} from '../../temporal/payload-codec';
import type { ApiContext } from '../context';
import { ApiError } from '../errors';

const CODEC_PATH = '/codec';

const base64 = z
  .string()
  .max(16 * 1024 * 1024)
  .regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64');

/**
 * A request as proto3 JSON allows it (docs/contracts.md, "Payload encryption"): a field left out or null means its
 * default, so `{}` is an empty list (what the temporal CLI's Go SDK sends for a query without arguments), a
 * payload without `metadata` has none, one without `data` holds empty bytes.
 */
const payloadsRequestSchema = z.object({
  payloads: z
    .array(
      z.object({
        metadata: z.record(z.string().max(256), base64.nullable()).nullish(),
        data: base64.nullish(),
      }),
    )
    .max(10_000)
    .nullish(),
});
type PayloadsRequest = z.infer<typeof payloadsRequestSchema>;

/** What we answer (payloadToJson writes every field out). */
const payloadsResponseSchema = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() })),
});

/** The request's payloads with proto3 JSON defaults filled in. */
function requestPayloads(body: PayloadsRequest): Payload[] {
  return (body.payloads ?? []).map(({ metadata, data }) => {
    const present = Object.entries(metadata ?? {}).filter(
      (entry): entry is [string, string] => entry[1] !== null,
    );
    return payloadFromJson({ metadata: Object.fromEntries(present), data: data ?? '' });
  });
}

/** What a browser may send cross-origin: the UI sets X-Namespace, and Authorization when it passes its access token. */
const ALLOWED_HEADERS = 'Content-Type, Authorization, X-Namespace, X-API-Key';

/**
 * The Temporal codec server protocol (docs/contracts.md, "Payload encryption"): `POST /codec/encode` and
 * `POST /codec/decode` with `{ payloads: [...] }` (proto3 JSON: bytes as base64, fields left out or null mean their
 * default) answer the same shape.
 * Operators point the Temporal Web UI's codec endpoint at `<api>/codec` (`npm run dev` does it) and read
 * decrypted payloads there. Admin only (an admin key as X-API-Key or Basic password, or an admin JWT, e.g. the
 * UI's passed access token); browsers from CODEC_CORS_ORIGINS may call it with credentials, and the preflight
 * (OPTIONS, never authenticated by browsers) is answered without credentials.
 */
export function codecRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    const codec = payloadCodecFor(ctx.deps.config.temporal.payloadEncryption);
    const origins = new Set(ctx.deps.config.api.codecCorsOrigins);

    // Before authentication, so a refusal (401/403) reaches the UI as an answer rather than a CORS error.
    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      const origin = request.headers.origin;
      reply.header('vary', 'Origin');
      if (typeof origin === 'string' && origins.has(origin)) {
        reply.header('access-control-allow-origin', origin);
        reply.header('access-control-allow-credentials', 'true');
      }
    });

    for (const operation of ['encode', 'decode'] as const) {
      const url = `${CODEC_PATH}/${operation}`;
      app.options(url, { schema: { hide: true } }, async (request, reply) => {
        const origin = request.headers.origin;
        if (typeof origin !== 'string' || !origins.has(origin))
          throw new ApiError(403, `origin not allowed to call the codec endpoint (CODEC_CORS_ORIGINS)`);
        return reply
          .code(204)
          .header('access-control-allow-methods', 'POST, OPTIONS')
          .header('access-control-allow-headers', ALLOWED_HEADERS)
          .header('access-control-max-age', '600')
          .send();
      });
      app.post(
        url,
        {
          onRequest: ctx.auth.guard('admin'),
          schema: {
            tags: ['operators'],
            summary: `Temporal codec server: ${operation} payloads (${operation === 'decode' ? 'decrypt for the Web UI' : 'encrypt with the current key'})`,
            security: [{ apiKey: [] }, { adminBasic: [] }, { bearer: [] }],
            body: payloadsRequestSchema,
            response: { 200: payloadsResponseSchema },
          },
        },
        async (request) => {
          const payloads = requestPayloads(request.body);
          if (!codec) return { payloads: payloads.map(payloadToJson) };
          try {
            const out = operation === 'decode' ? await codec.decode(payloads) : await codec.encode(payloads);
            return { payloads: out.map(payloadToJson) };
          } catch (err) {
            if (err instanceof PayloadDecryptionError) throw new ApiError(400, err.message);
            throw err;
          }
        },
      );
    }
  };
}

import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { InvalidEventError } from '../domain/business-event';

/** Body of every error answer. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  /** Dotted paths of the offending fields, relative to `in`. */
  fields?: string[];
  in?: 'body' | 'querystring' | 'params' | 'headers';
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** An answer decided by a handler: status, a message for the caller and, for 400, the fields at fault. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    message: string,
    readonly fields?: string[],
    readonly location?: ErrorBody['in'],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const notFound = (what = 'notification'): ApiError => new ApiError(404, `${what} not found`);
export const badRequest = (field: string, message: string, location: ErrorBody['in'] = 'body'): ApiError =>
  new ApiError(400, `invalid ${location}: ${field}: ${message}`, [field], location);

export function errorBody(
  statusCode: number,
  message: string,
  extra: Pick<ErrorBody, 'fields' | 'in'> = {},
): ErrorBody {
  return { statusCode, error: REASONS[statusCode] ?? 'Error', message, ...extra };
}

/**
 * One place turns every failure into an ErrorBody: validation → 400 naming the fields, client
 * mistakes keep their 4xx, anything else is logged and answered 500 without internals.
 */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const location = (err.validationContext ?? 'body') as NonNullable<ErrorBody['in']>;
      const problems = err.validation.flatMap((v) => {
        const path = v.instancePath.replace(/^\//, '').replaceAll('/', '.');
        const unknownKeys =
          v.keyword === 'unrecognized_keys' && Array.isArray(v.params.keys)
            ? (v.params.keys as string[])
            : null;
        if (unknownKeys)
          return unknownKeys.map((key) => ({
            field: path ? `${path}.${key}` : key,
            message: 'is not a known field',
          }));
        return [{ field: path || `(${location})`, message: v.message ?? 'is invalid' }];
      });
      const message = `invalid ${location}: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`;
      return reply
        .code(400)
        .send(errorBody(400, message, { fields: [...new Set(problems.map((p) => p.field))], in: location }));
    }
    if (err instanceof ApiError) {
      return reply
        .code(err.statusCode)
        .headers(err.headers)
        .send(
          errorBody(err.statusCode, err.message, {
            ...(err.fields ? { fields: err.fields } : {}),
            ...(err.location ? { in: err.location } : {}),
          }),
        );
    }
    if (err instanceof InvalidEventError) {
      return reply.code(400).send(errorBody(400, err.message, { fields: err.fields, in: 'body' }));
    }
    if (isResponseSerializationError(err)) {
      request.log.error({ err, issues: err.cause.issues }, 'response does not match its schema');
      return reply.code(500).send(errorBody(500, 'internal error'));
    }
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      // Fastify's own client errors: malformed JSON, body too large, bad content type, rate limit.
      return reply.code(status).send(errorBody(status, err.message));
    }
    request.log.error({ err }, 'request failed');
    return reply.code(500).send(errorBody(500, 'internal error'));
  });

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody(404, `route ${request.method} ${request.url.split('?')[0]} not found`));
  });
}

import type { FastifyReply, FastifyRequest } from 'fastify';
import { findUnsafeJson, MAX_JSON_DEPTH } from '../domain/json-safety';
import { errorBody, type ErrorBody } from './errors';

/**
 * Before any schema or handler sees a request: its body, query string and path parameters must not
 * contain a NUL character or a lone UTF-16 surrogate (Postgres stores neither) nor nest deeper than
 * MAX_JSON_DEPTH levels. Answers 400 naming the first such field; nothing is stored or started.
 */
export async function guardRequestJson(
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply | undefined> {
  const parts: [NonNullable<ErrorBody['in']>, unknown][] = [
    ['params', request.params],
    ['querystring', request.query],
    ['body', request.body],
  ];
  for (const [location, value] of parts) {
    const unsafe = findUnsafeJson(value, MAX_JSON_DEPTH);
    if (!unsafe) continue;
    const field = unsafe.path || `(${location})`;
    return reply
      .code(400)
      .send(
        errorBody(400, `invalid ${location}: ${field}: ${unsafe.message}`, { fields: [field], in: location }),
      );
  }
  return undefined;
}

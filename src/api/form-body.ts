import type { FastifyInstance } from 'fastify';

/**
 * HTML form posts for the routes of one plugin (the API itself takes JSON only): mail clients post
 * RFC 8058 one-click unsubscribes as `application/x-www-form-urlencoded` or `multipart/form-data`,
 * Twilio posts its webhooks url-encoded. Url-encoded fields become an object of strings (the last of a
 * repeated name wins); a multipart body is not read (no route here needs its fields).
 */
export function acceptFormBodies(app: FastifyInstance): void {
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );
  app.addContentTypeParser('multipart/form-data', { parseAs: 'string' }, (_request, _body, done) =>
    done(null, {}),
  );
}

import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiContext } from '../context';
import { errorBody } from '../errors';
import { defaultWebAssetsDir, loadWebAssets } from '../web-assets';

/**
 * Pages: same origin only, no inline script, no framing. Styles allow inline attributes (the chart
 * library positions its parts with them); Lit's component styles are constructed stylesheets.
 */
const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

/** The surfaces and the file each folder URL answers with (docs/contracts.md#browser-surfaces). */
const SURFACES = ['admin', 'inbox'] as const;
const WIDGET_PREFIX = '/widget/';

/**
 * The browser surfaces built by `npm run build` (dist/web): the admin dashboard at /admin/, the
 * shopper's notification center at /inbox/ and the embeddable widget at /widget/notification-center.js.
 * Public files: the data behind them is what needs credentials. Read once at start-up; a process
 * started before the build answers 503 naming the command.
 */
export function webAssetRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    const dir = ctx.deps.webAssetsDir ?? defaultWebAssetsDir();
    const assets = loadWebAssets(dir, ctx.deps.config.api.shopUrl);

    const serve = (path: string) => async (request: FastifyRequest, reply: FastifyReply) => {
      if (!assets) {
        return reply
          .code(503)
          .send(errorBody(503, `web assets not built: run "npm run build" (expected in ${dir})`));
      }
      const asset = assets.get(path);
      if (!asset) return reply.code(404).send(errorBody(404, `${request.url.split('?')[0]} not found`));
      reply
        .header('content-type', asset.contentType)
        .header('etag', asset.etag)
        // Revalidate every time: file names carry no content hash, the ETag makes it cheap.
        .header('cache-control', 'no-cache')
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'same-origin');
      if (asset.contentType.startsWith('text/html'))
        reply.header('content-security-policy', PAGE_CSP).header('x-frame-options', 'DENY');
      // A shop page on its own origin includes the widget (and may isolate itself with COEP).
      if (path.startsWith(WIDGET_PREFIX))
        reply
          .header('cross-origin-resource-policy', 'cross-origin')
          .header('access-control-allow-origin', '*');
      if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
      return reply.send(asset.body);
    };

    // Pages and scripts, not API: kept out of the OpenAPI document.
    const page = { schema: { hide: true } };
    for (const surface of SURFACES) {
      app.get(`/${surface}`, page, async (_request, reply) => reply.redirect(`/${surface}/`, 301));
      app.get(`/${surface}/`, page, serve(`/${surface}/index.html`));
      app.get<{ Params: { file: string } }>(`/${surface}/:file`, page, (request, reply) =>
        serve(`/${surface}/${request.params.file}`)(request, reply),
      );
    }
    app.get<{ Params: { file: string } }>(`${WIDGET_PREFIX}:file`, page, (request, reply) =>
      serve(`${WIDGET_PREFIX}${request.params.file}`)(request, reply),
    );
  };
}

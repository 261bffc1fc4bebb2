import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';

/** One built file of the browser surfaces, held in memory (a few hundred KiB in all). */
export interface WebAsset {
  body: Buffer;
  contentType: string;
  etag: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * Where `npm run build` puts the browser surfaces (tools/build-web.js): dist/web under the package root,
 * found from this file whether it runs compiled (dist/src/api) or from source (src/api, under jest).
 */
export function defaultWebAssetsDir(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return join(__dirname, 'web');
    dir = parent;
  }
  return join(dir, 'dist', 'web');
}

/** The page whose `<meta name="shop-url">` carries SHOP_URL, and that tag as built (web/inbox/index.html). */
const SHOP_URL_PAGE = '/inbox/index.html';
const SHOP_URL_META = '<meta name="shop-url" content="" />';

/**
 * The built files by URL path (`/admin/main.js`); null when the directory does not exist (not built).
 * The inbox page gets the shop's URL written into its meta tag, so its relative action links open the shop.
 */
export function loadWebAssets(dir: string, shopUrl: string | null = null): Map<string, WebAsset> | null {
  if (!existsSync(dir)) return null;
  const assets = new Map<string, WebAsset>();
  const walk = (current: string) => {
    for (const name of readdirSync(current)) {
      const path = join(current, name);
      if (statSync(path).isDirectory()) {
        walk(path);
        continue;
      }
      const contentType = CONTENT_TYPES[extname(name)];
      if (!contentType) continue;
      const urlPath = `/${relative(dir, path).split(sep).join('/')}`;
      let body = readFileSync(path);
      if (urlPath === SHOP_URL_PAGE && shopUrl) {
        body = Buffer.from(
          body
            .toString('utf8')
            .replace(SHOP_URL_META, `<meta name="shop-url" content="${escapeAttribute(shopUrl)}" />`),
        );
      }
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      assets.set(urlPath, { body, contentType, etag });
    }
  };
  walk(dir);
  return assets;
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

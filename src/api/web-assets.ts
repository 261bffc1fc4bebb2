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

/** The built files by URL path (`/admin/main.js`); null when the directory does not exist (not built). */
export function loadWebAssets(dir: string): Map<string, WebAsset> | null {
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
      const body = readFileSync(path);
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      assets.set(`/${relative(dir, path).split(sep).join('/')}`, { body, contentType, etag });
    }
  };
  walk(dir);
  return assets;
}

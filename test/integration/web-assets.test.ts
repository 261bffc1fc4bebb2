import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiTestApp, apiTestEnv } from '../helpers/api-app';
import { TestStack } from '../helpers/test-stack';

/** How the API serves the built browser surfaces (src/api/routes/web-assets.ts), on a build of our own. */
describe('web assets', () => {
  const stack = new TestStack({ env: apiTestEnv(), deliveryWorkers: false });
  const built = new ApiTestApp(stack);
  const unbuilt = new ApiTestApp(stack);
  let dir: string;

  beforeAll(async () => {
    await stack.start();
    dir = await mkdtemp(join(tmpdir(), 'web-assets-'));
    for (const folder of ['admin', 'inbox', 'widget']) await mkdir(join(dir, folder));
    await writeFile(join(dir, 'admin', 'index.html'), '<!doctype html><title>admin</title>');
    await writeFile(join(dir, 'admin', 'main.js'), 'console.log("admin")');
    await writeFile(
      join(dir, 'inbox', 'index.html'),
      '<!doctype html><title>inbox</title><meta name="shop-url" content="" />',
    );
    await writeFile(join(dir, 'widget', 'notification-center.js'), 'console.log("bell")');
    await built.start({ webAssetsDir: dir });
    await unbuilt.start({ webAssetsDir: join(dir, 'not-built') });
  });
  afterAll(async () => {
    await built.close();
    await unbuilt.close();
    await stack.stop();
  });

  it('serves a page with a same-origin CSP, no framing and an ETag that answers 304', async () => {
    const res = await built.inject({ method: 'GET', url: '/admin/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toContain('<title>admin</title>');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const again = await built.inject({
      method: 'GET',
      url: '/admin/',
      headers: { 'if-none-match': String(res.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
  });

  it("writes SHOP_URL into the inbox page's meta tag, escaped, with an ETag of its own", async () => {
    const plain = await built.inject({ method: 'GET', url: '/inbox/' });
    expect(plain.body).toContain('<meta name="shop-url" content="" />');
    const withShop = await new ApiTestApp(stack).start({
      webAssetsDir: dir,
      configure: (config) => ({
        ...config,
        api: { ...config.api, shopUrl: 'https://shop.example.test/?a=1&b="2"' },
      }),
    });
    try {
      const res = await withShop.inject({ method: 'GET', url: '/inbox/' });
      expect(res.body).toContain(
        '<meta name="shop-url" content="https://shop.example.test/?a=1&amp;b=&quot;2&quot;" />',
      );
      expect(res.headers.etag).not.toBe(plain.headers.etag);
    } finally {
      await withShop.close();
    }
  });

  it('redirects the folder without its slash, so relative script paths resolve', async () => {
    const res = await built.inject({ method: 'GET', url: '/inbox' });
    expect(res.statusCode).toBe(301);
    expect(res.headers.location).toBe('/inbox/');
  });

  it('serves scripts, and the widget to any origin that includes it', async () => {
    const admin = await built.inject({ method: 'GET', url: '/admin/main.js' });
    expect(admin.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(admin.headers['access-control-allow-origin']).toBeUndefined();
    const widget = await built.inject({ method: 'GET', url: '/widget/notification-center.js' });
    expect(widget.statusCode).toBe(200);
    expect(widget.body).toBe('console.log("bell")');
    expect(widget.headers['cross-origin-resource-policy']).toBe('cross-origin');
  });

  it('answers 404 for a file that is not in the build, and never reads outside it', async () => {
    expect((await built.inject({ method: 'GET', url: '/admin/missing.js' })).statusCode).toBe(404);
    const traversal = await built.inject({ method: 'GET', url: '/admin/..%2F..%2Fpackage.json' });
    expect(traversal.statusCode).toBe(404);
    expect(traversal.body).not.toContain('"dependencies"');
  });

  it('leaves the queue dashboard under /admin/queues to bull-board', async () => {
    const res = await built.inject({ method: 'GET', url: '/admin/queues' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Basic/);
  });

  it('answers 503 naming the build command when the assets were never built', async () => {
    const res = await unbuilt.inject({ method: 'GET', url: '/admin/' });
    expect(res.statusCode).toBe(503);
    expect(res.json().message).toMatch(/web assets not built: run "npm run build"/);
  });
});

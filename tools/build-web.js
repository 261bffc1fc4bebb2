#!/usr/bin/env node
// Builds the browser surfaces (web/) into dist/web with esbuild: the admin dashboard, the shopper's
// notification center and the embeddable <notification-bell> widget. `--watch` rebuilds on change.
const { cp, mkdir, rm } = require('node:fs/promises');
const { join, resolve } = require('node:path');
const esbuild = require('esbuild');

const ROOT = resolve(__dirname, '..');
const OUT = join(ROOT, 'dist', 'web');

/** Entry points -> output paths under dist/web (the API serves them; src/api/web-assets.ts). */
const ENTRIES = {
  'admin/main': 'web/admin/main.ts',
  'inbox/main': 'web/inbox/main.ts',
  'widget/notification-center': 'web/widget/notification-center.ts',
};
/** Pages copied as they are (they load their bundle with a relative script tag). */
const PAGES = ['admin/index.html', 'inbox/index.html'];

async function build(watch) {
  await rm(OUT, { recursive: true, force: true });
  await mkdir(OUT, { recursive: true });
  for (const page of PAGES) await cp(join(ROOT, 'web', page), join(OUT, page));
  const common = {
    absWorkingDir: ROOT,
    outdir: OUT,
    bundle: true,
    target: ['es2022'],
    minify: !watch,
    sourcemap: true,
    legalComments: 'linked',
    tsconfig: join(ROOT, 'web', 'tsconfig.json'),
    loader: { '.css': 'css' },
    logLevel: 'warning',
    metafile: true,
  };
  const entries = (names) => Object.fromEntries(names.map((out) => [out, join(ROOT, ENTRIES[out])]));
  const builds = [
    // The pages load their bundle as a module script.
    { ...common, format: 'esm', entryPoints: entries(['admin/main', 'inbox/main']) },
    // The widget is a classic script, so a shop includes it with a plain <script src> from our origin.
    { ...common, format: 'iife', entryPoints: entries(['widget/notification-center']) },
  ];
  if (watch) {
    for (const options of builds) await (await esbuild.context(options)).watch();
    console.log(`watching web/ -> ${OUT}`);
    return;
  }
  const results = await Promise.all(builds.map((options) => esbuild.build(options)));
  const outputs = Object.assign({}, ...results.map((result) => result.metafile.outputs));
  const sizes = Object.entries(outputs)
    .filter(([file]) => file.endsWith('.js') || file.endsWith('.css'))
    .map(([file, { bytes }]) => `${file.replace(/^dist\/web\//, '')} ${(bytes / 1024).toFixed(1)} KiB`);
  console.log(`web assets built in dist/web: ${sizes.join(', ')}`);
}

build(process.argv.includes('--watch')).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

/**
 * `node -r ./tools/register-ts.js some.ts` runs the TypeScript sources as they are: tests spawn real
 * worker processes and `npm run bench:delivery` runs without a build step. Each file is transpiled on
 * its own (safe: tsconfig has isolatedModules); type checking stays with `npm run typecheck`.
 *
 * Transpiled output is cached in node_modules/.cache/register-ts, keyed by the file's path, its
 * source, the compiler options and the TypeScript version: a worker process the tests start again and
 * again would otherwise spend seconds transpiling the same ~60 files (and loading the compiler) on
 * every start, which on a busy machine outran the tests' start-up deadlines.
 */
const { createHash } = require('node:crypto');
const { mkdirSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const CACHE_DIR = join(__dirname, '..', 'node_modules', '.cache', 'register-ts');
const TS_VERSION = require('typescript/package.json').version;
const compilerOptions = {
  module: 'CommonJS',
  target: 'ES2022',
  esModuleInterop: true,
  inlineSourceMap: true,
};
const OPTIONS_KEY = JSON.stringify({ TS_VERSION, compilerOptions });

let ts = null;
function transpile(source, filename) {
  ts ??= require('typescript');
  const options = { ...compilerOptions, module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 };
  return ts.transpileModule(source, { fileName: filename, compilerOptions: options }).outputText;
}

require.extensions['.ts'] = (module, filename) => {
  const source = readFileSync(filename, 'utf8');
  const key = createHash('sha256')
    .update(OPTIONS_KEY)
    .update('\0')
    .update(filename)
    .update('\0')
    .update(source)
    .digest('hex');
  const cached = join(CACHE_DIR, `${key}.js`);
  let output;
  try {
    output = readFileSync(cached, 'utf8');
  } catch {
    output = transpile(source, filename);
    try {
      mkdirSync(CACHE_DIR, { recursive: true });
      // Write then rename: a process reading concurrently never sees half a file.
      const partial = `${cached}.${process.pid}.tmp`;
      writeFileSync(partial, output);
      renameSync(partial, cached);
    } catch {
      // A read-only tree only loses the cache.
    }
  }
  module._compile(output, filename);
};

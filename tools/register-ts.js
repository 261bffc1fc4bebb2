/**
 * `node -r ./tools/register-ts.js some.ts` runs the TypeScript sources as they are: tests spawn real
 * worker processes and `npm run bench:delivery` runs without a build step. Each file is transpiled on
 * its own (safe: tsconfig has isolatedModules); type checking stays with `npm run typecheck`.
 */
const { readFileSync } = require('node:fs');
const ts = require('typescript');

const compilerOptions = {
  module: ts.ModuleKind.CommonJS,
  target: ts.ScriptTarget.ES2022,
  esModuleInterop: true,
  inlineSourceMap: true,
};

require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(readFileSync(filename, 'utf8'), { fileName: filename, compilerOptions });
  module._compile(outputText, filename);
};

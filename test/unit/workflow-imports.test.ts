import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * Workflow code is bundled into Temporal's deterministic sandbox: it may load only the workflow and
 * common SDK packages and pure modules. `import type` is erased and always fine. This follows every
 * value import from workflows/ through the files it reaches.
 */
const ROOT = resolve(__dirname, '..', '..');
const ALLOWED_PACKAGES = new Set(['@temporalio/workflow', '@temporalio/common']);

function valueImports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const imports = [...source.matchAll(/^import\s+(type\s+)?[^'"]*?from\s+'([^']+)';/gms)];
  return imports.filter((m) => !m[1]).map((m) => m[2]);
}

function reachableModules(): { files: string[]; packages: Map<string, string> } {
  const seen = new Set<string>();
  const packages = new Map<string, string>();
  const queue = readdirSync(join(ROOT, 'workflows'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(ROOT, 'workflows', f));
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of valueImports(file)) {
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier);
        const candidates = [`${target}.ts`, join(target, 'index.ts')];
        const found = candidates.find((c) => {
          try {
            readFileSync(c);
            return true;
          } catch {
            return false;
          }
        });
        if (!found) throw new Error(`${file}: cannot resolve ${specifier}`);
        queue.push(found);
      } else {
        packages.set(specifier, file);
      }
    }
  }
  return { files: [...seen].map((f) => f.slice(ROOT.length + 1)).sort(), packages };
}

describe('workflow sandbox imports', () => {
  it('reach only @temporalio/workflow, @temporalio/common and pure local modules', () => {
    const { files, packages } = reachableModules();
    const disallowed = [...packages]
      .filter(([name]) => !ALLOWED_PACKAGES.has(name))
      .map(([name, file]) => `${name} (from ${file})`);
    expect(disallowed).toEqual([]);
    // Local modules outside workflows/ must be the pure ones: ids, message names, search attribute keys, the
    // lifecycle, digest windows and the local time arithmetic they use (Intl only, no clock).
    expect(files.filter((f) => !f.startsWith('workflows/'))).toEqual([
      'src/domain/digest.ts',
      'src/domain/event-ledger.ts',
      'src/domain/notification-lifecycle.ts',
      'src/domain/order-journey.ts',
      'src/domain/quiet-hours.ts',
      'src/domain/workflow-ids.ts',
      'src/domain/workflow-messages.ts',
      'src/temporal/search-attributes.ts',
    ]);
  });
});

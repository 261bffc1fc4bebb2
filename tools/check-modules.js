#!/usr/bin/env node
/**
 * Two checks over the TypeScript modules, run by `npm run lint`; exits 1 and lists what it finds.
 *
 * Import circles: files that import each other, directly or around a loop (type-only imports count:
 * a circle makes modules hard to read and to move, whatever it costs at run time).
 *
 * Dead code: names that a module of src/, activities/ or workflows/ exports, no other file of the repository
 * imports (tests, benchmarks, the chaos suite and web/ count as importers) and the module itself never uses.
 * (An export used inside its module, e.g. a type in a public signature, is part of that module's API.) Entry points that are
 * loaded by name rather than imported (bin scripts, migrations, seeds, the workflow bundle's index) are
 * exempt.
 */
const ts = require('typescript');
const { readdirSync, readFileSync, existsSync, statSync } = require('node:fs');
const { join, dirname, resolve, relative } = require('node:path');

const ROOT = resolve(__dirname, '..');
const CHECKED = ['src', 'activities', 'workflows'];
const IMPORTERS = [...CHECKED, 'test', 'bench', 'chaos', 'web', 'tools'];
const EXEMPT = [/^src\/bin\//, /^src\/db\/migrations\//, /^src\/db\/seeds\//, /^workflows\/index\.ts$/];

function tsFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory())
      return entry.name === 'node_modules' || entry.name === 'histories' ? [] : tsFiles(path);
    return /\.ts$/.test(entry.name) && !/\.d\.ts$/.test(entry.name) ? [path] : [];
  });
}

function resolveModule(from, specifier) {
  if (!specifier.startsWith('.')) return null;
  const base = resolve(dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, join(base, 'index.ts')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return null;
}

/** Exported names of a file, and what it imports from which file (`*` for a namespace or re-export of all). */
function scan(file) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const exported = [];
  const imports = [];
  const uses = new Map();
  const count = (node) => {
    if (ts.isIdentifier(node)) uses.set(node.text, (uses.get(node.text) ?? 0) + 1);
    ts.forEachChild(node, count);
  };
  count(source);
  const isExported = (node) => ts.getCombinedModifierFlags(node) & ts.ModifierFlags.Export;
  for (const node of source.statements) {
    const target =
      ts.isImportDeclaration(node) || ts.isExportDeclaration(node) ? node.moduleSpecifier : undefined;
    if (target && ts.isStringLiteral(target)) {
      const from = resolveModule(file, target.text);
      if (from) imports.push(...importedNames(node).map((name) => ({ from, name })));
      if (ts.isExportDeclaration(node) && node.exportClause && ts.isNamedExports(node.exportClause))
        exported.push(...node.exportClause.elements.map((e) => e.name.text));
    } else if (ts.isVariableStatement(node) && isExported(node)) {
      for (const d of node.declarationList.declarations)
        if (ts.isIdentifier(d.name)) exported.push(d.name.text);
    } else if (node.name && ts.isIdentifier(node.name) && isExported(node)) {
      if (!(ts.getCombinedModifierFlags(node) & ts.ModifierFlags.Default)) exported.push(node.name.text);
    }
  }
  return { exported: exported.filter((name) => (uses.get(name) ?? 0) <= 1), imports };
}

function importedNames(node) {
  if (ts.isExportDeclaration(node)) {
    if (!node.exportClause) return ['*'];
    if (ts.isNamespaceExport(node.exportClause)) return ['*'];
    return node.exportClause.elements.map((e) => (e.propertyName ?? e.name).text);
  }
  const clause = node.importClause;
  if (!clause) return [];
  const names = clause.name ? ['default'] : [];
  if (clause.namedBindings && ts.isNamespaceImport(clause.namedBindings)) names.push('*');
  else if (clause.namedBindings)
    names.push(...clause.namedBindings.elements.map((e) => (e.propertyName ?? e.name).text));
  return names;
}

function main() {
  const used = new Map();
  const scanned = new Map();
  for (const file of IMPORTERS.flatMap((dir) => tsFiles(join(ROOT, dir)))) {
    const result = scan(file);
    scanned.set(file, result);
    for (const { from, name } of result.imports) {
      if (!used.has(from)) used.set(from, new Set());
      used.get(from).add(name);
    }
  }
  const problems = [...importCircles(scanned).map((c) => `import circle: ${c.join(' -> ')}`)];
  for (const [file, { exported }] of scanned) {
    const rel = relative(ROOT, file);
    if (!CHECKED.some((dir) => rel.startsWith(`${dir}/`)) || EXEMPT.some((re) => re.test(rel))) continue;
    const names = used.get(file) ?? new Set();
    if (names.has('*')) continue;
    for (const name of exported)
      if (!names.has(name)) problems.push(`exported, used nowhere: ${rel}: ${name}`);
  }
  if (problems.length === 0) return;
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exitCode = 1;
}

/** The strongly connected groups of more than one file (Tarjan), each as paths relative to the root. */
function importCircles(scanned) {
  const edges = new Map(
    [...scanned].map(([file, { imports }]) => [file, [...new Set(imports.map((i) => i.from))]]),
  );
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const circles = [];
  const visit = (file) => {
    index.set(file, index.size);
    low.set(file, index.get(file));
    stack.push(file);
    onStack.add(file);
    for (const next of edges.get(file) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file), low.get(next)));
      } else if (onStack.has(next)) low.set(file, Math.min(low.get(file), index.get(next)));
    }
    if (low.get(file) !== index.get(file)) return;
    const group = [];
    let member;
    do {
      member = stack.pop();
      onStack.delete(member);
      group.push(relative(ROOT, member));
    } while (member !== file);
    if (group.length > 1) circles.push(group.sort());
  };
  for (const file of edges.keys()) if (!index.has(file)) visit(file);
  return circles;
}

main();

#!/usr/bin/env node
/**
 * Checks the relative links of README.md, docs/*.md and test/histories/README.md: every linked file must
 * exist, and a `#fragment` must name a heading of the linked markdown file (GitHub's anchor rules).
 * External links (http:, https:, mailto:) are not fetched. Prints each broken link; exits 1 if any.
 *
 *   node tools/check-doc-links.js            the default files
 *   node tools/check-doc-links.js FILE...    those files
 */
const { existsSync, readFileSync, readdirSync, statSync } = require('node:fs');
const { dirname, join, relative, resolve } = require('node:path');

const root = resolve(__dirname, '..');

function defaultFiles() {
  const docs = readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => join('docs', name));
  return ['README.md', ...docs, 'test/histories/README.md'].map((file) => join(root, file));
}

/** The text outside fenced code blocks and inline code, where links are links. */
function proseOf(markdown) {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(markdown) {
  const anchors = new Set();
  const seen = new Map();
  for (const [, title] of proseOf(markdown).matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const base = title
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

function linksOf(markdown) {
  return [...proseOf(markdown).matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]);
}

function brokenLinks(file) {
  const markdown = readFileSync(file, 'utf8');
  const problems = [];
  for (const link of linksOf(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue;
    const [path, fragment] = link.split('#');
    const target = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
    if (!existsSync(target)) {
      problems.push(`${link}: no such file`);
      continue;
    }
    if (fragment === undefined || !target.endsWith('.md') || statSync(target).isDirectory()) continue;
    if (!anchorsOf(readFileSync(target, 'utf8')).has(fragment))
      problems.push(`${link}: no heading #${fragment}`);
  }
  return problems.map((problem) => `${relative(root, file)}: ${problem}`);
}

const files = process.argv.length > 2 ? process.argv.slice(2).map((file) => resolve(file)) : defaultFiles();
const problems = files.flatMap(brokenLinks);
for (const problem of problems) process.stdout.write(`${problem}\n`);
process.stdout.write(`${files.length} files checked, ${problems.length} broken links\n`);
process.exitCode = problems.length === 0 ? 0 : 1;

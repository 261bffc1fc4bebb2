/**
 * What Postgres (text and jsonb columns) and our recursive code cannot take, found before anything is
 * stored or started: NUL characters, lone UTF-16 surrogates, and JSON nested too deep.
 */

/** Most levels of nested objects and arrays accepted anywhere (a request body, event data, template variables): `{"a":[1]}` has 2. */
export const MAX_JSON_DEPTH = 32;

export interface UnsafeJson {
  /** Dotted path of the offending value or key, relative to the value checked ('' for the value itself). */
  path: string;
  message: string;
}

// A NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one.
// eslint-disable-next-line no-control-regex -- control characters are what this pattern looks for
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a string cannot be stored, or null. */
export function unstorableStringReason(value: string): string | null {
  const match = UNSTORABLE.exec(value);
  if (!match) return null;
  return match[0] === '\u0000'
    ? 'must not contain a NUL character (\\u0000)'
    : `must not contain a lone UTF-16 surrogate (\\u${match[0].charCodeAt(0).toString(16)})`;
}

/** A key as it can be shown in an error message: control characters and lone surrogates escaped. */
function printableKey(key: string): string {
  return key.replace(
    // eslint-disable-next-line no-control-regex -- control characters are what this pattern looks for
    /[\u0000-\u001f\uD800-\uDFFF]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

const join = (path: string, key: string | number) => (path === '' ? String(key) : `${path}.${key}`);

/**
 * The first problem in a JSON-like value (depth first, iterative: any nesting is safe to check), or
 * null. At most `maxDepth` levels of objects and arrays, the value itself included.
 */
export function findUnsafeJson(value: unknown, maxDepth = MAX_JSON_DEPTH): UnsafeJson | null {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { value: current, path, depth } = stack.pop()!;
    if (typeof current === 'string') {
      const reason = unstorableStringReason(current);
      if (reason) return { path, message: reason };
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= maxDepth) return { path, message: `nests deeper than ${maxDepth} levels` };
    const entries: [string | number, unknown][] = Array.isArray(current)
      ? current.map((v, i) => [i, v])
      : Object.entries(current);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i];
      if (typeof key === 'string') {
        const reason = unstorableStringReason(key);
        if (reason) return { path: join(path, printableKey(key)), message: `key ${reason}` };
      }
      stack.push({ value: child, path: join(path, key), depth: depth + 1 });
    }
  }
  return null;
}

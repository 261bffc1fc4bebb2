/**
 * Sample values for the variables a template's Handlebars source uses ({{name}}, {{{name}}},
 * {{#if name}}, {{a.b}}), so a preview renders before the operator typed any JSON.
 */
const TAG = /\{\{\{?\s*(?:[#^]\s*(?:if|unless)\s+)?([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)\s*\}?\}\}/g;
const KEYWORDS = new Set(['else', 'this']);

export function sampleVariables(fields: Record<string, string>): Record<string, unknown> {
  const sample: Record<string, unknown> = {};
  for (const source of Object.values(fields)) {
    for (const match of source.matchAll(TAG)) {
      const path = match[1].split('.');
      if (KEYWORDS.has(path[0])) continue;
      let target = sample;
      path.forEach((part, i) => {
        if (i === path.length - 1) {
          if (!(part in target)) target[part] = `sample ${path.join('.')}`;
        } else {
          if (typeof target[part] !== 'object' || target[part] === null) target[part] = {};
          target = target[part] as Record<string, unknown>;
        }
      });
    }
  }
  return sample;
}

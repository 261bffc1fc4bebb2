import Handlebars from 'handlebars';

/** Fields rendered as HTML (escaped by default); every other field is plain text. */
const HTML_FIELDS = new Set(['html']);

export class TemplateVariableMissingError extends Error {
  override readonly name = 'TemplateVariableMissingError';
  constructor(
    readonly variable: string,
    readonly field: string,
  ) {
    super(`template field "${field}" references variable "${variable}", which the event data does not carry`);
  }
}

export class TemplateSyntaxError extends Error {
  override readonly name = 'TemplateSyntaxError';
}

const engine = Handlebars.create();
const compiled = new Map<string, HandlebarsTemplateDelegate>();

function compile(source: string, html: boolean): HandlebarsTemplateDelegate {
  const key = `${html ? 'h' : 't'}:${source}`;
  let template = compiled.get(key);
  if (!template) {
    // strict: a missing variable throws instead of rendering "" (never an email with a hole in it).
    template = engine.compile(source, { strict: true, noEscape: !html });
    compiled.set(key, template);
  }
  return template;
}

/** Checks a template's syntax without data, for the template API. */
export function assertTemplateCompiles(fields: Record<string, string>): void {
  for (const [field, source] of Object.entries(fields)) {
    try {
      engine.precompile(source, { strict: true });
    } catch (err) {
      throw new TemplateSyntaxError(`template field "${field}": ${(err as Error).message.split('\n')[0]}`);
    }
  }
}

/** Renders each field with the variables; throws TemplateVariableMissingError naming the first missing variable. */
export function renderTemplateFields(fields: Record<string, string>, variables: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, source] of Object.entries(fields)) {
    try {
      out[field] = compile(source, HTML_FIELDS.has(field))(variables);
    } catch (err) {
      const message = (err as Error).message;
      const missing = /"([^"]+)" not defined in/.exec(message);
      if (missing) throw new TemplateVariableMissingError(missing[1], field);
      throw new TemplateSyntaxError(`template field "${field}": ${message.split('\n')[0]}`);
    }
  }
  return out;
}

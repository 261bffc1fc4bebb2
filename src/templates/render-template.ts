import Handlebars from 'handlebars';
import { isSafeLink, withSafeHtmlLinks } from '../domain/safe-link';
import { formatDate, formatMoney, formatNumber } from './locale-format';
import { analyzeTemplateFields, TemplateSyntaxError, type TemplateVariables } from './template-analysis';

export { TemplateLimitError, TemplateSyntaxError } from './template-analysis';

/** Fields rendered as HTML (escaped by default); every other field is plain text. */
export const HTML_FIELDS = new Set(['html']);
/** Fields that are links (actionUrl, url, ...): https, http or relative only (src/domain/safe-link.ts). */
export const isLinkField = (field: string): boolean => /url$/i.test(field);

export class TemplateVariableMissingError extends Error {
  override readonly name = 'TemplateVariableMissingError';
  constructor(
    readonly variable: string,
    readonly field: string,
  ) {
    super(`template field "${field}" references variable "${variable}", which the event data does not carry`);
  }
}

const engine = Handlebars.create();
/** The locale a field renders in, passed as Handlebars data (`@locale`) to the formatting helpers. */
type HelperOptions = { data?: { locale?: string } };
const helperLocale = (options: HelperOptions) => options.data?.locale ?? 'en';
engine.registerHelper('money', (value: unknown, currency: unknown, options: HelperOptions) =>
  formatMoney(value, currency, helperLocale(options)),
);
engine.registerHelper('number', (value: unknown, options: HelperOptions) =>
  formatNumber(value, helperLocale(options)),
);
engine.registerHelper('date', (value: unknown, options: HelperOptions) =>
  formatDate(value, helperLocale(options)),
);
const compiled = new Map<string, HandlebarsTemplateDelegate>();
/** Distinct sources kept compiled (previews of drafts must not grow the cache without end). */
const MAX_COMPILED = 1000;

function compile(source: string, html: boolean): HandlebarsTemplateDelegate {
  const key = `${html ? 'h' : 't'}:${source}`;
  let template = compiled.get(key);
  if (!template) {
    // strict: a missing variable throws instead of rendering "" (never an email with a hole in it).
    template = engine.compile(source, { strict: true, noEscape: !html });
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, template);
  }
  return template;
}

/**
 * Checks a template for the template API: bounds first (TemplateLimitError, nothing compiled), then
 * what it uses (TemplateSyntaxError for partials, unknown helpers, ...), then that it compiles.
 * Returns the variables it uses.
 */
export function assertTemplateCompiles(fields: Record<string, string>): TemplateVariables {
  const variables = analyzeTemplateFields(fields);
  for (const [field, source] of Object.entries(fields)) {
    try {
      engine.precompile(source, { strict: true });
    } catch (err) {
      throw new TemplateSyntaxError(`template field "${field}": ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return variables;
}

/**
 * Renders each field with the variables; throws TemplateVariableMissingError naming the first missing
 * variable. A link that renders unsafe (its variable came from event data) renders empty, an unsafe link
 * in HTML as `#`: templates are checked when stored, data only here.
 */
export function renderTemplateFields(
  fields: Record<string, string>,
  variables: Record<string, unknown>,
  /** The recipient's locale: `{{money}}`, `{{number}}` and `{{date}}` format in it. */
  locale = 'en',
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, source] of Object.entries(fields)) {
    try {
      const rendered = compile(source, HTML_FIELDS.has(field))(variables, { data: { locale } });
      out[field] = HTML_FIELDS.has(field)
        ? withSafeHtmlLinks(rendered)
        : isLinkField(field) && !isSafeLink(rendered)
          ? ''
          : rendered;
    } catch (err) {
      const message = (err as Error).message;
      const missing = /"([^"]+)" not defined in/.exec(message);
      if (missing) throw new TemplateVariableMissingError(missing[1], field);
      throw new TemplateSyntaxError(`template field "${field}": ${message.split('\n')[0]}`);
    }
  }
  return out;
}

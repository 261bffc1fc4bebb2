import Handlebars from 'handlebars';

/**
 * Bounds and variables of template sources, checked before Handlebars compiles them. Compiling is
 * synchronous and costs about 0.1-0.3 ms per tag and a stack frame per nesting level, so a template
 * within these bounds compiles in well under 100 ms, and one beyond them is refused without compiling.
 */
export const TEMPLATE_LIMITS = {
  /** Content fields of one template version. */
  fields: 16,
  /** Characters of one field (plain text compiles quickly; tags are what costs). */
  fieldLength: 100_000,
  /** Characters of all fields together. */
  totalLength: 200_000,
  /** `{{` tags in all fields together. */
  tags: 300,
  /** Blocks (`{{#if}}`, `{{else if}}` chains, ...) and sub-expressions nested in each other. */
  nesting: 8,
} as const;

export class TemplateSyntaxError extends Error {
  override readonly name = 'TemplateSyntaxError';
}

/** A template over one of TEMPLATE_LIMITS; `limit` names it. */
export class TemplateLimitError extends Error {
  override readonly name = 'TemplateLimitError';
  constructor(
    message: string,
    readonly limit: keyof typeof TEMPLATE_LIMITS,
    /** The content field at fault, when one is. */
    readonly field?: string,
  ) {
    super(message);
  }
}

/**
 * Block helpers templates may use; anything else (partials, decorators, each, with, other helpers) is
 * refused. Without loops, rendering costs at most one step per tag whatever the data: a template
 * cannot be made to run long by a large array in an event.
 */
const BLOCK_HELPERS = new Set(['if', 'unless']);

/**
 * Formatting helpers (src/templates/locale-format.ts), `{{money total currency}}`, `{{number itemCount}}`,
 * `{{date deliveredAt}}`: the parameters each takes (variables or literals, no sub-expressions), and
 * which of them may be missing (rendered without: `money` without a currency is a plain number).
 */
export const VALUE_HELPERS: Readonly<Record<string, { params: number; optional: number[] }>> = {
  money: { params: 2, optional: [1] },
  number: { params: 1, optional: [] },
  date: { params: 1, optional: [] },
};

/**
 * Linear scan, no parsing: counts tags and the deepest nesting of blocks, `{{else if}}` chains (each
 * link nests in the AST) and sub-expressions. Errs on the side of counting too much (an escaped `\{{`
 * counts), never too little.
 */
export function assertTemplateBounds(fields: Record<string, string>): void {
  const entries = Object.entries(fields);
  if (entries.length > TEMPLATE_LIMITS.fields) {
    throw new TemplateLimitError(
      `a template has at most ${TEMPLATE_LIMITS.fields} fields (limit fields), this one ${entries.length}`,
      'fields',
    );
  }
  let total = 0;
  let tags = 0;
  for (const [field, source] of entries) {
    if (source.length > TEMPLATE_LIMITS.fieldLength) {
      throw new TemplateLimitError(
        `template field "${field}" is longer than ${TEMPLATE_LIMITS.fieldLength} characters (limit fieldLength)`,
        'fieldLength',
        field,
      );
    }
    total += source.length;
    if (total > TEMPLATE_LIMITS.totalLength) {
      throw new TemplateLimitError(
        `the template's fields together are longer than ${TEMPLATE_LIMITS.totalLength} characters (limit totalLength)`,
        'totalLength',
        field,
      );
    }
    tags += scanField(field, source, TEMPLATE_LIMITS.tags - tags);
  }
}

/** Tags in one field; throws past `tagsLeft` tags or past the nesting limit. */
function scanField(field: string, source: string, tagsLeft: number): number {
  const over = (what: string) =>
    new TemplateLimitError(
      `template field "${field}": blocks and sub-expressions nest deeper than ${TEMPLATE_LIMITS.nesting} levels (limit nesting) at ${what}`,
      'nesting',
      field,
    );
  // One entry per open block: how many `{{else <helper>}}` links it has (each nests one level more).
  const open: number[] = [];
  let depth = 0;
  let tags = 0;
  let at = 0;
  for (;;) {
    const start = source.indexOf('{{', at);
    if (start === -1) return tags;
    if (++tags > tagsLeft) {
      throw new TemplateLimitError(
        `a template has at most ${TEMPLATE_LIMITS.tags} {{ }} tags (limit tags); field "${field}" goes past it`,
        'tags',
        field,
      );
    }
    let inner = start + 2;
    while (source[inner] === '{' || source[inner] === '~' || source[inner] === '&') inner++;
    if (source.startsWith('!--', inner)) {
      const end = source.indexOf('--}}', inner);
      if (end === -1) return tags;
      at = end + 4;
      continue;
    }
    const end = source.indexOf('}}', inner);
    if (end === -1) return tags;
    const body = source.slice(inner, end);
    at = end + 2;
    if (body.startsWith('!')) continue;
    const rawBlock = source.startsWith('{{{{', start);
    if (body.startsWith('/')) {
      depth -= 1 + (open.pop() ?? 0);
      if (depth < 0) depth = 0;
    } else if (
      body.startsWith('#') ||
      (body.startsWith('^') && body.slice(1).trim() !== '') ||
      (rawBlock && !body.startsWith('/'))
    ) {
      open.push(0);
      depth += 1;
    } else if (/^else\s+\S/.test(body.trim()) && open.length > 0) {
      open[open.length - 1] += 1;
      depth += 1;
    }
    if (depth > TEMPLATE_LIMITS.nesting) throw over(`"{{${body.slice(0, 40)}}}"`);
    let parens = 0;
    for (const c of body) {
      if (c === '(') parens++;
      else if (c === ')') parens--;
      if (depth + Math.max(parens, 0) > TEMPLATE_LIMITS.nesting) throw over(`"{{${body.slice(0, 40)}}}"`);
    }
  }
}

export interface TemplateVariable {
  /** Used outside a guard (`{{#if name}}`, or the else of `{{#unless name}}`): the data must carry it. */
  required: boolean;
  /** Used as `name.something`: the data must be an object. */
  nested: boolean;
  /** Content fields using it. */
  fields: string[];
}

export type TemplateVariables = Map<string, TemplateVariable>;

/**
 * The top-level variables a template uses, and whether it uses each outside a guard. Checks bounds
 * first, and refuses what our rendering does not support: partials, decorators, helpers other than
 * if / unless.
 */
export function analyzeTemplateFields(fields: Record<string, string>): TemplateVariables {
  assertTemplateBounds(fields);
  const variables: TemplateVariables = new Map();
  for (const [field, source] of Object.entries(fields)) {
    let program: hbs.AST.Program;
    try {
      program = Handlebars.parse(source);
    } catch (err) {
      throw new TemplateSyntaxError(`template field "${field}": ${(err as Error).message.split('\n')[0]}`);
    }
    new FieldWalker(field, variables).program(program, { guards: new Set() });
  }
  return variables;
}

interface Scope {
  /** Variables known present here. */
  guards: Set<string>;
}

class FieldWalker {
  constructor(
    private readonly field: string,
    private readonly variables: TemplateVariables,
  ) {}

  program(program: hbs.AST.Program | undefined, scope: Scope): void {
    for (const statement of program?.body ?? []) this.statement(statement, scope);
  }

  private fail(message: string): never {
    throw new TemplateSyntaxError(`template field "${this.field}": ${message}`);
  }

  private statement(node: hbs.AST.Statement, scope: Scope): void {
    switch (node.type) {
      case 'ContentStatement':
      case 'CommentStatement':
        return;
      case 'MustacheStatement': {
        const m = node as hbs.AST.MustacheStatement;
        if (m.params.length > 0 || m.hash?.pairs.length) return this.helper(m, scope);
        if (m.path.type === 'PathExpression') this.use(m.path as hbs.AST.PathExpression, scope, false);
        return;
      }
      case 'BlockStatement':
        return this.block(node as hbs.AST.BlockStatement, scope);
      default:
        this.fail(`${node.type.replace(/Statement$/, '').toLowerCase()}s are not supported`);
    }
  }

  /** `{{money total currency}}` and the other VALUE_HELPERS; every other helper is refused. */
  private helper(m: hbs.AST.MustacheStatement, scope: Scope): void {
    const name = pathName(m.path);
    const helper = Object.hasOwn(VALUE_HELPERS, name) ? VALUE_HELPERS[name] : undefined;
    if (!helper || m.path.type !== 'PathExpression' || (m.path as hbs.AST.PathExpression).parts.length !== 1)
      this.fail(
        `unknown helper "${name}" (templates may use only variables, the blocks ${[...BLOCK_HELPERS].join(', ')} and the helpers ${Object.keys(VALUE_HELPERS).join(', ')})`,
      );
    if (m.params.length !== helper.params || m.hash?.pairs.length)
      this.fail(`{{${name}}} takes ${helper.params} value(s) and nothing else`);
    m.params.forEach((param, i) => {
      if (param.type === 'PathExpression')
        this.use(param as hbs.AST.PathExpression, scope, helper.optional.includes(i));
      else if (param.type !== 'StringLiteral' && param.type !== 'NumberLiteral')
        this.fail(`{{${name}}} takes variables or literals, not ${param.type}`);
    });
  }

  private block(node: hbs.AST.BlockStatement, scope: Scope): void {
    const helper = node.path.original;
    if (!BLOCK_HELPERS.has(helper))
      this.fail(`unknown block helper "${helper}" (use ${[...BLOCK_HELPERS].join(', ')})`);
    if (node.params.length !== 1) this.fail(`{{#${helper}}} takes exactly one value`);
    for (const pair of node.hash?.pairs ?? []) {
      if (pair.key !== 'includeZero' || pair.value.type !== 'BooleanLiteral')
        this.fail(`{{#${helper}}} does not take ${pair.key}=`);
    }
    const [param] = node.params;
    if (param.type === 'SubExpression') this.fail('sub-expressions are not supported');
    // The condition itself may be missing: block helpers see undefined, strict mode does not throw.
    const subject =
      param.type === 'PathExpression' ? this.use(param as hbs.AST.PathExpression, scope, true) : null;
    const guarded: Scope = { guards: subject ? new Set([...scope.guards, subject]) : scope.guards };
    // The branch that runs only when the subject is truthy may use it.
    this.program(node.program, helper === 'if' ? guarded : scope);
    this.program(node.inverse, helper === 'unless' ? guarded : scope);
  }

  /** Records a path that refers to a variable; returns its name, else null (`this`, `@index`, ...). */
  private use(path: hbs.AST.PathExpression, scope: Scope, asCondition: boolean): string | null {
    if (path.depth > 0) this.fail(`"${path.original}": there is no outer context (no each / with)`);
    let parts: string[];
    if (path.data) {
      if (path.parts[0] !== 'root' || path.parts.length < 2) return null;
      parts = path.parts.slice(1);
    } else {
      if (path.parts.length === 0) return null;
      parts = path.parts;
    }
    const name = parts[0];
    const entry = this.variables.get(name) ?? { required: false, nested: false, fields: [] };
    if (!asCondition && !scope.guards.has(name)) entry.required = true;
    if (parts.length > 1) entry.nested = true;
    if (!entry.fields.includes(this.field)) entry.fields.push(this.field);
    this.variables.set(name, entry);
    return name;
  }
}

function pathName(path: hbs.AST.PathExpression | hbs.AST.Literal): string {
  return path.type === 'PathExpression' ? (path as hbs.AST.PathExpression).original : path.type;
}

import {
  analyzeTemplateFields,
  assertTemplateBounds,
  TemplateLimitError,
  TemplateSyntaxError,
  TEMPLATE_LIMITS,
} from '../../src/templates/template-analysis';
import { assertTemplateCompiles } from '../../src/templates/render-template';
import { variablesNotProvided } from '../../src/templates/provided-variables';
import { thrown } from '../helpers/thrown';

const limitOf = (check: () => unknown) => thrown(check, TemplateLimitError);

const summary = (fields: Record<string, string>) =>
  Object.fromEntries(
    [...analyzeTemplateFields(fields)].map(([name, use]) => [name, use.required ? 'required' : 'optional']),
  );

describe('template bounds', () => {
  it('refuses 5,000 nested {{#if}} at once, without compiling, naming the limit and field', () => {
    const source = '{{#if a}}'.repeat(5000) + 'x' + '{{/if}}'.repeat(5000);
    const started = Date.now();
    const err = limitOf(() => assertTemplateCompiles({ title: 'ok', body: source }));
    expect(Date.now() - started).toBeLessThan(200);
    expect(err).toMatchObject({ limit: 'nesting', field: 'body' });
    const nested =
      '{{#if a}}'.repeat(TEMPLATE_LIMITS.nesting + 1) + 'x' + '{{/if}}'.repeat(TEMPLATE_LIMITS.nesting + 1);
    const deep = limitOf(() => assertTemplateCompiles({ body: nested }));
    expect(deep).toMatchObject({ limit: 'nesting', field: 'body' });
    expect(deep.message).toMatch(/nest deeper than 8 levels \(limit nesting\)/);
  });

  it('allows nesting up to the limit, counted across siblings correctly', () => {
    const nested =
      '{{#if a}}'.repeat(TEMPLATE_LIMITS.nesting) + '{{a}}' + '{{/if}}'.repeat(TEMPLATE_LIMITS.nesting);
    expect(() => assertTemplateCompiles({ body: nested + nested + nested })).not.toThrow();
  });

  it('counts {{else if}} chains and sub-expressions as nesting', () => {
    const chain = '{{#if a}}1' + '{{else if b}}2'.repeat(TEMPLATE_LIMITS.nesting) + '{{/if}}';
    expect(limitOf(() => assertTemplateBounds({ body: chain })).limit).toBe('nesting');
    const sub =
      '{{a ' +
      '(b '.repeat(TEMPLATE_LIMITS.nesting + 1) +
      'c' +
      ')'.repeat(TEMPLATE_LIMITS.nesting + 1) +
      '}}';
    expect(limitOf(() => assertTemplateBounds({ body: sub })).limit).toBe('nesting');
  });

  it('limits tags, field count and lengths', () => {
    expect(
      limitOf(() => assertTemplateBounds({ a: '{{x}}'.repeat(200), b: '{{y}}'.repeat(101) })),
    ).toMatchObject({ limit: 'tags', field: 'b' });
    expect(() => assertTemplateBounds({ a: '{{x}}'.repeat(TEMPLATE_LIMITS.tags) })).not.toThrow();
    const many = Object.fromEntries(
      Array.from({ length: TEMPLATE_LIMITS.fields + 1 }, (_, i) => [`f${i}`, 'x']),
    );
    expect(limitOf(() => assertTemplateBounds(many)).limit).toBe('fields');
    expect(
      limitOf(() => assertTemplateBounds({ a: 'x'.repeat(TEMPLATE_LIMITS.fieldLength + 1) })).limit,
    ).toBe('fieldLength');
    expect(
      limitOf(() =>
        assertTemplateBounds({ a: 'x'.repeat(90_000), b: 'x'.repeat(90_000), c: 'x'.repeat(90_000) }),
      ).limit,
    ).toBe('totalLength');
  });

  it('does not count tags inside {{!-- comments --}}', () => {
    expect(() => assertTemplateBounds({ a: `{{!-- ${'{{#if a}}'.repeat(1000)} --}}{{b}}` })).not.toThrow();
  });

  it('compiles a template at the tag limit quickly', () => {
    const source = '{{#if a}}{{a}}{{/if}} '.repeat(TEMPLATE_LIMITS.tags / 3);
    const started = Date.now();
    assertTemplateCompiles({ body: source });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('template variables', () => {
  it('tells required from guarded uses', () => {
    expect(
      summary({
        title: '{{#if userName}}{{userName}}, {{/if}}order {{orderNumber}}',
        body: '{{#unless trackingNumber}}soon{{else}}{{trackingNumber}}{{/unless}}{{#if total includeZero=true}}{{total}} {{currency}}{{/if}}',
      }),
    ).toEqual({
      userName: 'optional',
      orderNumber: 'required',
      trackingNumber: 'optional',
      total: 'optional',
      currency: 'required',
    });
  });

  it('reads @root.name as the variable name', () => {
    expect(summary({ body: '{{@root.shop}} {{#if @root.city}}{{city}}{{/if}}' })).toEqual({
      shop: 'required',
      city: 'optional',
    });
  });

  it('refuses loops: rendering time must not grow with the data', () => {
    expect(() => analyzeTemplateFields({ body: '{{#each items}}{{this}}{{/each}}' })).toThrow(
      /unknown block helper "each"/,
    );
    expect(() => analyzeTemplateFields({ body: '{{#with order}}{{id}}{{/with}}' })).toThrow(
      /unknown block helper "with"/,
    );
  });

  it('refuses partials, decorators and helpers other than if / unless', () => {
    expect(() => analyzeTemplateFields({ body: '{{> header}}' })).toThrow(TemplateSyntaxError);
    expect(() => analyzeTemplateFields({ body: '{{lookup a "b"}}' })).toThrow(/unknown helper "lookup"/);
    expect(() => analyzeTemplateFields({ body: '{{#custom a}}x{{/custom}}' })).toThrow(
      /unknown block helper "custom"/,
    );
    expect(() => analyzeTemplateFields({ body: '{{#if (eq a b)}}x{{/if}}' })).toThrow(/sub-expressions/);
    expect(() => analyzeTemplateFields({ body: '{{#if a}}x' })).toThrow(/template field "body"/);
    expect(() => analyzeTemplateFields({ body: '{{#if a}}{{../b}}{{/if}}' })).toThrow(/no outer context/);
  });

  it('checks an event template against its data: unknown, unguarded optional and nested variables are named', () => {
    const problems = variablesNotProvided(
      'order_created',
      analyzeTemplateFields({
        title: '{{orderNumber}} {{sku}}',
        body: '{{total}} {{#if orderUrl}}{{orderUrl.host}}{{/if}} {{#if actionUrl}}{{actionUrl}}{{/if}}',
      }),
    );
    expect(problems.map((p) => [p.field, p.variable])).toEqual([
      ['title', 'sku'],
      ['body', 'total'],
      ['body', 'orderUrl'],
    ]);
    expect(problems[0].message).toMatch(/"sku" is not in the ORDER_CREATED data/);
    expect(problems[1].message).toMatch(
      /optional in the ORDER_CREATED data: use it inside \{\{#if total\}\}/,
    );
    expect(variablesNotProvided('my_own_code', analyzeTemplateFields({ title: '{{anything}}' }))).toEqual([]);
    expect(
      variablesNotProvided('order_created', analyzeTemplateFields({ title: '{{actionUrl}}' }))[0].variable,
    ).toBe('actionUrl');
  });
});

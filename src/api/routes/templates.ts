import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { TemplatePreviewView, TemplateView } from '../contract-types';
import type { Template } from '../../db/entities';
import { TemplateRepository, TemplateVersionConflict } from '../../db/repositories/template-repository';
import { CHANNELS } from '../../domain/channels';
import { CATEGORIES } from '../../domain/event-catalog';
import { isSafeLink, SAFE_LINK_MESSAGE, unsafeHtmlLink } from '../../domain/safe-link';
import {
  assertTemplateCompiles,
  HTML_FIELDS,
  isLinkField,
  renderTemplateFields,
  TemplateLimitError,
  TemplateSyntaxError,
  TemplateVariableMissingError,
} from '../../templates/render-template';
import { variablesNotProvided } from '../../templates/provided-variables';
import {
  assertTemplateBounds,
  TEMPLATE_LIMITS,
  type TemplateVariables,
} from '../../templates/template-analysis';
import type { ShopSettings } from '../../templates/email-layout';
import type { ApiContext } from '../context';
import { ApiError, badRequest, notFound } from '../errors';
import {
  REQUIRED_TEMPLATE_FIELDS as REQUIRED_FIELDS,
  TEMPLATED_CHANNELS,
  type TemplatedChannel,
} from '../../templates/template-fields';
import { answerSchema, errors, localeSchema, noQuery, templateCodeSchema } from '../schemas';

const templateSchema = answerSchema<TemplateView>()(
  z.object({
    id: z.string(),
    code: z.string(),
    channel: z.string(),
    locale: z.string(),
    version: z.number().int(),
    category: z.string(),
    fields: z.record(z.string(), z.string()),
    createdAt: z.string(),
  }),
);

const LIMITS_NOTE = `Bounds (400 naming the limit): at most ${TEMPLATE_LIMITS.fields} fields, ${TEMPLATE_LIMITS.fieldLength} characters a field, ${TEMPLATE_LIMITS.totalLength} in all, ${TEMPLATE_LIMITS.tags} {{ }} tags in all, blocks and sub-expressions nested ${TEMPLATE_LIMITS.nesting} deep. Only variables, the blocks if and unless, and the formatting helpers money, number and date (no loops, partials or other helpers).`;

const fieldsSchema = z
  .record(
    z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'field names are 1-64 chars of [A-Za-z0-9_]'),
    z.string().max(TEMPLATE_LIMITS.fieldLength),
  )
  .refine((fields) => Object.keys(fields).length > 0, 'must have at least one field')
  .describe('Handlebars source per content field');

/** The same bound as event data: what a preview renders with is what an event could carry. */
const MAX_PREVIEW_VARIABLES_BYTES = 64 * 1024;

const SECURITY: Record<string, string[]>[] = [{ apiKey: [] }, { adminBasic: [] }, { bearer: [] }];

const templateCodeParams = z.object({ code: templateCodeSchema });

const listSchema = {
  tags: ['operators'],
  summary: 'List templates',
  description: 'The newest version of each (code, channel, locale); `versions=all` lists every version.',
  security: SECURITY,
  querystring: z
    .object({
      code: templateCodeSchema.optional(),
      channel: z.enum(CHANNELS).optional(),
      locale: localeSchema.optional(),
      versions: z.enum(['latest', 'all']).default('latest'),
    })
    .strict(),
  response: { 200: z.object({ items: z.array(templateSchema) }), ...errors(400, 401, 403, 429) },
};

const newVersionBody = z
  .object({
    channel: z.enum(TEMPLATED_CHANNELS),
    locale: localeSchema.default('en'),
    category: z.enum(CATEGORIES).optional(),
    fields: fieldsSchema,
    baseVersion: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        'the version this change was made on (0: create, the template must not exist); another version there answers 409 and nothing is saved',
      ),
  })
  .strict();

const newVersionSchema = {
  tags: ['operators'],
  summary: 'Create a new template version',
  description: `Appends version n+1 for (code, channel, locale). Required fields: ${TEMPLATED_CHANNELS.map((c) => `${c}: ${REQUIRED_FIELDS[c].join(', ')}`).join('; ')}. The source must compile; \`category\` is required for a new code and must match an existing one. A template of an event (order_created, ...) may use only the variables of that event's data (required ones anywhere, optional ones inside \`{{#if name}}\`) and actionUrl / actionText inside \`{{#if}}\`. Codes are case-insensitive. ${LIMITS_NOTE}`,
  security: SECURITY,
  params: templateCodeParams,
  querystring: noQuery,
  body: newVersionBody,
  response: { 201: templateSchema, ...errors(400, 401, 403, 409, 413, 429) },
};

const previewBody = z
  .object({
    channel: z.enum(TEMPLATED_CHANNELS),
    locale: localeSchema.default('en'),
    version: z.number().int().min(1).optional(),
    fields: fieldsSchema.optional().describe('a draft to render instead of a stored version'),
    variables: z
      .record(z.string(), z.unknown())
      .default({})
      .refine(
        (v) => JSON.stringify(v).length <= MAX_PREVIEW_VARIABLES_BYTES,
        `must serialize to at most ${MAX_PREVIEW_VARIABLES_BYTES} bytes (as event data)`,
      ),
  })
  .strict();

const previewAnswer = answerSchema<TemplatePreviewView>()(
  z.object({
    code: z.string(),
    channel: z.string(),
    locale: z.string(),
    version: z.number().int().nullable(),
    rendered: z.record(z.string(), z.string()),
  }),
);

const previewSchema = {
  tags: ['operators'],
  summary: 'Render a template with sample variables',
  description: `Renders a stored version (newest unless \`version\` is given) or, with \`fields\`, a draft. Rendering is strict: a variable the template uses but \`variables\` lacks is a 400 naming it. ${LIMITS_NOTE}`,
  security: SECURITY,
  params: templateCodeParams,
  querystring: noQuery,
  body: previewBody,
  response: { 200: previewAnswer, ...errors(400, 401, 403, 404, 413, 429) },
};

/** Operator-facing: templates are append-only versions; a new version applies to notifications prepared from then on. */
export function templateRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.addHook('onRequest', ctx.auth.guard('admin'));

    app.get('/api/templates', { schema: listSchema }, async (request) => {
      const { versions, ...filter } = request.query;
      const repository = new TemplateRepository(request.em);
      const rows = versions === 'all' ? await repository.all(filter) : await repository.latest(filter);
      return { items: rows.map(templateView) };
    });

    app.post('/api/templates/:code/versions', { schema: newVersionSchema }, async (request, reply) => {
      const created = await addTemplateVersion(request.em, request.params.code, request.body);
      return reply.code(201).send(templateView(created));
    });

    app.post('/api/templates/:code/preview', { schema: previewSchema }, async (request) =>
      previewTemplate(request.em, request.params.code, request.body, ctx.deps.config.shop),
    );
  };
}

/** Checks a new version (required fields, links, compilation, variables, category), then appends it. */
async function addTemplateVersion(
  em: EntityManager,
  code: string,
  body: z.output<typeof newVersionBody>,
): Promise<Template> {
  const { channel, locale, fields, baseVersion } = body;
  assertRequiredFields(channel, fields);
  assertSafeLinks(fields);
  assertVariablesProvided(
    code,
    checkedTemplate(() => assertTemplateCompiles(fields)),
  );
  const repository = new TemplateRepository(em);
  const category = await categoryOfNewVersion(repository, code, body.category);
  try {
    return await repository.addVersion({ code, channel, locale, category, fields }, baseVersion);
  } catch (err) {
    if (!(err instanceof TemplateVersionConflict)) throw err;
    throw versionConflict(`template ${code} (${channel}, ${locale})`, err);
  }
}

/** 400 naming each field the channel requires that the template lacks. */
function assertRequiredFields(channel: TemplatedChannel, fields: Record<string, string>): void {
  const missing = REQUIRED_FIELDS[channel].filter((f) => !(f in fields));
  if (missing.length)
    throw new ApiError(
      400,
      `invalid body: fields: ${channel} templates need ${missing.join(', ')}`,
      missing.map((f) => `fields.${f}`),
      'body',
    );
}

/** A new code needs a category; an existing code keeps its own. */
async function categoryOfNewVersion(
  repository: TemplateRepository,
  code: string,
  requested: string | undefined,
): Promise<string> {
  const existing = await repository.categoryOf(code);
  const category = requested ?? existing;
  if (!category)
    throw badRequest('category', `is required for a new template code ("${code}" has no versions yet)`);
  if (existing && category !== existing)
    throw badRequest('category', `template "${code}" belongs to category "${existing}"`);
  return category;
}

/** 409 naming the version the change was made on and the one stored now. */
function versionConflict(what: string, err: TemplateVersionConflict): ApiError {
  return new ApiError(
    409,
    err.expected === 0
      ? `${what} exists already (version ${err.current}): add a version to it instead`
      : `${what} is at version ${err.current}, this change was made on version ${err.expected}: reload it and apply the change again`,
    ['baseVersion'],
    'body',
  );
}

/** Renders a draft (checked to compile) or a stored version (checked against today's bounds). */
async function previewTemplate(
  em: EntityManager,
  code: string,
  body: z.output<typeof previewBody>,
  shop: ShopSettings,
): Promise<z.infer<typeof previewAnswer>> {
  const { channel, locale, variables } = body;
  const { fields, usedVersion } = await previewSource(em, code, body);
  // The shop's variables (SHOP_VARIABLES) are the service's, as at send time; money etc. in the locale.
  const shopVariables = { shopUrl: (shop.url ?? '').replace(/\/+$/, ''), shopName: shop.name };
  try {
    const rendered = renderTemplateFields(fields, { ...variables, ...shopVariables }, locale);
    return { code, channel, locale, version: usedVersion, rendered };
  } catch (err) {
    if (err instanceof TemplateVariableMissingError) {
      throw new ApiError(
        400,
        `invalid body: variables.${err.variable}: is required by template field "${err.field}"`,
        [`variables.${err.variable}`],
        'body',
      );
    }
    if (err instanceof TemplateSyntaxError)
      throw new ApiError(400, `invalid body: ${err.message}`, ['fields'], 'body');
    throw err;
  }
}

/** The fields a preview renders: the draft's, or the stored version's (404 when there is none). */
async function previewSource(
  em: EntityManager,
  code: string,
  { channel, locale, version, fields: draft }: z.output<typeof previewBody>,
): Promise<{ fields: Record<string, string>; usedVersion: number | null }> {
  if (draft) {
    checkedTemplate(() => assertTemplateCompiles(draft));
    return { fields: draft, usedVersion: null };
  }
  const template = await new TemplateRepository(em).find(code, channel, locale, version);
  if (!template) throw notFound(`template ${code} (${channel}, ${locale}${version ? `, v${version}` : ''})`);
  const stored = template.fields;
  checkedTemplate(() => assertTemplateBounds(stored));
  return { fields: stored, usedVersion: template.version };
}

/** Runs a template check; its failures become 400 naming the field (and the limit, for bounds). */
function checkedTemplate<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof TemplateLimitError)
      throw new ApiError(
        400,
        `invalid body: ${err.message}`,
        [err.field ? `fields.${err.field}` : 'fields'],
        'body',
      );
    if (!(err instanceof TemplateSyntaxError)) throw err;
    const field = /template field "([^"]+)"/.exec(err.message)?.[1];
    throw new ApiError(400, `invalid body: ${err.message}`, [field ? `fields.${field}` : 'fields'], 'body');
  }
}

/** 400 naming each variable a template of `code` uses that the code's data does not provide. */
function assertVariablesProvided(code: string, variables: TemplateVariables): void {
  const problems = variablesNotProvided(code, variables);
  if (problems.length) {
    const fields = problems.map((p) => `fields.${p.field}`);
    throw new ApiError(
      400,
      `invalid body: ${problems.map((p) => `fields.${p.field}: ${p.message}`).join('; ')}`,
      [...new Set(fields)],
      'body',
    );
  }
}

function templateView(t: Template): z.infer<typeof templateSchema> {
  return {
    id: t.id,
    code: t.code,
    channel: t.channel,
    locale: t.locale,
    version: t.version,
    category: t.category,
    fields: t.fields,
    createdAt: t.createdAt.toISOString(),
  };
}

/**
 * Link fields (actionUrl, url, ...) and link attributes in HTML must be https, http or relative where the
 * template itself writes the scheme; what variables bring is checked when rendered.
 */
function assertSafeLinks(fields: Record<string, string>): void {
  const unsafe = Object.entries(fields).filter(([field, source]) =>
    HTML_FIELDS.has(field) ? unsafeHtmlLink(source) !== null : isLinkField(field) && !isSafeLink(source),
  );
  if (unsafe.length) {
    const names = unsafe.map(([field]) => `fields.${field}`);
    throw new ApiError(
      400,
      `invalid body: ${names.map((n) => `${n}: links ${SAFE_LINK_MESSAGE}`).join('; ')}`,
      names,
      'body',
    );
  }
}

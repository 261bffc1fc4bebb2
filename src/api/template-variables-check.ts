import type { EntityManager } from '@mikro-orm/postgresql';
import { OPTION_VARIABLES, SHOP_VARIABLES, templateDataSpec } from '../domain/event-data';
import { TemplateRepository } from '../db/repositories/template-repository';
import { analyzeTemplateFields, type TemplateVariables } from '../templates/template-analysis';
import { ApiError, badRequest } from './errors';

/** Analyses of stored template versions, by their fields (templates are append-only: a row never changes). */
const analyses = new Map<string, TemplateVariables | null>();
const MAX_ANALYSES = 500;

function analysisOf(fields: Record<string, string>): TemplateVariables | null {
  const key = JSON.stringify(fields);
  if (!analyses.has(key)) {
    let result: TemplateVariables | null;
    try {
      result = analyzeTemplateFields(fields);
    } catch {
      // A stored template beyond today's bounds (older than them): rendering is its only check.
      result = null;
    }
    if (analyses.size >= MAX_ANALYSES) analyses.delete(analyses.keys().next().value!);
    analyses.set(key, result);
  }
  return analyses.get(key)!;
}

/**
 * The door check of a send by template code (direct sends, campaigns). Codes whose data we define
 * were checked by parseBusinessEvent / parseCampaign against that definition; for the others, the
 * template declares its variables by using them: every variable the newest version of any channel or
 * locale uses outside a guard must be in `variables` (actionUrl / actionText may come from the options;
 * userName may come from the recipient's name, so it is not required here). 400 names the first
 * missing ones; 400 `templateCode` when no template has the code.
 */
export async function assertTemplateVariables(
  em: EntityManager,
  code: string,
  variables: Record<string, unknown>,
  options: { actionUrl?: string; actionText?: string } = {},
  prefix = 'variables',
): Promise<void> {
  const repository = new TemplateRepository(em);
  if (templateDataSpec(code)) {
    if (!(await repository.exists(code))) throw badRequest('templateCode', `no template with code "${code}"`);
    return;
  }
  const rows = await repository.latest({ code });
  if (rows.length === 0) throw badRequest('templateCode', `no template with code "${code}"`);
  const missing = new Map<string, string>();
  for (const row of rows) {
    for (const [name, use] of analysisOf(row.fields) ?? []) {
      if (!use.required || name === 'userName' || missing.has(name)) continue;
      if ((SHOP_VARIABLES as readonly string[]).includes(name)) continue;
      if (Object.hasOwn(variables, name) && variables[name] !== undefined) continue;
      const option = (OPTION_VARIABLES as readonly string[]).includes(name)
        ? (name as (typeof OPTION_VARIABLES)[number])
        : null;
      if (option && options[option] !== undefined) continue;
      missing.set(
        name,
        `is required by template ${code} (${row.channel}, ${row.locale}, field "${use.fields[0]}")`,
      );
    }
  }
  if (missing.size > 0) {
    const problems = [...missing].map(([name, message]) => ({ field: `${prefix}.${name}`, message }));
    throw new ApiError(
      400,
      `invalid body: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`,
      problems.map((p) => p.field),
      'body',
    );
  }
}

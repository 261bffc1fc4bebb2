import { OPTION_VARIABLES, SHOP_VARIABLES, templateDataSpec } from '../domain/event-data';
import type { TemplateVariables } from './template-analysis';

export interface VariableProblem {
  /** The content field using the variable, e.g. `title`. */
  field: string;
  variable: string;
  message: string;
}

/**
 * What a template of `code` uses that the data of its code does not provide: for codes whose data we
 * define (an event's template, its follow-up, the marketing template), every variable must be a field
 * of that data, actionUrl / actionText or shopUrl / shopName (always present); required fields and
 * shopUrl / shopName may be used anywhere, optional ones (and
 * actionUrl / actionText) only inside a guard such as `{{#if name}}`. Empty for other codes: their
 * templates declare their variables by using them.
 */
export function variablesNotProvided(code: string, variables: TemplateVariables): VariableProblem[] {
  const schema = templateDataSpec(code);
  if (!schema) return [];
  const problems: VariableProblem[] = [];
  for (const [name, use] of variables) {
    if ((SHOP_VARIABLES as readonly string[]).includes(name) && !use.nested) continue;
    const field = use.fields[0];
    const declared = Object.hasOwn(schema.spec, name) ? schema.spec[name] : undefined;
    const optionVariable = (OPTION_VARIABLES as readonly string[]).includes(name);
    if (!declared && !optionVariable) {
      const known = [...Object.keys(schema.spec), ...OPTION_VARIABLES, ...SHOP_VARIABLES].join(', ');
      problems.push({
        field,
        variable: name,
        message: `variable "${name}" is not in the ${schema.label} data (it has ${known})`,
      });
    } else if (use.nested) {
      problems.push({
        field,
        variable: name,
        message: `variable "${name}" is a plain value: "${name}.…" does not exist`,
      });
    } else if (use.required && !declared?.required) {
      problems.push({
        field,
        variable: name,
        message: `variable "${name}" is optional in the ${schema.label} data: use it inside {{#if ${name}}} … {{/if}}`,
      });
    }
  }
  return problems;
}

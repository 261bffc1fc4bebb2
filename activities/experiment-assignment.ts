import type { Channel } from '../src/domain/channels';
import { assignmentOf, type ActiveExperiment, type Assignment } from '../src/domain/experiments';
import { localeChain, type TemplateRow, type TemplatesForLocale } from './render-notification';

/** A recipient's templates, and its variant when it takes part in the template's running experiment. */
export interface RecipientTemplates {
  templates: Map<Channel, TemplateRow>;
  assignment: Assignment | null;
}

export type VariantPicker = (recipient: { id: string; locale: string }) => RecipientTemplates;

/**
 * Picks each recipient's templates (docs/experiments.md): without a running experiment the newest per
 * channel and locale; with one, the recipient's variant (a hash of experiment and recipient id) pins
 * its template version on the experiment's channel (every channel when none is named) in the
 * recipient's locale chain. A recipient whose locales hold that version on no channel stays out of
 * the experiment (no variant recorded), so every counted variant rendered what it names.
 */
export function variantPicker(
  experiment: ActiveExperiment | null,
  rows: TemplateRow[],
  templatesFor: TemplatesForLocale,
  defaultLocale: string,
): VariantPicker {
  const pinned = new Map<string, Map<Channel, TemplateRow> | null>();
  return (recipient) => {
    const newest = templatesFor(recipient.locale);
    if (!experiment) return { templates: newest, assignment: null };
    const assignment = assignmentOf(experiment, recipient.id);
    const key = `${recipient.locale}\u0000${assignment.variant}`;
    if (!pinned.has(key))
      pinned.set(key, pinVersion(newest, rows, localeChain(recipient.locale, defaultLocale), assignment));
    const templates = pinned.get(key);
    return templates ? { templates, assignment } : { templates: newest, assignment: null };
  };
}

/** The newest templates with the variant's version in place on its channels; null when no channel has it. */
function pinVersion(
  newest: Map<Channel, TemplateRow>,
  rows: TemplateRow[],
  locales: string[],
  assignment: Assignment,
): Map<Channel, TemplateRow> | null {
  const templates = new Map(newest);
  let found = false;
  for (const channel of newest.keys()) {
    if (assignment.channel && channel !== assignment.channel) continue;
    const row = locales
      .map((locale) =>
        rows.find(
          (r) => r.channel === channel && r.locale === locale && r.version === assignment.templateVersion,
        ),
      )
      .find((r) => r !== undefined);
    if (row) {
      templates.set(channel, row);
      found = true;
    }
  }
  return found ? templates : null;
}

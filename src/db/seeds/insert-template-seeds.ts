import type { Migration } from '@mikro-orm/migrations';
import type { TemplateSeed } from './default-templates';

/** Adds version 1 of each seeded template to a migration; rows that exist are left alone. */
export function addTemplateSeeds(migration: Migration, seeds: TemplateSeed[]): void {
  for (const template of seeds) {
    for (const [channel, fields] of Object.entries(template.channels)) {
      migration.addSql(
        migration.getKnex().raw(
          `insert into templates (code, channel, locale, version, category, fields) values (?, ?, ?, 1, ?, ?::jsonb)
           on conflict (code, channel, locale, version) do nothing`,
          [template.code, channel, template.locale, template.category, JSON.stringify(fields)],
        ),
      );
    }
  }
}

/** The matching `down`: removes version 1 of those templates. */
export function removeTemplateSeeds(migration: Migration, seeds: TemplateSeed[]): void {
  migration.addSql(
    migration
      .getKnex()
      .raw(`delete from templates where version = 1 and code = any(?)`, [seeds.map((t) => t.code)]),
  );
}

/**
 * Adds each seed as the next version of its (code, channel, locale), so it becomes the one rendered;
 * a template code without rows gets version 1.
 */
export function addTemplateVersions(migration: Migration, seeds: TemplateSeed[]): void {
  for (const template of seeds) {
    for (const [channel, fields] of Object.entries(template.channels)) {
      migration.addSql(
        migration.getKnex().raw(
          `insert into templates (code, channel, locale, version, category, fields)
           select ?, ?, ?, coalesce(max(version), 0) + 1, ?, ?::jsonb from templates where code = ? and channel = ? and locale = ?`,
          [
            template.code,
            channel,
            template.locale,
            template.category,
            JSON.stringify(fields),
            template.code,
            channel,
            template.locale,
          ],
        ),
      );
    }
  }
}

/** The matching `down`: removes the versions whose fields are exactly those seeds'. */
export function removeTemplateVersions(migration: Migration, seeds: TemplateSeed[]): void {
  for (const template of seeds) {
    for (const [channel, fields] of Object.entries(template.channels)) {
      migration.addSql(
        migration
          .getKnex()
          .raw(`delete from templates where code = ? and channel = ? and locale = ? and fields = ?::jsonb`, [
            template.code,
            channel,
            template.locale,
            JSON.stringify(fields),
          ]),
      );
    }
  }
}

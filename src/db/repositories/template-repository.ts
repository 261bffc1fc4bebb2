import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Channel } from '../../domain/channels';
import { Template } from '../entities';

export interface TemplateFilter {
  code?: string;
  channel?: Channel;
  locale?: string;
}

export interface NewTemplateVersion {
  code: string;
  channel: Channel;
  locale: string;
  category: string;
  fields: Record<string, string>;
}

/** A new version was asked for on top of `expected`, but (code, channel, locale) is at `current` (0: none). */
export class TemplateVersionConflict extends Error {
  override readonly name = 'TemplateVersionConflict';
  constructor(
    readonly expected: number,
    readonly current: number,
  ) {
    super(`template is at version ${current}, not ${expected}`);
  }
}

/** Templates are append-only: a change is a new version row; notifications record the version they used. */
export class TemplateRepository {
  constructor(private readonly em: EntityManager) {}

  /** The newest version of each (code, channel, locale) matching the filter. */
  async latest(filter: TemplateFilter = {}): Promise<Template[]> {
    const rows = await this.em.find(Template, this.where(filter), {
      orderBy: { code: 'asc', channel: 'asc', locale: 'asc', version: 'desc' },
    });
    const seen = new Set<string>();
    return rows.filter((t) => {
      const key = `${t.code}\u0000${t.channel}\u0000${t.locale}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }

  /** Every version matching the filter, newest first within each (code, channel, locale). */
  all(filter: TemplateFilter = {}): Promise<Template[]> {
    return this.em.find(Template, this.where(filter), {
      orderBy: { code: 'asc', channel: 'asc', locale: 'asc', version: 'desc' },
    });
  }

  /** One version, or the newest when `version` is omitted. */
  find(code: string, channel: Channel, locale: string, version?: number): Promise<Template | null> {
    return this.em.findOne(
      Template,
      { code, channel, locale, ...(version !== undefined ? { version } : {}) },
      { orderBy: { version: 'desc' } },
    );
  }

  async exists(code: string): Promise<boolean> {
    return (await this.em.count(Template, { code })) > 0;
  }

  /** Category of a template code (the same for all its rows); null when the code is unknown. */
  async categoryOf(code: string): Promise<string | null> {
    const row = await this.em.findOne(
      Template,
      { code },
      { fields: ['category'], orderBy: { version: 'desc' } },
    );
    return row?.category ?? null;
  }

  /**
   * Appends version max+1 for (code, channel, locale); retries when a concurrent writer took the number.
   * With `baseVersion` (the version the change was made on; 0 = a template that must not exist yet) it
   * throws TemplateVersionConflict instead of stacking a change on one it has not seen; the unique
   * version number makes that hold between concurrent writers too.
   */
  async addVersion(input: NewTemplateVersion, baseVersion?: number): Promise<Template> {
    for (let attempt = 0; ; attempt++) {
      const em = this.em.fork();
      const [row] = await em
        .getConnection()
        .execute<{ max: number | null }[]>(
          `select max(version) as max from templates where code = ? and channel = ? and locale = ?`,
          [input.code, input.channel, input.locale],
        );
      const current = Number(row.max ?? 0);
      if (baseVersion !== undefined && current !== baseVersion)
        throw new TemplateVersionConflict(baseVersion, current);
      const template = em.create(Template, { ...input, version: current + 1, createdAt: new Date() });
      try {
        await em.flush();
        return template;
      } catch (err) {
        if (err instanceof UniqueConstraintViolationException && attempt < 5) continue;
        throw err;
      }
    }
  }

  private where(filter: TemplateFilter) {
    return {
      ...(filter.code ? { code: filter.code } : {}),
      ...(filter.channel ? { channel: filter.channel } : {}),
      ...(filter.locale ? { locale: filter.locale } : {}),
    };
  }
}

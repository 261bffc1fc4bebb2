import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * Content stored once (docs/data-lifecycle.md, "Content stored once"): a notification's rendered
 * content and its event data live in `notification_contents`, keyed by the sha-256 of their canonical
 * JSON, and rows hold the hash (`content_hash`, `data_hash`). Identical renders (a campaign's
 * recipients, an event's recipients in one locale) share one row. Rows stored before this keep their
 * inline `content` / `data`; readers take the stored value when a hash is set, the inline one otherwise.
 */

/** JSON with object keys sorted at every level, so equal values hash equal whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** How long a content row stays after its last use before the sweep may delete it (no row referencing it). */
export const CONTENT_SWEEP_GRACE_MS = 3_600_000;
/** A content row used this recently is not touched again by a store (see STORE_CONTENTS): half the sweep's grace. */
export const CONTENT_FRESH_MS = CONTENT_SWEEP_GRACE_MS / 2;

/**
 * The values of one statement's rows, stored once where rows share them. A value is stored by hash only
 * when at least two rows of the statement hold it (a campaign page, an event's recipients in one
 * language, an event's data): a value of one row alone stays inline, since a content row of its own
 * costs more than it saves (docs/data-lifecycle.md, "Content stored once", measured). Empty values stay
 * inline too (`{}` costs nothing).
 */
export class ContentBatch {
  private readonly byHash = new Map<string, { value: Record<string, unknown>; rows: number }>();
  /** Hashes by plain JSON: a page's rows render equal values with the same key order, so most skip canonicalJson and sha-256. */
  private readonly hashOfJson = new Map<string, string>();

  /** Registers a row's value; its hash (null: empty). Call `storedHash` once every row is registered. */
  register(value: Record<string, unknown> | null | undefined): string | null {
    if (!value || Object.keys(value).length === 0) return null;
    const json = JSON.stringify(value);
    let hash = this.hashOfJson.get(json);
    if (hash === undefined) {
      hash = createHash('sha256').update(canonicalJson(value)).digest('hex');
      this.hashOfJson.set(json, hash);
    }
    const seen = this.byHash.get(hash);
    if (seen) seen.rows++;
    else this.byHash.set(hash, { value, rows: 1 });
    return hash;
  }

  /** The hash a row references, or null when its value stays inline. */
  storedHash(hash: string | null): string | null {
    return hash !== null && (this.byHash.get(hash)?.rows ?? 0) >= 2 ? hash : null;
  }

  /** The `?::jsonb` parameter of STORE_CONTENTS: every shared value once. */
  toParameter(): string {
    return JSON.stringify(
      [...this.byHash].filter(([, v]) => v.rows >= 2).map(([hash, v]) => ({ hash, content: v.value })),
    );
  }
}

/**
 * A CTE that stores a batch's contents (one `?::jsonb` parameter, ContentBatch.toParameter). A row used
 * within CONTENT_FRESH_MS is left alone: the orphan sweep only takes rows unused for CONTENT_SWEEP_GRACE_MS,
 * twice as long, so it cannot take that row while this statement stores notifications against it, and no
 * lock is taken (every chunk of a campaign page shares one content row: a lock would make them wait for
 * each other). An older row is touched (`used_at`) instead of skipped: the update locks it until the
 * statement's transaction ends, so the sweep (which skips locked rows) cannot delete it meanwhile; a row
 * the sweep deleted first is inserted again (ON CONFLICT retries once the deleting transaction committed).
 */
export const STORE_CONTENTS = `stored_contents as (
       insert into notification_contents (hash, content)
       select c.hash, c.content from jsonb_to_recordset(?::jsonb) as c(hash text, content jsonb)
        where not exists (
          select 1 from notification_contents f
           where f.hash = c.hash and f.used_at > now() - interval '${CONTENT_FRESH_MS} milliseconds')
       on conflict (hash) do update set used_at = now())`;

/** SQL of a row's content as readers see it: the stored one when hashed, else the inline column. */
export function contentOf(alias: string): string {
  return `coalesce((select c.content from notification_contents c where c.hash = ${alias}.content_hash), ${alias}.content)`;
}

/** SQL of a row's event data as readers see it (see contentOf). */
export function dataOf(alias: string): string {
  return `coalesce((select c.content from notification_contents c where c.hash = ${alias}.data_hash), ${alias}.data)`;
}

/**
 * Deletes up to `limit` content rows no notification references, unused since `usedBefore`. Rows a
 * concurrent insert is touching are locked and skipped; one it touched after this statement's snapshot
 * fails the `used_at` recheck of FOR UPDATE.
 */
export async function deleteOrphanContents(
  em: EntityManager,
  usedBefore: Date,
  limit: number,
): Promise<number> {
  const rows: unknown[] = await em.getConnection().execute(
    `delete from notification_contents where hash in (
       select c.hash from notification_contents c
        where c.used_at < ?
          and not exists (select 1 from notifications n where n.content_hash = c.hash)
          and not exists (select 1 from notifications n where n.data_hash = c.hash)
        order by c.used_at limit ? for update skip locked)
     returning 1`,
    [usedBefore, limit],
  );
  return rows.length;
}

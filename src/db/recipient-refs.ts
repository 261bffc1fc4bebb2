import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * The opaque ids (`recipients.ref`, random UUIDs) of these recipients, by user id; unknown ones are left
 * out. Temporal workflow ids and search attributes carry a ref instead of the shop's user id
 * (docs/contracts.md, "Workflows and ids"); an erasure deletes the ref with the recipient.
 */
export async function recipientRefs(db: EntityManager, userIds: string[]): Promise<Map<string, string>> {
  if (userIds.length === 0) return new Map();
  const rows: { id: string; ref: string }[] = await db
    .getConnection()
    .execute(`select id, ref from recipients where id in (select jsonb_array_elements_text(?::jsonb))`, [
      JSON.stringify(userIds),
    ]);
  return new Map(rows.map((r) => [r.id, r.ref]));
}

/** One recipient's ref; null when there is no such recipient (never stored, or erased). */
export async function recipientRef(db: EntityManager, userId: string): Promise<string | null> {
  return (await recipientRefs(db, [userId])).get(userId) ?? null;
}

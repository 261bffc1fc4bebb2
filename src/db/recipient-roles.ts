import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * Ids of the recipients having `role`, in id order (an event's `defaultRecipientRole`).
 * `roles @> array[?]` rather than `? = any(roles)`: the same rows, but containment is an operator of the
 * GIN index recipients_roles_idx, so Postgres reads the few matching rows instead of scanning the
 * table (docs/production.md, "Role queries").
 */
export async function recipientIdsWithRole(db: EntityManager, role: string): Promise<string[]> {
  const rows: { id: string }[] = await db
    .getConnection()
    .execute(`select id from recipients where roles @> array[?]::text[] order by id`, [role]);
  return rows.map((r) => r.id);
}

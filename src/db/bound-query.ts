import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * A statement with its parameters sent apart from its text (Postgres' extended protocol), for statements that
 * carry large JSON parameters: MikroORM's execute() quotes every parameter into the text in JavaScript, and
 * Postgres then scans the whole literal again.
 */
export async function boundQuery<T = Record<string, unknown>>(
  em: EntityManager,
  sql: string,
  params: unknown[],
): Promise<T[]> {
  const connection = em.getConnection();
  await connection.ensureConnection();
  // knex numbers the `?` placeholders ($1, ...); errors keep node-postgres' SQLSTATE `code` (activities/errors.ts).
  const result = await connection.getKnex().raw<{ rows: T[] }>(sql, params as never[]);
  return result.rows;
}

/**
 * Which release owns a notifications row (docs/release-0.md). Release 0 gave each notification a
 * notificationWorkflow of its own (`lifecycle = 1`, outcomes by signal); release 1+ rows belong to
 * their event or campaign workflow (`lifecycle = 2`, outcomes in the row). Code outside src/release-0
 * asks here instead of reading the column: removing release 0 makes every row lean.
 */

/** notifications.lifecycle of a row its event or campaign workflow owns (release 1+). */
export const LEAN_LIFECYCLE = 2;

/** SQL condition on `notifications` for rows of release 1+ (release-0 rows are their own workflows' business). */
export const LEAN_ROWS = `lifecycle = ${LEAN_LIFECYCLE}`;

/** LEAN_ROWS for a query that names the notifications table by an alias (`n.lifecycle = 2`). */
export function leanRowsOf(alias: string): string {
  return `${alias}.${LEAN_ROWS}`;
}

/** True for a row its event or campaign workflow owns; false for a release-0 row or no row at all. */
export function isLeanRow<R extends { lifecycle: number }>(row: R | null | undefined): row is R {
  return row?.lifecycle === LEAN_LIFECYCLE;
}

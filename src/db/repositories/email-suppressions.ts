import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';

/** Why an address is suppressed: a provider's hard bounce or a recipient's spam complaint. */
export type SuppressionReason = 'bounced' | 'complained';

export interface EmailSuppression {
  addressHash: string;
  addressHint: string;
  reason: SuppressionReason;
  source: string;
  notificationId: string | null;
  detail: string | null;
  createdAt: Date;
  liftedAt: Date | null;
  liftedBy: string | null;
}

/** The key of an address: SHA-256 hex of it trimmed and lower-cased (the admission query computes the same in SQL). */
export function emailAddressHash(address: string): string {
  return createHash('sha256')
    .update(address.replace(/^ +| +$/g, '').toLowerCase(), 'utf8')
    .digest('hex');
}

/** `a***@example.com`: enough for an operator to recognise an address, too little to mail it. */
function addressHint(address: string): string {
  const [local, domain] = address.trim().toLowerCase().split('@');
  return domain === undefined ? '***' : `${local.slice(0, 1)}***@${domain}`;
}

/** Suppresses the address (again, if it was lifted); the first reason's row is refreshed with the newest one. */
export async function suppressEmailAddress(
  em: EntityManager,
  input: {
    address: string;
    reason: SuppressionReason;
    source: string;
    notificationId?: string;
    detail?: string;
  },
): Promise<void> {
  await em.getConnection().execute(
    `insert into email_suppressions (address_hash, address_hint, reason, source, notification_id, detail)
     values (?, ?, ?, ?, ?, ?)
     on conflict (address_hash) do update
       set reason = excluded.reason, source = excluded.source, notification_id = excluded.notification_id,
           detail = excluded.detail, created_at = now(), lifted_at = null, lifted_by = null
       where email_suppressions.lifted_at is not null`,
    [
      emailAddressHash(input.address),
      addressHint(input.address),
      input.reason,
      input.source,
      input.notificationId ?? null,
      input.detail?.slice(0, 1000) ?? null,
    ],
  );
}

/** Lifts the suppression of an address; false when it was not suppressed. */
export async function liftEmailSuppression(em: EntityManager, address: string, by: string): Promise<boolean> {
  const rows = await em.getConnection().execute(
    `update email_suppressions set lifted_at = now(), lifted_by = ?
      where address_hash = ? and lifted_at is null returning address_hash`,
    [by, emailAddressHash(address)],
  );
  return rows.length > 0;
}

/** Active suppressions, newest first; with `address`, that address's row (lifted ones too). */
export async function listEmailSuppressions(
  em: EntityManager,
  options: { address?: string; limit: number },
): Promise<EmailSuppression[]> {
  const rows: Record<string, unknown>[] = options.address
    ? await em
        .getConnection()
        .execute(`select * from email_suppressions where address_hash = ?`, [
          emailAddressHash(options.address),
        ])
    : await em
        .getConnection()
        .execute(
          `select * from email_suppressions where lifted_at is null order by created_at desc limit ?`,
          [options.limit],
        );
  return rows.map((row) => ({
    addressHash: row.address_hash as string,
    addressHint: row.address_hint as string,
    reason: row.reason as SuppressionReason,
    source: row.source as string,
    notificationId: (row.notification_id as string | null) ?? null,
    detail: (row.detail as string | null) ?? null,
    createdAt: new Date(row.created_at as string),
    liftedAt: row.lifted_at ? new Date(row.lifted_at as string) : null,
    liftedBy: (row.lifted_by as string | null) ?? null,
  }));
}

/** The SQL expression (over an email column) matching emailAddressHash. */
export const EMAIL_HASH_SQL = (column: string) =>
  `encode(sha256(convert_to(lower(btrim(${column})), 'UTF8')), 'hex')`;

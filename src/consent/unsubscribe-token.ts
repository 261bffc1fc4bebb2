import { createHmac, timingSafeEqual } from 'node:crypto';
import { isChannel, type Channel } from '../domain/channels';

/** What an unsubscribe link stands for: this recipient wants no more of this category on this channel. */
export interface UnsubscribeClaims {
  recipientId: string;
  category: string;
  channel: Channel;
  /** When the link was made (ms since the epoch; the token keeps whole seconds). */
  issuedAtMs: number;
  /** The notification whose message carried the link, when known: its trace shows the unsubscribe. */
  notificationId?: string;
}

/** How links are signed and where they point (config `unsubscribe`). */
export interface UnsubscribeSettings {
  /** HMAC-SHA256 key (UNSUBSCRIBE_SECRET). */
  secret: string;
  /** The API's public origin (PUBLIC_URL): links are `<publicUrl>/unsubscribe/<token>`. */
  publicUrl: string;
  /** How long a link works (UNSUBSCRIBE_TOKEN_TTL_DAYS). */
  ttlMs: number;
}

export type TokenCheck =
  { ok: true; claims: UnsubscribeClaims } | { ok: false; problem: 'malformed' | 'bad signature' | 'expired' };

/** Compact claim names: the token sits in a URL of every marketing email. */
interface WireClaims {
  r: string;
  c: string;
  ch: string;
  iat: number;
  n?: string;
}

const mac = (secret: string, payload: string) =>
  createHmac('sha256', secret).update(payload).digest('base64url');

/** `<base64url JSON claims>.<base64url HMAC-SHA256 of the first part>`. */
export function signUnsubscribeToken(claims: UnsubscribeClaims, secret: string): string {
  const wire: WireClaims = {
    r: claims.recipientId,
    c: claims.category,
    ch: claims.channel,
    iat: Math.floor(claims.issuedAtMs / 1000),
    ...(claims.notificationId ? { n: claims.notificationId } : {}),
  };
  const payload = Buffer.from(JSON.stringify(wire)).toString('base64url');
  return `${payload}.${mac(secret, payload)}`;
}

/** The token's claims when its signature holds and it is younger than ttlMs (a token from the future is malformed). */
export function verifyUnsubscribeToken(
  token: string,
  secret: string,
  ttlMs: number,
  nowMs = Date.now(),
): TokenCheck {
  const [payload, signature, ...rest] = token.split('.');
  if (!payload || !signature || rest.length) return { ok: false, problem: 'malformed' };
  const expected = Buffer.from(mac(secret, payload));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given))
    return { ok: false, problem: 'bad signature' };
  const claims = parseClaims(payload);
  if (!claims || claims.issuedAtMs > nowMs + 60_000) return { ok: false, problem: 'malformed' };
  if (nowMs - claims.issuedAtMs > ttlMs) return { ok: false, problem: 'expired' };
  return { ok: true, claims };
}

function parseClaims(payload: string): UnsubscribeClaims | null {
  try {
    const wire = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<WireClaims>;
    const valid =
      typeof wire.r === 'string' &&
      typeof wire.c === 'string' &&
      isChannel(wire.ch) &&
      Number.isInteger(wire.iat) &&
      (wire.n === undefined || typeof wire.n === 'string');
    if (!valid) return null;
    return {
      recipientId: wire.r!,
      category: wire.c!,
      channel: wire.ch as Channel,
      issuedAtMs: wire.iat! * 1000,
      ...(wire.n ? { notificationId: wire.n } : {}),
    };
  } catch {
    return null;
  }
}

/** The signed https link for these claims, issued now: `<publicUrl>/unsubscribe/<token>`. */
export function signedUnsubscribeUrl(
  settings: UnsubscribeSettings,
  claims: Omit<UnsubscribeClaims, 'issuedAtMs'>,
  nowMs = Date.now(),
): string {
  return unsubscribeUrl(
    settings.publicUrl,
    signUnsubscribeToken({ ...claims, issuedAtMs: nowMs }, settings.secret),
  );
}

/**
 * The RFC 8058 headers of a message: List-Unsubscribe with the signed https link, and
 * List-Unsubscribe-Post so mail clients may unsubscribe with one POST, no page in between.
 */
export function listUnsubscribeHeaders(url: string): Record<string, string> {
  return { 'List-Unsubscribe': `<${url}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
}

export function unsubscribeUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/unsubscribe/${token}`;
}

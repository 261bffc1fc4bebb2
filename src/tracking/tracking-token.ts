import { createHmac, timingSafeEqual } from 'node:crypto';
import { isChannel, type Channel } from '../domain/channels';

/** How tracked links are signed and where they point (config `tracking`; docs/tracking-and-receipts.md). */
export interface TrackingSettings {
  /** HMAC-SHA256 key (TRACKING_SECRET). */
  secret: string;
  /** The API's public origin (PUBLIC_URL): links are `<publicUrl>/r/<token>`, pixels `<publicUrl>/o/<token>.gif`. */
  publicUrl: string;
  /** The open pixel in HTML emails (TRACK_OPENS). */
  opens: boolean;
}

/** A click: which notification's message, on which channel, and where the link goes. */
export interface ClickClaims {
  notificationId: string;
  channel: Channel;
  target: string;
}

export type OpenClaims = Omit<ClickClaims, 'target'>;

/** Compact names: the token sits in every link of every email. */
interface WireClaims {
  n: string;
  ch: string;
  u?: string;
}

/** The purpose is part of the signed data: a pixel's token never works as a redirect, nor the other way round. */
type Purpose = 'click' | 'open';

const mac = (secret: string, purpose: Purpose, payload: string) =>
  createHmac('sha256', secret).update(`${purpose}.${payload}`).digest('base64url');

function sign(secret: string, purpose: Purpose, wire: WireClaims): string {
  const payload = Buffer.from(JSON.stringify(wire)).toString('base64url');
  return `${payload}.${mac(secret, purpose, payload)}`;
}

/** The wire claims when the token's signature holds for this purpose; null when malformed or forged. */
function verify(secret: string, purpose: Purpose, token: string): WireClaims | null {
  const [payload, signature, ...rest] = token.split('.');
  if (!payload || !signature || rest.length) return null;
  const expected = Buffer.from(mac(secret, purpose, payload));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  try {
    const wire = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<WireClaims>;
    if (typeof wire.n !== 'string' || !isChannel(wire.ch)) return null;
    if (wire.u !== undefined && typeof wire.u !== 'string') return null;
    return wire as WireClaims;
  } catch {
    return null;
  }
}

const origin = (settings: TrackingSettings) => settings.publicUrl.replace(/\/+$/, '');

/** The API takes path parameters up to 1000 characters (src/api/app.ts, maxParamLength). */
const MAX_TOKEN_LENGTH = 1000;

/**
 * `<publicUrl>/r/<token>`: records the click, then redirects to the target. Null for a target too long
 * for a token the API would take: that link is sent as it is, untracked.
 */
export function trackedClickUrl(settings: TrackingSettings, claims: ClickClaims): string | null {
  const token = sign(settings.secret, 'click', {
    n: claims.notificationId,
    ch: claims.channel,
    u: claims.target,
  });
  return token.length > MAX_TOKEN_LENGTH ? null : `${origin(settings)}/r/${token}`;
}

/** `<publicUrl>/o/<token>.gif`: the open pixel of one notification's email. */
export function openPixelUrl(settings: TrackingSettings, claims: OpenClaims): string {
  return `${origin(settings)}/o/${sign(settings.secret, 'open', { n: claims.notificationId, ch: claims.channel })}.gif`;
}

/** The click a redirect token stands for; null for anything we did not sign (never redirect there). */
export function verifyClickToken(secret: string, token: string): ClickClaims | null {
  const wire = verify(secret, 'click', token);
  if (!wire?.u || !isHttpUrl(wire.u)) return null;
  return { notificationId: wire.n, channel: wire.ch as Channel, target: wire.u };
}

export function verifyOpenToken(secret: string, token: string): OpenClaims | null {
  const wire = verify(secret, 'open', token);
  return wire ? { notificationId: wire.n, channel: wire.ch as Channel } : null;
}

/** Only absolute http(s) links are tracked and redirected to. */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

import { createHmac, timingSafeEqual } from 'node:crypto';
import { STRICT_OUTBOUND_POLICY, type OutboundPolicy } from '../../domain/outbound-url';
import { guardedRequest, type LookupFunction } from './guarded-request';
import {
  PermanentDeliveryError,
  type ChannelProvider,
  type OutgoingMessage,
  type ProviderReceipt,
} from './provider';

export const WEBHOOK_TIMESTAMP_HEADER = 'X-Notification-Timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'X-Notification-Signature';
export const WEBHOOK_ID_HEADER = 'X-Notification-Id';

export interface WebhookProviderOptions {
  /**
   * HMAC-SHA256 key of the tenant's default URL, and of recipients' endpoints stored before they had
   * secrets of their own. Required, no default.
   */
  secret: string;
  /** The tenant's URL, used when the recipient has no webhookUrl of its own. @defaultValue undefined (no fallback) */
  defaultUrl?: string;
  /** Deadline for the whole request, response body included. @defaultValue 5000 */
  timeoutMs?: number;
  /** Which URLs may be called (scheme, addresses). @defaultValue STRICT_OUTBOUND_POLICY (https, public addresses) */
  policy?: OutboundPolicy;
  /** Resolver (tests). @defaultValue dns.lookup */
  lookup?: LookupFunction;
}

/**
 * Signature header value for a delivery: `v1=` + hex HMAC-SHA256(secret, `${id}.${timestamp}.${body}`),
 * one comma-separated `v1=` value per secret (two while an endpoint's secret is being rotated).
 * `body` must be the exact bytes sent / received (verify the raw body, not re-serialised JSON).
 */
export function signWebhook(
  secrets: string | string[],
  id: string,
  timestamp: number | string,
  body: string | Buffer,
): string {
  return (Array.isArray(secrets) ? secrets : [secrets])
    .map(
      (secret) =>
        `v1=${createHmac('sha256', secret).update(`${id}.${timestamp}.`).update(body).digest('hex')}`,
    )
    .join(',');
}

type HeaderBag = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderBag, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  const value = key === undefined ? undefined : headers[key];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Receiver side: true when a signature matches id, timestamp and raw body, and the timestamp is within
 * toleranceSec of now (replay window). Several comma-separated `v1=` values are accepted (any may match).
 */
export function verifyWebhookSignature(
  secret: string,
  headers: HeaderBag,
  body: string | Buffer,
  toleranceSec = 300,
  nowMs: number = Date.now(),
): boolean {
  const id = header(headers, WEBHOOK_ID_HEADER)?.trim();
  const timestamp = header(headers, WEBHOOK_TIMESTAMP_HEADER)?.trim();
  const signatures = header(headers, WEBHOOK_SIGNATURE_HEADER);
  if (!id || !timestamp || !/^\d+$/.test(timestamp) || !signatures) return false;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceSec) return false;
  const expected = Buffer.from(signWebhook(secret, id, timestamp, body).slice(3), 'hex');
  return signatures.split(',').some((part) => {
    const m = /^v1=([0-9a-f]{64})$/i.exec(part.trim());
    return m !== null && timingSafeEqual(Buffer.from(m[1], 'hex'), expected);
  });
}

/** Signed JSON POST to the recipient's (or tenant's) endpoint. */
export class WebhookProvider implements ChannelProvider<'webhook'> {
  readonly channel = 'webhook' as const;
  readonly name = 'http-webhook';
  private readonly timeoutMs: number;
  private readonly policy: OutboundPolicy;

  constructor(private readonly options: WebhookProviderOptions) {
    if (!options.secret) throw new Error('WebhookProvider: options.secret is required');
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.policy = options.policy ?? STRICT_OUTBOUND_POLICY;
  }

  async send(message: OutgoingMessage<'webhook'>): Promise<ProviderReceipt> {
    const own = message.recipient.webhookUrl;
    const url = own || this.options.defaultUrl;
    if (!url)
      throw new PermanentDeliveryError('recipient has no webhook URL and no default URL is configured');
    // The endpoint's own secrets (two during a rotation); the tenant secret for the default URL and for endpoints stored before per-endpoint secrets.
    const secrets =
      own && message.recipient.webhookSecrets?.length
        ? message.recipient.webhookSecrets
        : [this.options.secret];

    const body = JSON.stringify(message.content.payload);
    // Fresh timestamp per attempt: a retry is a new signed request, the notification id dedupes it.
    const timestamp = Math.floor(Date.now() / 1000);
    await guardedRequest(this.name, url, this.policy, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [WEBHOOK_TIMESTAMP_HEADER]: String(timestamp),
        [WEBHOOK_SIGNATURE_HEADER]: signWebhook(secrets, message.notificationId, timestamp, body),
        [WEBHOOK_ID_HEADER]: message.notificationId,
        'Idempotency-Key': message.idempotencyKey,
      },
      body,
      timeoutMs: this.timeoutMs,
      lookup: this.options.lookup,
    });
    return {};
  }
}

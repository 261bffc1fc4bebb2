import { createHash } from 'node:crypto';
import * as webpush from 'web-push';
import { DEFAULT_PUSH_HOSTS, type OutboundPolicy } from '../../domain/outbound-url';
import type { ActionLinkTracker } from '../../tracking/email-tracking';
import { guardedRequest, type LookupFunction } from './guarded-request';
import {
  PermanentDeliveryError,
  ProviderRateLimitedError,
  type ChannelProvider,
  type OutgoingMessage,
  type ProviderReceipt,
  type PushSubscriptionRecord,
} from './provider';

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
}

/** A fresh VAPID key pair (URL-safe base64). Generate once per deployment and keep it: subscriptions are bound to the public key. */
export function generateVapidKeys(): VapidKeys {
  return webpush.generateVAPIDKeys();
}

export interface WebPushProviderOptions {
  /** VAPID identity: subject is a mailto: or https: URL the push service can contact. Required, no default. */
  vapid: { subject: string; publicKey: string; privateKey: string };
  /** Seconds the push service keeps a message for an offline device. @defaultValue 86400 (a day; older shop notifications are noise) */
  ttlSeconds?: number;
  /** Urgency header, a hint for the device's power management. @defaultValue 'normal' */
  urgency?: webpush.Urgency;
  /** Deadline per subscription request, response body included. @defaultValue 10000 */
  timeoutMs?: number;
  /**
   * Which endpoints may be called: subscriptions are shopper-supplied.
   * @defaultValue https, public addresses, hosts of DEFAULT_PUSH_HOSTS (the browsers' push services)
   */
  policy?: OutboundPolicy;
  /** Puts the notification's url through the click redirect (docs/tracking-and-receipts.md). @defaultValue as it is */
  trackLink?: ActionLinkTracker;
  /** Resolver (tests). @defaultValue dns.lookup */
  lookup?: LookupFunction;
}

/** Every subscription refused for good; carries the gone endpoints so the caller can still delete them. */
export class PushSubscriptionsRejectedError extends PermanentDeliveryError {
  constructor(
    message: string,
    readonly expiredPushEndpoints: string[],
    statusCode?: number,
  ) {
    super(message, statusCode);
  }
}

type Outcome = { kind: 'sent'; location?: string } | { kind: 'expired' } | { kind: 'failed'; error: unknown };

/**
 * Web Push (RFC 8030/8291/8292) to each of the recipient's browser subscriptions. web-push does the
 * encryption and VAPID signing (generateRequestDetails); the POST goes through fetch so timeouts and
 * status handling match the other adapters (web-push's own sender is https-only, with a socket-idle timeout).
 */
export class WebPushProvider implements ChannelProvider<'push'> {
  readonly channel = 'push' as const;
  readonly name = 'web-push';
  private readonly ttlSeconds: number;
  private readonly urgency: webpush.Urgency;
  private readonly timeoutMs: number;
  private readonly policy: OutboundPolicy;

  constructor(private readonly options: WebPushProviderOptions) {
    const { subject, publicKey, privateKey } = options.vapid;
    // Fail at startup on bad VAPID config, rather than on every send (where it would look transient).
    webpush.getVapidHeaders('https://push.example', subject, publicKey, privateKey, 'aes128gcm');
    this.ttlSeconds = options.ttlSeconds ?? 86_400;
    this.urgency = options.urgency ?? 'normal';
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.policy = options.policy ?? { allowHttp: false, allowedCidrs: [], allowedHosts: DEFAULT_PUSH_HOSTS };
  }

  async send(message: OutgoingMessage<'push'>): Promise<ProviderReceipt> {
    const subscriptions = message.recipient.pushSubscriptions ?? [];
    if (subscriptions.length === 0) throw new PermanentDeliveryError('recipient has no push subscription');

    const { title, body } = message.content;
    const url =
      message.content.url && this.options.trackLink
        ? this.options.trackLink(message.notificationId, 'push', message.content.url)
        : message.content.url;
    const payload = JSON.stringify({ title, body, url, notificationId: message.notificationId });
    // Same Topic on a retry makes the push service replace a still-queued copy instead of adding a second one.
    const topic = createHash('sha256').update(message.idempotencyKey).digest('base64url').slice(0, 32);
    const outcomes = await Promise.all(subscriptions.map((s) => this.sendOne(s, payload, topic)));

    const expired = subscriptions.filter((_, i) => outcomes[i].kind === 'expired').map((s) => s.endpoint);
    const sent = outcomes.find((o) => o.kind === 'sent');
    // One device reached is a delivery; retrying would duplicate it there.
    if (sent)
      return { providerMessageId: sent.location, expiredPushEndpoints: expired.length ? expired : undefined };

    const errors = outcomes.flatMap((o) => (o.kind === 'failed' ? [o.error] : []));
    if (errors.length === 0)
      throw new PushSubscriptionsRejectedError('all push subscriptions expired', expired, 410);
    const limited = errors.filter(
      (e): e is ProviderRateLimitedError => e instanceof ProviderRateLimitedError,
    );
    if (limited.length) throw limited.reduce((a, b) => (b.retryAfterMs > a.retryAfterMs ? b : a));
    const transient = errors.find((e) => !(e instanceof PermanentDeliveryError));
    if (transient) throw transient;
    const first = errors[0] as PermanentDeliveryError;
    throw new PushSubscriptionsRejectedError(first.message, expired, first.statusCode);
  }

  private async sendOne(
    subscription: PushSubscriptionRecord,
    payload: string,
    topic: string,
  ): Promise<Outcome> {
    let details: webpush.RequestDetails;
    try {
      details = webpush.generateRequestDetails(subscription, payload, {
        vapidDetails: this.options.vapid,
        TTL: this.ttlSeconds,
        urgency: this.urgency,
        topic,
        contentEncoding: 'aes128gcm',
      });
    } catch (err) {
      // VAPID was validated up front, so this is a malformed subscription (bad endpoint or keys).
      return {
        kind: 'failed',
        error: new PermanentDeliveryError(`invalid push subscription: ${(err as Error).message}`),
      };
    }
    // web-push puts numbers in some header values; Node computes Content-Length itself.
    const headers = Object.fromEntries(
      Object.entries(details.headers)
        .filter(([k]) => k.toLowerCase() !== 'content-length')
        .map(([k, v]) => [k, String(v)]),
    );
    try {
      const res = await guardedRequest(this.name, details.endpoint, this.policy, {
        method: 'POST',
        headers,
        body: details.body ?? undefined,
        timeoutMs: this.timeoutMs,
        lookup: this.options.lookup,
      });
      return { kind: 'sent', location: res.headers.get('location') ?? undefined };
    } catch (error) {
      // 404/410: the browser unsubscribed; the subscription will never work again.
      if (error instanceof PermanentDeliveryError && (error.statusCode === 404 || error.statusCode === 410)) {
        return { kind: 'expired' };
      }
      return { kind: 'failed', error };
    }
  }
}

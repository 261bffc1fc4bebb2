import { providerRequest } from './http-errors';
import {
  PermanentDeliveryError,
  type ChannelProvider,
  type OutgoingMessage,
  type ProviderReceipt,
} from './provider';

export interface TwilioSmsProviderOptions {
  /** Twilio API origin; point it at a stand-in in tests. @defaultValue 'https://api.twilio.com' */
  baseUrl?: string;
  /** Account SID (AC…), also the basic-auth user. Required, no default. */
  accountSid: string;
  /** Auth token, the basic-auth password. Required, no default. */
  authToken: string;
  /** Sender: an E.164 number / alphanumeric id (sent as `From`), or a Messaging Service SID MG… (sent as `MessagingServiceSid`). Required, no default. */
  from: string;
  /** Deadline for the whole request, response body included. @defaultValue 10000 */
  timeoutMs?: number;
  /** Where Twilio posts the message's status (`<PUBLIC_URL>/api/webhooks/twilio/status`); absent: no receipts. */
  statusCallbackUrl?: string;
}

/** The route of Twilio's status callbacks (docs/contracts.md, "Environment": PUBLIC_URL). */
export const TWILIO_STATUS_PATH = '/api/webhooks/twilio/status';

const MESSAGING_SERVICE_SID = /^MG[0-9a-f]{32}$/i;

/** SMS through Twilio's Messages REST API. */
export class TwilioSmsProvider implements ChannelProvider<'sms'> {
  readonly channel = 'sms' as const;
  readonly name = 'twilio';
  readonly receipts: boolean;
  private readonly url: string;
  private readonly authorization: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: TwilioSmsProviderOptions) {
    for (const key of ['accountSid', 'authToken', 'from'] as const) {
      if (!options[key]) throw new Error(`TwilioSmsProvider: options.${key} is required`);
    }
    const base = (options.baseUrl ?? 'https://api.twilio.com').replace(/\/+$/, '');
    this.url = `${base}/2010-04-01/Accounts/${encodeURIComponent(options.accountSid)}/Messages.json`;
    this.authorization = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.receipts = !!options.statusCallbackUrl;
  }

  async send(message: OutgoingMessage<'sms'>): Promise<ProviderReceipt> {
    const to = message.recipient.phone?.trim();
    if (!to) throw new PermanentDeliveryError('recipient has no phone number');
    const { from } = this.options;
    const form = new URLSearchParams({ To: to, Body: message.content.text });
    form.set(MESSAGING_SERVICE_SID.test(from) ? 'MessagingServiceSid' : 'From', from);
    // The notification id rides in the callback URL, which Twilio's signature covers.
    if (this.options.statusCallbackUrl)
      form.set('StatusCallback', statusCallbackFor(this.options.statusCallbackUrl, message.notificationId));

    const res = await providerRequest(
      this.name,
      this.url,
      {
        method: 'POST',
        headers: {
          authorization: this.authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          // Twilio drops a repeat of the same token, so a retry after a lost response does not double-send.
          'I-Twilio-Idempotency-Token': message.idempotencyKey,
        },
        body: form.toString(),
      },
      this.timeoutMs,
    );
    return { providerMessageId: sidOf(res.body) };
  }
}

function statusCallbackFor(base: string, notificationId: string): string {
  const url = new URL(base);
  url.searchParams.set('n', notificationId);
  return url.toString();
}

/** The message SID from a 2xx body; the message was accepted even if the body is odd, so never throw here. */
function sidOf(body: string): string | undefined {
  try {
    const sid = (JSON.parse(body) as { sid?: unknown }).sid;
    return typeof sid === 'string' ? sid : undefined;
  } catch {
    return undefined;
  }
}

import { Errors, ServerClient } from 'postmark';
import { listUnsubscribeHeaders } from '../../consent/unsubscribe-token';
import { outgoingEmailBody, type EmailSendTimeSettings } from './email-body';
import {
  PermanentDeliveryError,
  ProviderRateLimitedError,
  type ChannelProvider,
  type OutgoingMessage,
  type ProviderReceipt,
} from './provider';

export interface PostmarkEmailProviderOptions extends EmailSendTimeSettings {
  /** Postmark's API origin (POSTMARK_API_URL); a stand-in's in tests. @defaultValue 'https://api.postmarkapp.com' */
  apiUrl?: string;
  /** The server's API token (POSTMARK_SERVER_TOKEN). Required. */
  serverToken: string;
  /** Message stream (POSTMARK_MESSAGE_STREAM). @defaultValue 'outbound' */
  messageStream?: string;
  from: string;
  /** Deadline of one API call in ms. @defaultValue 10000 */
  timeoutMs?: number;
}

/** How long to pause the queue after Postmark's 429 (it sends no Retry-After). */
const RATE_LIMIT_PAUSE_MS = 30_000;

/**
 * Email through Postmark's HTTP API with its official SDK. Postmark reports delivery, bounces and
 * spam complaints later by webhook (src/api/routes/postmark-webhooks.ts), so acceptance is `sent`
 * only; the message carries the notification id as metadata, which every receipt echoes.
 */
export class PostmarkEmailProvider implements ChannelProvider<'email'> {
  readonly channel = 'email' as const;
  readonly name = 'postmark';
  readonly receipts = true;
  private readonly client: ServerClient;

  constructor(private readonly options: PostmarkEmailProviderOptions) {
    if (!options.serverToken) throw new Error('PostmarkEmailProvider: options.serverToken is required');
    const api = new URL(options.apiUrl ?? 'https://api.postmarkapp.com');
    this.client = new ServerClient(options.serverToken, {
      useHttps: api.protocol === 'https:',
      requestHost: api.host,
      timeout: Math.max(1, Math.ceil((options.timeoutMs ?? 10_000) / 1000)),
    });
  }

  async send(message: OutgoingMessage<'email'>): Promise<ProviderReceipt> {
    const to = message.recipient.email;
    if (!to) throw new PermanentDeliveryError('recipient has no email address');
    const { html, text, unsubscribeLink } = outgoingEmailBody(message, this.options);
    const headers = {
      'X-Notification-Id': message.notificationId,
      ...(unsubscribeLink ? listUnsubscribeHeaders(unsubscribeLink) : {}),
    };
    try {
      const answer = await this.client.sendEmail({
        From: this.options.from,
        To: to,
        Subject: message.content.subject,
        HtmlBody: html,
        TextBody: text,
        MessageStream: this.options.messageStream ?? 'outbound',
        Headers: Object.entries(headers).map(([Name, Value]) => ({ Name, Value })),
        Metadata: { notificationId: message.notificationId },
        // Our own redirect and pixel track (docs/tracking-and-receipts.md); Postmark's would count twice.
        TrackOpens: false,
      });
      return { providerMessageId: answer.MessageID };
    } catch (err) {
      throw classified(err);
    }
  }
}

/**
 * Postmark's answer as our error kinds: 422 (a bad or inactive address, a refused message) is
 * permanent, 429 pauses the queue, the rest (5xx, network, a token Postmark refuses) is retried.
 */
function classified(err: unknown): unknown {
  if (!(err instanceof Errors.PostmarkError)) return err;
  if (err.statusCode === 422)
    return new PermanentDeliveryError(`Postmark ${err.code}: ${err.message}`, err.statusCode);
  if (err.statusCode === 429)
    return new ProviderRateLimitedError(`Postmark: ${err.message}`, RATE_LIMIT_PAUSE_MS);
  return err;
}

import { connect, type Socket } from 'node:net';
import nodemailer, { type Transporter } from 'nodemailer';
import { listUnsubscribeHeaders } from '../../consent/unsubscribe-token';
import { outgoingEmailBody, type EmailSendTimeSettings } from './email-body';
import {
  PermanentDeliveryError,
  type ChannelProvider,
  type OutgoingMessage,
  type ProviderReceipt,
} from './provider';

export interface SmtpEmailProviderOptions extends EmailSendTimeSettings {
  /** smtp:// or smtps:// URL, credentials included. */
  url: string;
  /** From header. */
  from: string;
  /** Pooled connections kept open. Default 5. */
  maxConnections?: number;
  /** Socket timeout in ms. Default 30000. */
  timeoutMs?: number;
}

/** Email over SMTP with pooled connections. */
export class SmtpEmailProvider implements ChannelProvider<'email'> {
  readonly channel = 'email' as const;
  readonly name = 'smtp';
  private readonly transport: Transporter;
  private readonly domain: string;

  constructor(private readonly options: SmtpEmailProviderOptions) {
    const url = new URL(options.url);
    const port = Number(url.port || (url.protocol === 'smtps:' ? 465 : 25));
    this.transport = nodemailer.createTransport({
      pool: true,
      host: url.hostname,
      port,
      secure: url.protocol === 'smtps:',
      auth: url.username
        ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
        : undefined,
      maxConnections: options.maxConnections ?? 5,
      connectionTimeout: options.timeoutMs ?? 30_000,
      socketTimeout: options.timeoutMs ?? 30_000,
      // Local mail catchers and test peers speak plain SMTP.
      ignoreTLS: url.hostname === '127.0.0.1' || url.hostname === 'localhost',
      getSocket: connectWithoutNagle(url.hostname, port, options.timeoutMs ?? 30_000),
    });
    this.domain = /@([^>\s]+)/.exec(options.from)?.[1] ?? 'notifications.local';
  }

  async send(message: OutgoingMessage<'email'>): Promise<ProviderReceipt> {
    const to = message.recipient.email;
    if (!to) throw new PermanentDeliveryError('recipient has no email address');
    const { html, text, unsubscribeLink: link } = outgoingEmailBody(message, this.options);
    try {
      const info = await this.transport.sendMail({
        from: this.options.from,
        to,
        subject: message.content.subject,
        html,
        text,
        // Deterministic Message-ID: a resend after a crash is recognisable as the same message downstream.
        messageId: `<${message.idempotencyKey}@${this.domain}>`,
        headers: {
          'X-Notification-Id': message.notificationId,
          ...(link ? listUnsubscribeHeaders(link) : {}),
        },
      });
      return { providerMessageId: info.messageId };
    } catch (err) {
      const code = (err as { responseCode?: number }).responseCode;
      // 5xx replies are permanent (unknown mailbox, policy); 4xx and connection errors are worth retrying.
      if (code && code >= 500)
        throw new PermanentDeliveryError(`SMTP ${code}: ${(err as Error).message}`, code);
      throw err;
    }
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

type SocketCallback = (err: Error | null, socketOptions?: { connection: Socket }) => void;

/**
 * Opens the pool's TCP connections with Nagle's algorithm off; nodemailer adds TLS on top (smtps or
 * STARTTLS). With Nagle on, the end-of-DATA line waits for the server to ACK the body, which servers
 * delay by ~40 ms: a pooled connection stalls at ~25 messages/s (measured by bench/delivery-throughput.ts).
 */
function connectWithoutNagle(
  host: string,
  port: number,
  timeoutMs: number,
): (options: unknown, done: SocketCallback) => void {
  return (_options, done) => {
    const socket = connect({ host, port, noDelay: true, timeout: timeoutMs });
    const fail = (err: Error) => {
      socket.destroy();
      done(err);
    };
    const timedOut = () =>
      fail(new Error(`SMTP connection to ${host}:${port} timed out after ${timeoutMs}ms`));
    socket.once('error', fail);
    socket.once('timeout', timedOut);
    socket.once('connect', () => {
      socket.off('error', fail).off('timeout', timedOut).setTimeout(0);
      done(null, { connection: socket });
    });
  };
}

import type { Cluster, Redis } from 'ioredis';
import type { Config } from '../../config';
import type { Channel } from '../../domain/channels';
import type { Orm } from '../../db/orm';
import { actionLinkTracker } from '../../tracking/email-tracking';
import { InAppProvider } from './in-app-provider';
import type { ChannelProvider } from './provider';
import { PostmarkEmailProvider } from './postmark-email-provider';
import { SmtpEmailProvider } from './smtp-email-provider';
import { TWILIO_STATUS_PATH, TwilioSmsProvider } from './twilio-sms-provider';
import { WebhookProvider } from './webhook-provider';
import { WebPushProvider } from './web-push-provider';

/** Picks one adapter per channel from config; a channel without provider settings gets none. */
export function createProviders(
  config: Config,
  orm: Orm,
  publisher: Redis | Cluster,
): Partial<Record<Channel, ChannelProvider>> {
  const trackLink = actionLinkTracker(config.tracking, config.shop.url);
  const providers: Partial<Record<Channel, ChannelProvider>> = {
    in_app: new InAppProvider(orm, publisher, config.queuePrefix, trackLink),
    email: emailProvider(config),
  };
  const { twilio, webPush, webhook } = config.providers;
  const timeoutMs = config.httpProviderTimeoutMs;
  if (twilio)
    providers.sms = new TwilioSmsProvider({
      ...twilio,
      timeoutMs,
      statusCallbackUrl: `${config.publicUrl}${TWILIO_STATUS_PATH}`,
    });
  if (webPush)
    providers.push = new WebPushProvider({
      vapid: webPush,
      timeoutMs,
      policy: config.outbound.push,
      trackLink,
    });
  if (webhook)
    providers.webhook = new WebhookProvider({
      ...webhook,
      timeoutMs: Math.min(5_000, timeoutMs),
      policy: config.outbound.webhook,
    });
  return providers;
}

/** EMAIL_PROVIDER: SMTP, or Postmark's HTTP API; both sign unsubscribe links and track at send time. */
function emailProvider(config: Config): ChannelProvider<'email'> {
  const sendTime = { unsubscribe: config.unsubscribe, tracking: config.tracking };
  const { postmark } = config.providers;
  if (config.emailProvider === 'postmark' && postmark)
    return new PostmarkEmailProvider({
      ...sendTime,
      apiUrl: postmark.apiUrl,
      serverToken: postmark.serverToken,
      messageStream: postmark.messageStream,
      from: config.emailFrom,
      timeoutMs: config.httpProviderTimeoutMs,
    });
  return new SmtpEmailProvider({
    ...sendTime,
    url: config.smtpUrl,
    from: config.emailFrom,
    timeoutMs: config.smtpTimeoutMs,
  });
}

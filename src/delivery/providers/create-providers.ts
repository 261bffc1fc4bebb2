import type { Redis } from 'ioredis';
import type { Config } from '../../config';
import type { Channel } from '../../domain/channels';
import type { Orm } from '../../db/orm';
import { InAppProvider } from './in-app-provider';
import type { ChannelProvider } from './provider';
import { SmtpEmailProvider } from './smtp-email-provider';
import { TwilioSmsProvider } from './twilio-sms-provider';
import { WebhookProvider } from './webhook-provider';
import { WebPushProvider } from './web-push-provider';

/** Picks one adapter per channel from config; a channel without provider settings gets none. */
export function createProviders(
  config: Config,
  orm: Orm,
  publisher: Redis,
): Partial<Record<Channel, ChannelProvider>> {
  const providers: Partial<Record<Channel, ChannelProvider>> = {
    in_app: new InAppProvider(orm, publisher, config.queuePrefix),
    email: new SmtpEmailProvider({
      url: config.smtpUrl,
      from: config.emailFrom,
      timeoutMs: config.smtpTimeoutMs,
      unsubscribe: config.unsubscribe,
    }),
  };
  const { twilio, webPush, webhook } = config.providers;
  const timeoutMs = config.httpProviderTimeoutMs;
  if (twilio) providers.sms = new TwilioSmsProvider({ ...twilio, timeoutMs });
  if (webPush)
    providers.push = new WebPushProvider({ vapid: webPush, timeoutMs, policy: config.outbound.push });
  if (webhook)
    providers.webhook = new WebhookProvider({
      ...webhook,
      timeoutMs: Math.min(5_000, timeoutMs),
      policy: config.outbound.webhook,
    });
  return providers;
}

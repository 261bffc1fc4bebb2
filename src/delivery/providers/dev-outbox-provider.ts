import { randomUUID } from 'node:crypto';
import type { Channel } from '../../domain/channels';
import type { ChannelProvider, OutgoingMessage, ProviderReceipt } from './provider';

/**
 * Dev mode only: stands in for a provider that has no credentials configured (SMS, push, webhook),
 * printing what would have been sent, so every channel completes on a laptop.
 */
export class DevOutboxProvider implements ChannelProvider {
  readonly name = 'dev-outbox';

  constructor(
    readonly channel: Channel,
    private readonly print: (line: string) => void,
  ) {}

  async send(message: OutgoingMessage): Promise<ProviderReceipt> {
    const to = {
      sms: message.recipient.phone,
      push: `${message.recipient.pushSubscriptions?.length ?? 0} subscription(s)`,
      webhook: message.recipient.webhookUrl,
    }[message.channel as 'sms' | 'push' | 'webhook'];
    this.print(
      `${message.channel} to ${message.recipient.id} (${to ?? 'no address'}): ${JSON.stringify(message.content)}`,
    );
    return { providerMessageId: `dev-${randomUUID()}` };
  }
}

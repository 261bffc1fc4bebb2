/** Every delivery channel the service knows. One queue and one worker per channel. */
export const CHANNELS = ['in_app', 'email', 'sms', 'push', 'webhook'] as const;
export type Channel = (typeof CHANNELS)[number];

export function isChannel(value: unknown): value is Channel {
  return typeof value === 'string' && (CHANNELS as readonly string[]).includes(value);
}

/** BullMQ queue name of a channel, fixed by docs/contracts.md. */
export function queueNameFor(channel: Channel): string {
  return `send-${channel}`;
}

/** BullMQ job id of one channel send; BullMQ refuses ':' in custom ids. */
export function sendJobId(notificationId: string, channel: Channel): string {
  return `${notificationId}.${channel}`;
}

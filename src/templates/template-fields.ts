import type { Channel } from '../domain/channels';

/** Channels rendered from templates; webhook payloads are the event itself. */
export type TemplatedChannel = Exclude<Channel, 'webhook'>;

/**
 * Content fields each channel's template must have (others may be added, e.g. actionText, actionUrl).
 * An email's `text` is optional: without one, the text part is derived from `html` (src/templates/email-layout.ts).
 */
export const REQUIRED_TEMPLATE_FIELDS: Record<TemplatedChannel, string[]> = {
  in_app: ['title', 'body'],
  email: ['subject', 'html'],
  sms: ['text'],
  push: ['title', 'body'],
};

export const TEMPLATED_CHANNELS = Object.keys(REQUIRED_TEMPLATE_FIELDS) as TemplatedChannel[];

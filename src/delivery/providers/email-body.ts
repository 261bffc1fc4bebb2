import { fillUnsubscribeLink } from '../../consent/unsubscribe-link';
import { signedUnsubscribeUrl, type UnsubscribeSettings } from '../../consent/unsubscribe-token';
import { trackEmail } from '../../tracking/email-tracking';
import type { TrackingSettings } from '../../tracking/tracking-token';
import type { OutgoingMessage } from './provider';

/** What every email provider adds at send time to the stored content (signed per notification). */
export interface EmailSendTimeSettings {
  /** Signs the List-Unsubscribe links of emails whose content names an unsubscribeCategory; absent: no such links. */
  unsubscribe?: UnsubscribeSettings | null;
  /** Tracked links and the open pixel (docs/tracking-and-receipts.md); absent: links as rendered. */
  tracking?: TrackingSettings | null;
}

/**
 * The HTML and text that go out, and the unsubscribe link for List-Unsubscribe: links through the
 * signed redirect first (the unsubscribe placeholder is left alone), then the footer's placeholder
 * filled with the same URL as the header (the stored content holds a placeholder, docs/consent.md).
 */
export function outgoingEmailBody(
  message: OutgoingMessage<'email'>,
  settings: EmailSendTimeSettings,
): { html: string; text: string; unsubscribeLink: string | null } {
  const link = unsubscribeLink(message, settings.unsubscribe);
  const tracked = settings.tracking
    ? trackEmail(message.content, settings.tracking, message.notificationId)
    : message.content;
  const { html, text } = fillUnsubscribeLink(tracked, link);
  return { html, text, unsubscribeLink: link };
}

/** A marketing email's signed unsubscribe link: it names recipient, category, channel and this notification. */
function unsubscribeLink(
  message: OutgoingMessage<'email'>,
  settings: UnsubscribeSettings | null | undefined,
): string | null {
  const category = message.content.unsubscribeCategory;
  if (!category || !settings) return null;
  return signedUnsubscribeUrl(settings, {
    recipientId: message.recipient.id,
    category,
    channel: 'email',
    notificationId: message.notificationId,
  });
}

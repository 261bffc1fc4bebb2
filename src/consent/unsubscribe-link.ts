/**
 * The footer's unsubscribe link of marketing emails (docs/consent.md). The layout is filled at render
 * time, before the notification has its id and without the signing secret, so it writes this fixed
 * placeholder; the SMTP provider puts the signed link there at send time, the same URL as in
 * List-Unsubscribe. Stored content keeps the placeholder, never a token. The `.invalid` top-level
 * domain (RFC 2606) never resolves, and the layout strips the placeholder from the template's own
 * output, so it occurs only where the layout put it.
 */
export const UNSUBSCRIBE_LINK_PLACEHOLDER = 'https://unsubscribe-link.invalid/placeholder';

/** The text with every occurrence of the placeholder removed (a template's output may not forge it). */
export function withoutPlaceholder(text: string): string {
  return text.split(UNSUBSCRIBE_LINK_PLACEHOLDER).join('');
}

const escapeAttribute = (url: string) =>
  url.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The footer's link (with its separator) in the layout's HTML, and its line in the text part. */
const PATTERN = UNSUBSCRIBE_LINK_PLACEHOLDER.replace(/[.]/g, '\\.');
const HTML_LINK = new RegExp(`(?: · )?<a [^>]*href="${PATTERN}"[^>]*>[^<]*</a>`, 'g');
const TEXT_LINE = new RegExp(`^.*${PATTERN}.*(?:\\r?\\n|$)`, 'gm');

/**
 * The email's HTML and text with the placeholder replaced by `url`, or, without a URL (links off, or
 * an email carrying no category), with the footer's unsubscribe link left out.
 */
export function fillUnsubscribeLink<T extends { html: string; text: string }>(
  content: T,
  url: string | null,
): T {
  if (
    !content.html.includes(UNSUBSCRIBE_LINK_PLACEHOLDER) &&
    !content.text.includes(UNSUBSCRIBE_LINK_PLACEHOLDER)
  )
    return content;
  if (url === null)
    return {
      ...content,
      html: withoutPlaceholder(content.html.replace(HTML_LINK, '')),
      text: withoutPlaceholder(content.text.replace(TEXT_LINE, '')),
    };
  return {
    ...content,
    html: content.html.split(UNSUBSCRIBE_LINK_PLACEHOLDER).join(escapeAttribute(url)),
    text: content.text.split(UNSUBSCRIBE_LINK_PLACEHOLDER).join(url),
  };
}

/**
 * Links shown to recipients (action URLs, push URLs, links in email HTML) are https, http or relative:
 * never javascript:, data:, vbscript: and the like, which run in the reader's browser or mail client.
 * Checked without `new URL` so the workflow sandbox can use it too.
 */

/** What browsers ignore when they read a URL's scheme: leading C0 controls and spaces, tabs and newlines anywhere. */
// eslint-disable-next-line no-control-regex -- control characters are what this pattern looks for
const IGNORED = /^[\u0000-\u0020]+|[\t\n\r]/g;
const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;

export const SAFE_LINK_MESSAGE = 'must be an https or http URL, or a relative path';

/** True for https://..., http://..., /path, path, ?query and #fragment; false for any other scheme. */
export function isSafeLink(value: string): boolean {
  const scheme = SCHEME.exec(value.replace(IGNORED, ''));
  return !scheme || ['http', 'https'].includes(scheme[1].toLowerCase());
}

/** The link when it is safe, else undefined: the render-time defence for data that skipped the door. */
export function safeLinkOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' && isSafeLink(value) ? value : undefined;
}

/** `href`, `src`, `action` and `formaction` attribute values of an HTML text, entities decoded as a browser would. */
const LINK_ATTRIBUTE =
  /\s(?:href|src|action|formaction|xlink:href)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi;

const codePoint = (n: number) => (n <= 0x10ffff ? String.fromCodePoint(n) : '');

function decodeEntities(value: string): string {
  return value
    .replace(/&#x([0-9a-f]{1,8});?/gi, (_, hex: string) => codePoint(parseInt(hex, 16)))
    .replace(/&#(\d{1,8});?/g, (_, dec: string) => codePoint(Number(dec)))
    .replace(/&colon;/gi, ':')
    .replace(/&tab;/gi, '\t')
    .replace(/&newline;/gi, '\n');
}

/** The first unsafe link attribute value in an HTML text (decoded), or null. */
export function unsafeHtmlLink(html: string): string | null {
  for (const m of html.matchAll(LINK_ATTRIBUTE)) {
    const value = decodeEntities(m[1] ?? m[2] ?? m[3] ?? '');
    if (!isSafeLink(value)) return value;
  }
  return null;
}

/** HTML with every unsafe link attribute value replaced by `#`. */
export function withSafeHtmlLinks(html: string): string {
  return html.replace(LINK_ATTRIBUTE, (attribute: string, dq?: string, sq?: string, bare?: string) => {
    const value = dq ?? sq ?? bare ?? '';
    if (isSafeLink(decodeEntities(value))) return attribute;
    return (
      attribute.slice(0, attribute.lastIndexOf(value)) +
      '#' +
      attribute.slice(attribute.lastIndexOf(value) + value.length)
    );
  });
}

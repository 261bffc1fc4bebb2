/**
 * An action link the list may render: http(s) or relative (the API already refuses anything else;
 * this keeps a javascript: or data: URL out of an href even if one slipped through). Relative links
 * are the shop's (`/profile/orders/9`): resolved against `linkBase` when given (the shop's URL, for
 * pages not served by the shop such as /inbox/), else against this page.
 */
export function safeHref(url: string | null, linkBase: string | null = null): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url, linkBase || location.href);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return null;
    return linkBase ? parsed.toString() : url;
  } catch {
    return null;
  }
}

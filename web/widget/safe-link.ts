/**
 * An action link the list may render: http(s) or relative (the API already refuses anything else;
 * this keeps a javascript: or data: URL out of an href even if one slipped through).
 */
export function safeHref(url: string | null): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}

import type { Channel } from '../domain/channels';
import { UNSUBSCRIBE_LINK_PLACEHOLDER } from '../consent/unsubscribe-link';
import { isHttpUrl, openPixelUrl, trackedClickUrl, type TrackingSettings } from './tracking-token';

/** An href attribute of an anchor, quoted with " or '. */
const ANCHOR_HREF = /(<a\b[^>]*?\bhref\s*=\s*)(["'])([^"']*)\2/gi;
/** A bare http(s) URL in a text part; trailing punctuation is the sentence's, not the link's. */
const TEXT_URL = /https?:\/\/[^\s<>"']+/g;
const TRAILING_PUNCTUATION = /[.,;:!?)\]]+$/;

const decodeAttribute = (value: string) =>
  value
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/gi, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
const escapeAttribute = (value: string) =>
  value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Rewrites what one link becomes: the signed redirect for an http(s) target, the link as it was for
 * anything we do not sign (mailto:, relative, malformed) and for the unsubscribe link, which must
 * work without our redirect (RFC 8058; docs/consent.md).
 */
function trackedTarget(settings: TrackingSettings, notificationId: string, channel: Channel) {
  const unsubscribePrefix = `${settings.publicUrl.replace(/\/+$/, '')}/unsubscribe/`;
  return (target: string): string => {
    if (target === UNSUBSCRIBE_LINK_PLACEHOLDER || target.startsWith(unsubscribePrefix)) return target;
    if (!isHttpUrl(target)) return target;
    return trackedClickUrl(settings, { notificationId, channel, target }) ?? target;
  };
}

/** An HTML email's links through the redirect, and the open pixel (TRACK_OPENS) before `</body>`. */
export function trackEmail<T extends { html: string; text: string }>(
  content: T,
  settings: TrackingSettings,
  notificationId: string,
): T {
  const track = trackedTarget(settings, notificationId, 'email');
  let html = content.html.replace(ANCHOR_HREF, (whole, head: string, quote: string, href: string) => {
    const target = decodeAttribute(href.trim());
    const tracked = track(target);
    return tracked === target ? whole : `${head}${quote}${escapeAttribute(tracked)}${quote}`;
  });
  const text = content.text.replace(TEXT_URL, (match) => {
    const link = match.replace(TRAILING_PUNCTUATION, '');
    return track(link) + match.slice(link.length);
  });
  if (settings.opens) html = withPixel(html, openPixelUrl(settings, { notificationId, channel: 'email' }));
  return { ...content, html, text };
}

function withPixel(html: string, src: string): string {
  const pixel = `<img src="${escapeAttribute(src)}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />`;
  const end = html.search(/<\/body>/i);
  return end >= 0 ? `${html.slice(0, end)}${pixel}${html.slice(end)}` : `${html}${pixel}`;
}

/** Puts an in-app or push action link through the redirect; identity when tracking is off. */
export type ActionLinkTracker = (notificationId: string, channel: Channel, actionUrl: string) => string;

/**
 * The tracker of in-app and push action links: absolute http(s) links go through the signed redirect,
 * relative ones too once resolved against SHOP_URL (without it they stay relative, untracked).
 */
export function actionLinkTracker(
  settings: TrackingSettings | null,
  shopUrl: string | null,
): ActionLinkTracker {
  if (!settings) return (_notificationId, _channel, actionUrl) => actionUrl;
  return (notificationId, channel, actionUrl) => {
    const relative = !isHttpUrl(actionUrl) && actionUrl.startsWith('/') && !actionUrl.startsWith('//');
    const absolute = relative && shopUrl ? new URL(actionUrl, shopUrl).toString() : actionUrl;
    return isHttpUrl(absolute) ? trackedTarget(settings, notificationId, channel)(absolute) : actionUrl;
  };
}

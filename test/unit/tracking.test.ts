import { UNSUBSCRIBE_LINK_PLACEHOLDER } from '../../src/consent/unsubscribe-link';
import { actionLinkTracker, trackEmail } from '../../src/tracking/email-tracking';
import { verifyClickToken, verifyOpenToken, type TrackingSettings } from '../../src/tracking/tracking-token';

const settings: TrackingSettings = {
  secret: 'unit-tracking-secret-0123456789abcdef',
  publicUrl: 'https://n.example',
  opens: true,
};
const ID = '0b9f6b1e-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
const tokenOf = (link: string, prefix: string) => link.slice(`${settings.publicUrl}/${prefix}/`.length);

describe('trackEmail (docs/tracking-and-receipts.md)', () => {
  const html = [
    '<html><body>',
    '<a href="https://shop.example/orders/A-1?x=1&amp;y=2">Order</a>',
    `<a class="u" href="${UNSUBSCRIBE_LINK_PLACEHOLDER}">Unsubscribe</a>`,
    '<a href="mailto:help@shop.example">Mail us</a>',
    "<a href='/relative'>Relative</a>",
    '</body></html>',
  ].join('');
  const text = `See https://shop.example/orders/A-1. Unsubscribe: ${UNSUBSCRIBE_LINK_PLACEHOLDER}\nhelp: mailto:help@shop.example`;
  const tracked = trackEmail({ html, text, subject: 's' }, settings, ID);

  it('signs http(s) links with the notification and the exact target (entities decoded)', () => {
    const href = /href="(https:\/\/n\.example\/r\/[^"]+)"/.exec(tracked.html)![1];
    expect(verifyClickToken(settings.secret, tokenOf(href, 'r'))).toEqual({
      notificationId: ID,
      channel: 'email',
      target: 'https://shop.example/orders/A-1?x=1&y=2',
    });
  });

  it('leaves the unsubscribe link, mailto: and relative links as they were', () => {
    expect(tracked.html).toContain(`href="${UNSUBSCRIBE_LINK_PLACEHOLDER}"`);
    expect(tracked.html).toContain('href="mailto:help@shop.example"');
    expect(tracked.html).toContain("href='/relative'");
    expect(tracked.text).toContain(`Unsubscribe: ${UNSUBSCRIBE_LINK_PLACEHOLDER}`);
    expect(tracked.text).toContain('mailto:help@shop.example');
  });

  it('rewrites text-part URLs without their trailing punctuation', () => {
    const [, link, rest] = /See (https:\/\/n\.example\/r\/\S+?)(\. Unsubscribe)/.exec(tracked.text)!;
    expect(verifyClickToken(settings.secret, tokenOf(link, 'r'))?.target).toBe(
      'https://shop.example/orders/A-1',
    );
    expect(rest).toBe('. Unsubscribe');
  });

  it('sends a link too long for a token the API takes as it is, untracked', () => {
    const long = `https://shop.example/search?q=${'x'.repeat(1200)}`;
    const out = trackEmail({ html: `<a href="${long}">s</a>`, text: long }, settings, ID);
    expect(out.html).toContain(`href="${long}"`);
    expect(out.text).toBe(long);
  });

  it('adds one pixel before </body>, none with opens off', () => {
    const pixel = /<img src="https:\/\/n\.example\/o\/([^"]+)\.gif"[^>]*\/><\/body>/.exec(tracked.html);
    expect(verifyOpenToken(settings.secret, pixel![1])).toEqual({ notificationId: ID, channel: 'email' });
    expect(trackEmail({ html, text }, { ...settings, opens: false }, ID).html).not.toContain('/o/');
  });

  it('keeps a click token from working as a pixel token and the other way round, and refuses another secret', () => {
    const href = /href="(https:\/\/n\.example\/r\/[^"]+)"/.exec(tracked.html)![1];
    expect(verifyOpenToken(settings.secret, tokenOf(href, 'r'))).toBeNull();
    expect(verifyClickToken('another-secret-0123456789abcdef0123', tokenOf(href, 'r'))).toBeNull();
  });
});

describe('actionLinkTracker', () => {
  it('tracks absolute links, resolves relative ones against SHOP_URL, and is the identity when tracking is off', () => {
    const track = actionLinkTracker(settings, 'https://shop.example');
    const relative = track(ID, 'in_app', '/orders/A-1');
    expect(verifyClickToken(settings.secret, tokenOf(relative, 'r'))).toEqual({
      notificationId: ID,
      channel: 'in_app',
      target: 'https://shop.example/orders/A-1',
    });
    expect(actionLinkTracker(settings, null)(ID, 'in_app', '/orders/A-1')).toBe('/orders/A-1');
    expect(actionLinkTracker(null, 'https://shop.example')(ID, 'push', 'https://x.example/')).toBe(
      'https://x.example/',
    );
  });
});

import { UNSUBSCRIBE_LINK_PLACEHOLDER, fillUnsubscribeLink } from '../../src/consent/unsubscribe-link';
import { layoutEmail, loadEmailLayout } from '../../src/templates/email-layout';

const shop = { name: 'Shop', address: '', url: 'https://shop.example' };

describe('the footer unsubscribe link of marketing emails', () => {
  it('is a placeholder in the layout of marketing emails only, in HTML and text', async () => {
    const layout = await loadEmailLayout();
    const body = { subject: 'S', html: '<p>Sale</p>', text: 'Sale' };
    const marketing = layoutEmail(layout, { ...body, unsubscribeLink: true }, shop, 'de');
    expect(marketing.html).toContain(`<a href="${UNSUBSCRIBE_LINK_PLACEHOLDER}"`);
    expect(marketing.html).toContain('>Abmelden</a>');
    expect(marketing.text).toContain(`Abmelden: ${UNSUBSCRIBE_LINK_PLACEHOLDER}\n`);
    const transactional = layoutEmail(layout, body, shop, 'de');
    expect(transactional.html + transactional.text).not.toContain(UNSUBSCRIBE_LINK_PLACEHOLDER);
  });

  it("strips the placeholder from the template's own output, so only the layout can place it", async () => {
    const layout = await loadEmailLayout();
    const forged = `<a href="${UNSUBSCRIBE_LINK_PLACEHOLDER}">click</a>`;
    const email = layoutEmail(
      layout,
      { subject: 'S', html: forged, text: forged, actionUrl: UNSUBSCRIBE_LINK_PLACEHOLDER, actionText: 'Go' },
      shop,
      'en',
    );
    expect(email.html + email.text).not.toContain(UNSUBSCRIBE_LINK_PLACEHOLDER);
  });

  it('is filled with the signed URL (escaped in HTML), or left out without one', async () => {
    const layout = await loadEmailLayout();
    const email = layoutEmail(
      layout,
      { subject: 'S', html: '<p>Sale</p>', text: 'Sale', unsubscribeLink: true },
      shop,
      'en',
    );
    const url = 'https://notify.example/unsubscribe/abc.def?x=1&y=2';
    const filled = fillUnsubscribeLink(email, url);
    expect(filled.html).toContain('<a href="https://notify.example/unsubscribe/abc.def?x=1&amp;y=2"');
    expect(filled.text).toContain(`Unsubscribe: ${url}\n`);
    expect(filled.subject).toBe('S');

    const none = fillUnsubscribeLink(email, null);
    expect(none.html + none.text).not.toContain(UNSUBSCRIBE_LINK_PLACEHOLDER);
    expect(none.html).not.toContain('Unsubscribe');
    expect(none.text).not.toContain('Unsubscribe');
    // Only the link went: the rest of the footer is as in an email without it.
    const plain = layoutEmail(layout, { subject: 'S', html: '<p>Sale</p>', text: 'Sale' }, shop, 'en');
    expect(none).toEqual(plain);
  });
});

import Handlebars from 'handlebars';
import { compile as compileHtmlToText } from 'html-to-text';
import { UNSUBSCRIBE_LINK_PLACEHOLDER, withoutPlaceholder } from '../consent/unsubscribe-link';
import { isSafeLink } from '../domain/safe-link';
import { languageOf } from './locale-format';

/**
 * The responsive layout every email goes out in (docs/emails-and-locales.md): the shop's name on top, the
 * template's HTML, a button for the template's action, the shop's address and the preference-center
 * link (and the unsubscribe link of marketing emails) below. Written in MJML, compiled to HTML once per
 * process (about 40 ms, 0.4 s with loading MJML), then filled per message by a Handlebars template
 * compiled from that HTML (tens of µs).
 */

/** The shop an email comes from (SHOP_NAME, SHOP_ADDRESS, SHOP_URL, PREFERENCES_URL). */
export interface ShopSettings {
  name: string;
  address: string;
  /** Origin (and path) of the shop; relative links in emails are made absolute on it. */
  url: string | null;
  /** Where the footer's preference link goes; default `<url>/account/notifications`. */
  preferencesUrl?: string | null;
}

/** The shop of processes configured without one (tests, tools): config.shop's defaults. */
export const DEFAULT_SHOP: ShopSettings = { name: 'Shop', address: '', url: null };

/** The rendered template fields of one email, before the layout. */
export interface EmailBody {
  subject: string;
  html: string;
  /** The template's plain text; derived from `html` when absent or blank. */
  text?: string;
  actionUrl?: string;
  actionText?: string;
  /**
   * Marketing emails: the footer gets an unsubscribe link, a placeholder the SMTP provider fills with
   * the signed link at send time (src/consent/unsubscribe-link.ts).
   */
  unsubscribeLink?: boolean;
}

export interface EmailMessage {
  subject: string;
  html: string;
  text: string;
}

/** The layout's own words, per language; other languages get `en`. */
export const LAYOUT_STRINGS: Readonly<Record<string, { preferences: string; unsubscribe: string }>> = {
  en: { preferences: 'Manage your notification preferences', unsubscribe: 'Unsubscribe' },
  de: { preferences: 'Benachrichtigungseinstellungen verwalten', unsubscribe: 'Abmelden' },
  hi: { preferences: 'सूचना प्राथमिकताएँ प्रबंधित करें', unsubscribe: 'सदस्यता समाप्त करें' },
};

/** Variables of the compiled layout; `{{{content}}}` is the template's (already escaped) HTML. */
const LAYOUT_MJML = `<mjml lang="{{lang}}">
  <mj-head>
    <mj-title>{{subject}}</mj-title>
    <mj-preview>{{preheader}}</mj-preview>
    <mj-attributes>
      <mj-all font-family="Helvetica, Arial, sans-serif" />
      <mj-text font-size="15px" line-height="1.5" color="#1f2937" />
    </mj-attributes>
    <mj-style>
      .content p, .content li { font-size: 15px; line-height: 1.5; color: #1f2937; margin: 0 0 12px; }
      .content h1 { font-size: 22px; line-height: 1.3; margin: 0 0 16px; color: #111827; }
      .content a { color: #1d4ed8; }
      @media (max-width: 480px) { .content h1 { font-size: 20px; } }
    </mj-style>
  </mj-head>
  <mj-body background-color="#f3f4f6" width="600px">
    <mj-section padding="24px 16px 8px">
      <mj-column>
        <mj-text font-size="20px" font-weight="bold" color="#111827">{{shopName}}</mj-text>
      </mj-column>
    </mj-section>
    <mj-section background-color="#ffffff" border-radius="8px" padding="24px 8px">
      <mj-column>
        <mj-raw><div class="content" style="padding: 0 25px; font-family: Helvetica, Arial, sans-serif;">{{{content}}}</div></mj-raw>
        <mj-raw>{{#if actionUrl}}</mj-raw>
        <mj-button href="{{actionUrl}}" background-color="#1d4ed8" color="#ffffff" font-size="15px" border-radius="6px" inner-padding="12px 24px" align="left">{{actionText}}</mj-button>
        <mj-raw>{{/if}}</mj-raw>
      </mj-column>
    </mj-section>
    <mj-section padding="16px">
      <mj-column>
        <mj-text font-size="12px" color="#6b7280" align="center">{{shopName}}{{#if shopAddress}} · {{shopAddress}}{{/if}}{{#if preferencesUrl}}<br /><a href="{{preferencesUrl}}" style="color:#6b7280">{{preferencesLabel}}</a>{{/if}}{{#if unsubscribeUrl}} · <a href="{{unsubscribeUrl}}" style="color:#6b7280">{{unsubscribeLabel}}</a>{{/if}}</mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;

let compiled: Promise<HandlebarsTemplateDelegate> | null = null;

/** The layout compiled (MJML -> HTML -> Handlebars) on first use; later calls get the same. */
export function loadEmailLayout(): Promise<HandlebarsTemplateDelegate> {
  compiled ??= compileLayout().catch((err: unknown) => {
    compiled = null;
    throw err;
  });
  return compiled;
}

async function compileLayout(): Promise<HandlebarsTemplateDelegate> {
  // Loaded here, not at import: processes that send no email never pay for MJML.
  const { default: mjml2html } = await import('mjml');
  const result = await mjml2html(LAYOUT_MJML, { validationLevel: 'strict', keepComments: false });
  return Handlebars.create().compile(result.html, { strict: false });
}

/** An absolute https(s) link for an email: relative ones on the shop's URL, unsafe ones dropped. */
export function absoluteLink(link: string | undefined, shop: ShopSettings): string | undefined {
  if (!link || !isSafeLink(link)) return undefined;
  if (/^https?:\/\//i.test(link)) return link;
  if (!shop.url || !link.startsWith('/')) return undefined;
  return shop.url.replace(/\/+$/, '') + link;
}

/** Where the footer's preference link goes. */
export function preferencesUrl(shop: ShopSettings): string | undefined {
  return absoluteLink(shop.preferencesUrl ?? '/account/notifications', shop);
}

/** The text part: the template's text, else its HTML as text. */
export function bodyText(body: EmailBody): string {
  if (body.text && body.text.trim() !== '') return body.text;
  return htmlToText(body.html);
}

/** html-to-text's converter, built once (building it costs more than converting an email). */
const htmlToText = compileHtmlToText({
  wordwrap: 78,
  selectors: [
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
    { selector: 'h1', options: { uppercase: false } },
  ],
});

/**
 * One email in the layout: HTML filled into the compiled layout, and the text part with the same
 * header, action link and footer. `locale` is the template's (the layout's words and `lang`).
 */
export function layoutEmail(
  layout: HandlebarsTemplateDelegate,
  rendered: EmailBody,
  shop: ShopSettings,
  locale: string,
): EmailMessage {
  // Only the layout may write the unsubscribe placeholder: a template's output never becomes a signed link.
  const body = Object.fromEntries(
    Object.entries(rendered).map(([k, v]) => [k, typeof v === 'string' ? withoutPlaceholder(v) : v]),
  ) as unknown as EmailBody;
  const words = LAYOUT_STRINGS[languageOf(locale)] ?? LAYOUT_STRINGS.en;
  const actionUrl = absoluteLink(body.actionUrl, shop);
  const actionText = body.actionText?.trim() || undefined;
  const unsubscribeUrl = body.unsubscribeLink ? UNSUBSCRIBE_LINK_PLACEHOLDER : undefined;
  const prefs = preferencesUrl(shop);
  const text = bodyText(body).trim();
  const html = layout({
    lang: locale,
    subject: body.subject,
    preheader: text.split('\n').find((line) => line.trim() !== '') ?? '',
    shopName: shop.name,
    shopAddress: shop.address,
    content: body.html,
    actionUrl: actionUrl && actionText ? actionUrl : undefined,
    actionText,
    preferencesUrl: prefs,
    preferencesLabel: words.preferences,
    unsubscribeUrl,
    unsubscribeLabel: words.unsubscribe,
  });
  const footer = [
    [shop.name, shop.address].filter(Boolean).join(', '),
    prefs ? `${words.preferences}: ${prefs}` : '',
    unsubscribeUrl ? `${words.unsubscribe}: ${unsubscribeUrl}` : '',
  ].filter(Boolean);
  const action =
    actionUrl && actionText && !text.includes(actionUrl) ? `\n\n${actionText}: ${actionUrl}` : '';
  return {
    subject: body.subject,
    html,
    text: `${shop.name}\n\n${text}${action}\n\n-- \n${footer.join('\n')}\n`,
  };
}

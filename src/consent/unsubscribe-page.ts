/** The pages behind unsubscribe links: plain HTML, no script, styles inline (the route's CSP allows exactly that). */

/** One category on the page: whether its emails reach the recipient, and whether the page may change that. */
export interface EmailCategoryState {
  category: string;
  /** The email cell of the recipient's preferences. */
  enabled: boolean;
  /** False for a category that needs an opt-in the recipient has not given: no email either way. */
  consented: boolean;
}

export interface UnsubscribePageInput {
  /** The category the link was made for. */
  category: string;
  /** Every category the page lists (switchable by email), the link's own first. */
  categories: EmailCategoryState[];
  /** What just happened (after a POST), if anything. */
  notice?: string;
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1f2933}
h1{font-size:1.4rem}button{font:inherit;padding:.5rem 1rem;cursor:pointer}
table{border-collapse:collapse;width:100%}td{padding:.4rem 0;border-top:1px solid #e4e7eb}
.notice{background:#e3f9e5;padding:.75rem 1rem;border-radius:4px}form{display:inline}`;

/** Headers of these pages: no script at all, forms only to this origin, no framing. */
export const UNSUBSCRIBE_PAGE_CSP = [
  "default-src 'none'",
  "style-src 'unsafe-inline'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

const label = (category: string) => escapeHtml(category.replace(/_/g, ' '));

/**
 * The confirmation page of a link (GET), and the page after a change (POST): the button posts the
 * one-click body to the link itself (`link`, its public URL); the table lists the categories' emails,
 * each with a button to switch it (posting to `<link>/categories/<category>`).
 */
export function unsubscribePage(link: string, input: UnsubscribePageInput): string {
  const own = input.categories.find((c) => c.category === input.category);
  const subscribed = own ? own.enabled && own.consented : false;
  const main = subscribed
    ? `<p>Stop receiving <strong>${label(input.category)}</strong> emails?</p>
<form method="post" action="${escapeHtml(link)}"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>`
    : `<p>You receive no <strong>${label(input.category)}</strong> emails.</p>`;
  const rows = input.categories.map((c) => categoryRow(link, c)).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>Email preferences</title><style>${STYLE}</style></head>
<body><h1>Email preferences</h1>
${input.notice ? `<p class="notice" role="status">${escapeHtml(input.notice)}</p>` : ''}
${main}
<h2>Your emails</h2>
<table>${rows}</table>
</body></html>`;
}

function categoryRow(link: string, c: EmailCategoryState): string {
  const action = `${escapeHtml(link)}/categories/${encodeURIComponent(c.category)}`;
  if (!c.consented)
    return `<tr><td>${label(c.category)}</td><td>off (you have not opted in; opt in from your account)</td></tr>`;
  const next = c.enabled ? 'off' : 'on';
  return `<tr><td>${label(c.category)}</td><td>${c.enabled ? 'on' : 'off'}</td><td><form method="post" action="${action}"><input type="hidden" name="email" value="${next}"><button type="submit">${c.enabled ? 'Unsubscribe' : 'Subscribe again'}</button></form></td></tr>`;
}

/** The page of a link that does not work (bad signature, expired, recipient gone). */
export function problemPage(message: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Unsubscribe link</title><style>${STYLE}</style></head>
<body><h1>This link does not work</h1><p>${escapeHtml(message)}</p>
<p>Manage your emails from your account instead.</p></body></html>`;
}

/** Hash routes of the dashboard: `#/<page>?<params>`, e.g. `#/trace?q=evt_1&id=<notification id>`. */
export const PAGES = [
  { name: 'overview', label: 'Overview' },
  { name: 'templates', label: 'Templates' },
  { name: 'trace', label: 'Trace' },
  { name: 'campaigns', label: 'Campaigns' },
  { name: 'experiments', label: 'Experiments' },
  { name: 'analytics', label: 'Analytics' },
  { name: 'failed', label: 'Failed jobs' },
  { name: 'recipients', label: 'Recipients' },
] as const;

export type PageName = (typeof PAGES)[number]['name'];

export interface Route {
  page: PageName;
  params: URLSearchParams;
}

const DEFAULT_PAGE: PageName = 'overview';

export function currentRoute(hash = location.hash): Route {
  const [path, query = ''] = hash.replace(/^#\/?/, '').split('?', 2);
  const page = PAGES.find((p) => p.name === path)?.name ?? DEFAULT_PAGE;
  return { page, params: new URLSearchParams(query) };
}

/** The href of a page; params with empty values are left out. */
export function routeHref(page: PageName, params: Record<string, string | undefined> = {}): string {
  const query = new URLSearchParams(
    Object.entries(params).filter((entry): entry is [string, string] => !!entry[1]),
  );
  const text = query.toString();
  return `#/${page}${text ? `?${text}` : ''}`;
}

export function navigate(page: PageName, params: Record<string, string | undefined> = {}): void {
  location.hash = routeHref(page, params);
}

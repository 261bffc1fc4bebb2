import { safeLinkOrUndefined } from '../domain/safe-link';

/** What a template renders with, besides the notification's data. */
export interface TemplateVariableOptions {
  actionUrl?: string;
  actionText?: string;
}

/** The shop's variables (SHOP_VARIABLES in src/domain/event-data.ts), from config. */
export interface TemplateShop {
  url: string | null;
  name: string;
}

/** The recipient fields templates may draw on; a missing recipient (or name) adds nothing. */
export interface TemplateRecipient {
  name?: string | null;
}

const isBlank = (value: unknown) =>
  value === undefined || value === null || (typeof value === 'string' && value.trim() === '');

/**
 * The variables a notification's templates render with: the event data (or a direct send's
 * variables), `actionUrl` / `actionText` from the delivery options (else from the data; the keys are
 * always present, so `{{#if actionUrl}}` works in strict mode), and `userName` defaulted to the
 * recipient's name when the data carries none, and `shopUrl` / `shopName` from config (always present,
 * "" without one). Pure: the render step calls it once per recipient.
 */
export function templateVariables(
  data: Record<string, unknown>,
  options: TemplateVariableOptions,
  recipient: TemplateRecipient | null | undefined,
  shop?: TemplateShop | null,
): Record<string, unknown> {
  const variables: Record<string, unknown> = {
    ...data,
    shopUrl: (shop?.url ?? '').replace(/\/+$/, ''),
    shopName: shop?.name ?? '',
    // Events accepted before links were checked, and data (never checked as a link), may still carry one.
    actionUrl: safeLinkOrUndefined(options.actionUrl ?? data.actionUrl),
    actionText: options.actionText ?? data.actionText,
  };
  if (isBlank(variables.userName)) {
    const name = recipient?.name?.trim();
    if (name) variables.userName = name;
    // A blank userName renders like an absent one: `{{#if userName}}` is false either way.
    else if (variables.userName !== undefined) variables.userName = null;
  }
  return variables;
}

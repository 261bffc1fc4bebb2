import type { EntityManager } from '@mikro-orm/postgresql';
import type { Channel } from '../src/domain/channels';
import { planChannels, type ChannelPlan } from '../src/domain/channel-plan';
import type { DeliveryOptions } from '../src/domain/business-event';
import { openChannels, type ChannelRecords } from '../src/domain/notification-lifecycle';
import type { ChannelContent } from '../src/domain/channel-content';
import type { QuietHours } from '../src/domain/quiet-hours';
import { safeLinkOrUndefined } from '../src/domain/safe-link';
import { needsConsent } from '../src/domain/consent';
import { renderTemplateFields } from '../src/templates/render-template';
import { templateVariables } from '../src/templates/template-variables';
import { layoutEmail, type ShopSettings } from '../src/templates/email-layout';
import { languageOf } from '../src/templates/locale-format';
import type { EventSpec } from './event-spec';

/** A recipient as the dispatcher loads it: its row plus its opt-outs for the event's category and whether it has push. */
export interface RecipientRow {
  id: string;
  email: string | null;
  phone: string | null;
  locale: string;
  muted: boolean;
  quiet_hours: QuietHours | null;
  webhook_url: string | null;
  name?: string | null;
  disabled_channels: Channel[];
  has_push: boolean;
  /** False when the category needs an opt-in the recipient has not given (src/domain/consent.ts). */
  consented?: boolean;
  /** Why the email address is on the suppression list (a hard bounce, a complaint); null when it is not. */
  email_suppression?: string | null;
}

export interface TemplateRow {
  channel: Channel;
  locale: string;
  version: number;
  category: string;
  fields: Record<string, string>;
}

/** The newest template of each channel for one locale. */
export type TemplatesForLocale = (locale: string) => Map<Channel, TemplateRow>;

/** One recipient's notification, planned and rendered, ready to be stored as sending. */
export interface RenderedNotification {
  decisions: ChannelPlan['decisions'];
  fallbacks: ChannelPlan['fallbacks'];
  content: Partial<ChannelContent>;
  versions: Partial<Record<Channel, number>>;
  channelStates: ChannelRecords;
}

/** Every version of a template code, newest first (the dispatcher picks per channel and locale). */
export function fetchTemplates(db: EntityManager, code: string): Promise<TemplateRow[]> {
  return db
    .getConnection()
    .execute(
      `select channel, locale, version, category, fields from templates where code = ? order by version desc`,
      [code],
    );
}

/**
 * Newest template per channel in the wanted locale, else its language (`de` for `de-AT`), else the
 * default locale; one lookup per locale.
 */
export function templatesByLocale(rows: TemplateRow[], defaultLocale: string): TemplatesForLocale {
  const cache = new Map<string, Map<Channel, TemplateRow>>();
  return (locale) => {
    let byChannel = cache.get(locale);
    if (!byChannel) {
      byChannel = new Map();
      for (const wanted of localeChain(locale, defaultLocale)) {
        for (const row of rows)
          if (row.locale === wanted && !byChannel.has(row.channel)) byChannel.set(row.channel, row);
      }
      cache.set(locale, byChannel);
    }
    return byChannel;
  };
}

/** `de-AT` -> `de-AT`, `de`, then the default locale. */
export function localeChain(locale: string, defaultLocale: string): string[] {
  return [...new Set([locale, languageOf(locale), defaultLocale])];
}

/** Money and dates in the recipient's locale (`en-IN`), unless its template is in another language (then the template's). */
export function formatLocale(recipientLocale: string, templateLocale: string): string {
  return languageOf(recipientLocale) === languageOf(templateLocale) ? recipientLocale : templateLocale;
}

/** What emails need besides their template: the compiled layout and the shop (src/templates/email-layout.ts). */
export interface EmailRendering {
  layout: HandlebarsTemplateDelegate;
  shop: ShopSettings;
}

/**
 * Plans and renders one recipient's notification. Throws the template errors of render-template
 * (a variable missing, a syntax error): the caller fails this recipient only.
 */
export function renderNotification(
  spec: EventSpec,
  recipient: RecipientRow,
  templates: Map<Channel, TemplateRow>,
  webhookDefaultUrl: string | undefined,
  times: { deadlineAt: string; queuedAt: string },
  email?: EmailRendering,
): RenderedNotification {
  const { decisions, fallbacks } = planRecipientChannels(spec, recipient, templates, webhookDefaultUrl);
  // Every channel that may be used, fallbacks included, so a missing variable fails up front.
  const candidates = new Set<Channel>([
    ...decisions.filter((d) => d.send).map((d) => d.channel),
    ...Object.values(fallbacks),
  ]);
  const { content, versions } = renderChannels(spec, recipient, templates, candidates, email);
  const channelStates = openChannels(decisions, times.deadlineAt, times.queuedAt);
  return { decisions, fallbacks, content, versions, channelStates };
}

/** Which of the event's channels this recipient gets (preferences, templates, addresses, fallbacks). */
function planRecipientChannels(
  spec: EventSpec,
  recipient: RecipientRow,
  templates: Map<Channel, TemplateRow>,
  webhookDefaultUrl: string | undefined,
): ChannelPlan {
  return planChannels({
    channels: spec.channels,
    category: spec.category,
    fallbacks: spec.fallbacks,
    muted: recipient.muted,
    disabled: new Set(recipient.disabled_channels),
    consented: recipient.consented,
    suppressedEmail: recipient.email_suppression ?? null,
    templated: new Set(templates.keys()),
    reachable: {
      in_app: true,
      email: !!recipient.email,
      sms: !!recipient.phone,
      push: recipient.has_push,
      webhook: !!(recipient.webhook_url || webhookDefaultUrl),
    },
  });
}

/** The content of each candidate channel: templates rendered with the recipient's variables; a webhook carries the event. */
function renderChannels(
  spec: EventSpec,
  recipient: RecipientRow,
  templates: Map<Channel, TemplateRow>,
  candidates: Set<Channel>,
  email?: EmailRendering,
): Pick<RenderedNotification, 'content' | 'versions'> {
  const variables = templateVariables(spec.data, spec.options, recipient, email?.shop);
  const content: Partial<ChannelContent> = {};
  const versions: Partial<Record<Channel, number>> = {};
  for (const channel of candidates) {
    if (channel === 'webhook') {
      content.webhook = webhookContent(spec, recipient.id);
      continue;
    }
    const template = templates.get(channel);
    if (!template) continue;
    const fields = renderTemplateFields(
      template.fields,
      variables,
      formatLocale(recipient.locale, template.locale),
    );
    versions[channel] = template.version;
    content[channel] = channelContent(channel, fields, spec.options) as never;
    if (channel === 'email' && email)
      content.email = emailInLayout(
        content.email!,
        { ...fields, ...definedOptions(spec) },
        template.locale,
        email,
        needsConsent(spec.category),
      );
  }
  // Marketing email carries a one-click unsubscribe link, signed at send time (docs/consent.md).
  if (content.email && needsConsent(spec.category))
    content.email = { ...content.email, unsubscribeCategory: spec.category };
  return { content, versions };
}

/** The options' action link and text, where the event has them (they win over the template's). */
function definedOptions(spec: EventSpec): Record<string, string> {
  const { actionUrl, actionText } = spec.options;
  return { ...(actionUrl ? { actionUrl } : {}), ...(actionText ? { actionText } : {}) };
}

/** The email in the shop's layout, with a text part; the button is the template's (or the options') action. */
function emailInLayout(
  rendered: ChannelContent['email'],
  fields: Record<string, string>,
  locale: string,
  email: EmailRendering,
  unsubscribeLink: boolean,
): ChannelContent['email'] {
  const body = { ...rendered, actionUrl: fields.actionUrl, actionText: fields.actionText, unsubscribeLink };
  return { ...rendered, ...layoutEmail(email.layout, body, email.shop, locale) };
}

/** A webhook gets the event itself, not a rendered template. */
function webhookContent(spec: EventSpec, userId: string): ChannelContent['webhook'] {
  return {
    payload: {
      eventId: spec.eventId,
      eventType: spec.eventType,
      templateCode: spec.templateCode,
      userId,
      data: spec.data,
    },
  };
}

export function channelContent(
  channel: Channel,
  fields: Record<string, string>,
  options: Pick<DeliveryOptions, 'actionUrl' | 'actionText'>,
): ChannelContent[Channel] {
  // Rendered links are checked in renderTemplateFields; options of events accepted before the check, here.
  const actionUrl = safeLinkOrUndefined(options.actionUrl) ?? safeLinkOrUndefined(fields.actionUrl);
  const actionText = options.actionText ?? fields.actionText;
  switch (channel) {
    case 'in_app':
      return { title: fields.title, body: fields.body, actionUrl, actionText };
    case 'email':
      return { subject: fields.subject, html: fields.html, text: fields.text };
    case 'sms':
      return { text: fields.text };
    case 'push':
      return { title: fields.title, body: fields.body, url: actionUrl };
    case 'webhook':
      return { payload: fields };
  }
}

import { insertRelease0Row, setRelease0State } from '../src/state/notification-store';
import type { EntityManager } from '@mikro-orm/postgresql';
import { log } from '@temporalio/activity';
import { parseBusinessEvent, type BusinessEvent } from '../src/domain/business-event';
import type { Channel } from '../src/domain/channels';
import { planChannels } from '../src/domain/channel-plan';
import {
  correlationKeyOf,
  EVENT_CATALOG,
  fallbacksFor,
  type EventDefinition,
} from '../src/domain/event-catalog';
import { followUpWorkflowId } from '../src/domain/workflow-ids';
import type { NotificationState } from '../src/domain/notification-status';
import type {
  EventPlan,
  NotificationRequest,
  PreparedNotification,
} from '../src/domain/notification-request';
import type { Priority } from '../src/domain/priorities';
import { quietHoursEndAfter } from '../src/domain/quiet-hours';
import { Preference, PushSubscription, Recipient, Template } from '../src/db/entities';
import type { ChannelContent } from '../src/domain/channel-content';
import {
  renderTemplateFields,
  TemplateSyntaxError,
  TemplateVariableMissingError,
} from '../src/templates/render-template';
import { templateVariables } from '../src/templates/template-variables';
import type { ActivityDeps } from './deps';
import { channelContent } from './render-notification';
import { businessFailure } from './errors';
import { planFollowUp } from './follow-up-plan';
import { findRelease0Waiting } from './release-0-lookups';

/**
 * Activities of release-0 workflows (businessEventWorkflowV0, notificationWorkflow), kept registered
 * so executions started before the lean event path finish on the new worker (docs/release-0.md).
 */
export function createRelease0Activities(deps: ActivityDeps) {
  return {
    planBusinessEvent: (input: BusinessEvent) => planBusinessEvent(deps, input),
    findQuietHoursEnd: (input: { userId: string; at: string }) => findQuietHoursEnd(deps, input),
    prepareNotification: (request: NotificationRequest & { workflowId: string }) =>
      prepareNotification(deps, request),
    enqueueSendJobs: (input: SendJobsInput) => enqueueSendJobs(deps, input),
    recordNotificationState: (input: NotificationStateInput) => recordNotificationState(deps, input),
  };
}

interface SendJobsInput {
  notificationId: string;
  workflowId: string;
  userId: string;
  channels: Channel[];
  priority: Priority;
}

interface NotificationStateInput {
  notificationId: string;
  state: NotificationState;
  error?: string;
}

/**
 * Resolves recipients, template and channels of one business event, the follow-up it schedules,
 * and the earlier workflows of the same order it cancels.
 */
async function planBusinessEvent(deps: ActivityDeps, input: BusinessEvent): Promise<EventPlan> {
  const event = parseEvent(input);
  const db = deps.orm.em.fork();
  const definition = event.type ? EVENT_CATALOG[event.type] : undefined;
  const templateCode = definition?.templateCode ?? event.templateCode!;
  const templates = await db.find(Template, { code: templateCode }, { fields: ['channel', 'category'] });
  if (templates.length === 0)
    throw businessFailure('TemplateNotFound', `no template with code "${templateCode}"`);
  const recipients = await recipientsOf(db, event, definition);
  const channels = event.options.channels ??
    definition?.channels ?? [...new Set(templates.map((t) => t.channel))];
  const correlationKey = correlationKeyOf(event.data);
  const related =
    correlationKey !== null && definition
      ? await relatedWork(deps, db, { definition, correlationKey, recipients, channels })
      : { cancelWorkflowIds: [], followUp: null };
  return {
    event,
    templateCode,
    category: definition?.category ?? templates[0].category,
    channels,
    fallbacks: fallbacksFor(templateCode),
    recipients,
    deliveryDeadlineMs: deps.config.deliveryDeadlineMs,
    correlationKey,
    ...related,
  };
}

/** Validated again here: any Temporal client may start the workflow with hand-written JSON. */
function parseEvent(input: BusinessEvent): BusinessEvent {
  try {
    return parseBusinessEvent(input);
  } catch (err) {
    throw businessFailure('InvalidEvent', (err as Error).message);
  }
}

/** The event's recipients, else those of the definition's default role; each once. */
async function recipientsOf(
  db: EntityManager,
  event: BusinessEvent,
  definition: EventDefinition | undefined,
): Promise<string[]> {
  let recipients = event.userIds ?? (event.userId ? [event.userId] : []);
  if (recipients.length === 0 && definition?.defaultRecipientRole) {
    const role = definition.defaultRecipientRole;
    const rows = await db.find(
      Recipient,
      { roles: { $contains: [role] } },
      { fields: ['id'], orderBy: { id: 'asc' } },
    );
    recipients = rows.map((r) => r.id);
  }
  return [...new Set(recipients)];
}

/** The workflows of the same order this event cancels (follow-ups, superseded notices) and its follow-up. */
async function relatedWork(
  deps: ActivityDeps,
  db: EntityManager,
  facts: {
    definition: EventDefinition;
    correlationKey: string;
    recipients: string[];
    channels: Channel[];
  },
): Promise<Pick<EventPlan, 'cancelWorkflowIds' | 'followUp'>> {
  const { definition, correlationKey, recipients } = facts;
  const cancelWorkflowIds: string[] = [];
  for (const kind of definition.cancelsFollowUps ?? []) {
    for (const userId of recipients) cancelWorkflowIds.push(followUpWorkflowId(kind, correlationKey, userId));
  }
  for (const supersededType of definition.supersedes ?? []) {
    cancelWorkflowIds.push(
      ...(await findRelease0Waiting(deps.temporalClient, supersededType, correlationKey, recipients)),
    );
  }
  const followUp = definition.followUp
    ? await planFollowUp(db, definition.followUp, facts.channels, deps.config.paymentReminderDelayMs)
    : null;
  return { cancelWorkflowIds, followUp };
}

/** When `at` falls in the recipient's quiet hours, the ISO instant they end; else null. */
async function findQuietHoursEnd(
  deps: ActivityDeps,
  input: { userId: string; at: string },
): Promise<string | null> {
  const recipient = await deps.orm.em
    .fork()
    .findOne(Recipient, { id: input.userId }, { fields: ['quietHours'] });
  if (!recipient?.quietHours) return null;
  return quietHoursEndAfter(new Date(input.at), recipient.quietHours)?.toISOString() ?? null;
}

/**
 * Checks preferences, renders every channel and stores the notification (idempotent per event and
 * recipient). Throws non-retryable failures for a missing recipient, template or variable.
 */
async function prepareNotification(
  deps: ActivityDeps,
  request: NotificationRequest & { workflowId: string },
): Promise<PreparedNotification> {
  const { config } = deps;
  const db = deps.orm.em.fork();
  const recipient = await db.findOne(Recipient, { id: request.userId });
  if (!recipient) throw businessFailure('RecipientNotFound', `recipient "${request.userId}" does not exist`);
  const [templates, preferences, pushCount] = await Promise.all([
    latestTemplates(db, request.templateCode, recipient.locale, config.defaultLocale ?? 'en'),
    db.find(Preference, { recipientId: recipient.id, category: request.category }),
    db.count(PushSubscription, { recipientId: recipient.id }),
  ]);
  const { decisions, fallbacks } = planChannels({
    channels: request.channels,
    category: request.category,
    fallbacks: request.fallbacks,
    muted: recipient.muted,
    disabled: new Set(preferences.filter((p) => !p.enabled).map((p) => p.channel)),
    templated: new Set(templates.keys()),
    reachable: {
      in_app: true,
      email: !!recipient.email,
      sms: !!recipient.phone,
      push: pushCount > 0,
      webhook: !!(recipient.webhookUrl || config.providers?.webhook?.defaultUrl),
    },
  });
  // Render every channel that may be used, fallbacks included, so a missing variable fails up front.
  const candidates = new Set<Channel>([
    ...decisions.filter((d) => d.send).map((d) => d.channel),
    ...Object.values(fallbacks),
  ]);
  const { content, versions } = renderChannels(request, recipient, templates, candidates);
  const row = release0Row(request, recipient.id, { decisions, content, versions });
  // A retried activity finds the row the first try stored: one notification per event and recipient.
  return { notificationId: await insertRelease0Row(db, row), decisions, fallbacks };
}

async function latestTemplates(
  db: EntityManager,
  code: string,
  locale: string,
  defaultLocale: string,
): Promise<Map<Channel, Template>> {
  const rows = await db.find(
    Template,
    { code, locale: { $in: [locale, defaultLocale] } },
    { orderBy: { version: 'desc' } },
  );
  const byChannel = new Map<Channel, Template>();
  // Prefer the recipient's locale, then the default locale; newest version first within each.
  for (const wanted of [locale, defaultLocale]) {
    for (const row of rows)
      if (row.locale === wanted && !byChannel.has(row.channel)) byChannel.set(row.channel, row);
  }
  return byChannel;
}

/** Each candidate channel's content and the template version it came from; template errors as business failures. */
function renderChannels(
  request: NotificationRequest,
  recipient: Recipient,
  templates: Map<Channel, Template>,
  candidates: Set<Channel>,
): { content: Partial<ChannelContent>; versions: Partial<Record<Channel, number>> } {
  const variables = templateVariables(request.data, request.options, recipient);
  const content: Partial<ChannelContent> = {};
  const versions: Partial<Record<Channel, number>> = {};
  try {
    for (const channel of candidates) {
      if (channel === 'webhook') {
        content.webhook = { payload: webhookPayload(request) };
        continue;
      }
      const template = templates.get(channel);
      if (!template) continue;
      const fields = renderTemplateFields(template.fields, variables);
      versions[channel] = template.version;
      content[channel] = channelContent(channel, fields, request.options) as never;
    }
  } catch (err) {
    throw templateFailure(request.templateCode, err);
  }
  return { content, versions };
}

function webhookPayload(request: NotificationRequest): Record<string, unknown> {
  return {
    eventId: request.eventId,
    eventType: request.eventType,
    templateCode: request.templateCode,
    userId: request.userId,
    data: request.data,
  };
}

function templateFailure(templateCode: string, err: unknown): unknown {
  if (err instanceof TemplateVariableMissingError)
    return businessFailure('TemplateVariableMissing', `template ${templateCode}: ${err.message}`);
  if (err instanceof TemplateSyntaxError)
    return businessFailure('TemplateSyntax', `template ${templateCode}: ${err.message}`);
  return err;
}

/** The notifications row of a release-0 notification, in state sending. */
function release0Row(
  request: NotificationRequest & { workflowId: string },
  recipientId: string,
  rendered: {
    decisions: PreparedNotification['decisions'];
    content: Partial<ChannelContent>;
    versions: Partial<Record<Channel, number>>;
  },
) {
  const inApp = rendered.content.in_app;
  return {
    eventId: request.eventId,
    eventType: request.eventType,
    recipientId,
    templateCode: request.templateCode,
    templateVersions: rendered.versions,
    category: request.category,
    priority: request.options.priority,
    state: 'sending' as NotificationState,
    channels: rendered.decisions.filter((d) => d.send).map((d) => d.channel),
    workflowId: request.workflowId,
    title: inApp?.title ?? null,
    body: inApp?.body ?? null,
    actionUrl: inApp?.actionUrl ?? null,
    actionText: inApp?.actionText ?? null,
    data: request.data,
    content: rendered.content,
    createdAt: new Date(),
    updatedAt: new Date(),
  };
}

/** Hands one send job per channel to BullMQ. */
async function enqueueSendJobs(deps: ActivityDeps, input: SendJobsInput): Promise<void> {
  await Promise.all(
    input.channels.map((channel) =>
      deps.queues.enqueue(
        { notificationId: input.notificationId, channel, workflowId: input.workflowId, userId: input.userId },
        input.priority,
      ),
    ),
  );
  log.info('send jobs enqueued', { notificationId: input.notificationId, channels: input.channels });
}

/** Mirrors the workflow's final state into Postgres for the API and reports. */
async function recordNotificationState(deps: ActivityDeps, input: NotificationStateInput): Promise<void> {
  await setRelease0State(deps.orm.em.fork(), input.notificationId, input.state, input.error ?? null);
}

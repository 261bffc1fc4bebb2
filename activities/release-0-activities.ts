import { insertRelease0Row, setRelease0State } from '../src/state/notification-store';
import type { EntityManager } from '@mikro-orm/postgresql';
import { log } from '@temporalio/activity';
import { parseBusinessEvent, type BusinessEvent } from '../src/domain/business-event';
import type { Channel } from '../src/domain/channels';
import { planChannels } from '../src/domain/channel-plan';
import { correlationKeyOf, EVENT_CATALOG, fallbacksFor } from '../src/domain/event-catalog';
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
import { channelContent } from './dispatcher';
import { businessFailure } from './errors';
import { planFollowUp } from './follow-up-plan';
import { findRelease0Waiting } from './release-0-lookups';

/**
 * Activities of release-0 workflows (businessEventWorkflowV0, notificationWorkflow), kept registered
 * so executions started before the lean event path finish on the new worker.
 */
export function createRelease0Activities(deps: ActivityDeps) {
  const { orm, queues, temporalClient, config } = deps;
  const defaultLocale = config.defaultLocale ?? 'en';
  const em = (): EntityManager => orm.em.fork();

  async function latestTemplates(
    db: EntityManager,
    code: string,
    locale: string,
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

  return {
    /**
     * Resolves recipients, template and channels of one business event, the follow-up it schedules,
     * and the earlier workflows of the same order it cancels.
     */
    async planBusinessEvent(input: BusinessEvent): Promise<EventPlan> {
      // Validated again here: any Temporal client may start the workflow with hand-written JSON.
      let event: BusinessEvent;
      try {
        event = parseBusinessEvent(input);
      } catch (err) {
        throw businessFailure('InvalidEvent', (err as Error).message);
      }
      const db = em();
      const definition = event.type ? EVENT_CATALOG[event.type] : undefined;
      const templateCode = definition?.templateCode ?? event.templateCode!;
      const templates = await db.find(Template, { code: templateCode }, { fields: ['channel', 'category'] });
      if (templates.length === 0)
        throw businessFailure('TemplateNotFound', `no template with code "${templateCode}"`);
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
      recipients = [...new Set(recipients)];
      const channels = event.options.channels ??
        definition?.channels ?? [...new Set(templates.map((t) => t.channel))];
      const correlationKey = correlationKeyOf(event.data);

      const cancelWorkflowIds: string[] = [];
      let followUp: EventPlan['followUp'] = null;
      if (correlationKey !== null && definition) {
        for (const kind of definition.cancelsFollowUps ?? []) {
          for (const userId of recipients)
            cancelWorkflowIds.push(followUpWorkflowId(kind, correlationKey, userId));
        }
        for (const supersededType of definition.supersedes ?? []) {
          cancelWorkflowIds.push(
            ...(await findRelease0Waiting(temporalClient, supersededType, correlationKey, recipients)),
          );
        }
        if (definition.followUp)
          followUp = await planFollowUp(db, definition.followUp, channels, config.paymentReminderDelayMs);
      }
      return {
        event,
        templateCode,
        category: definition?.category ?? templates[0].category,
        channels,
        fallbacks: fallbacksFor(templateCode),
        recipients,
        deliveryDeadlineMs: config.deliveryDeadlineMs,
        correlationKey,
        cancelWorkflowIds,
        followUp,
      };
    },

    /** When `at` falls in the recipient's quiet hours, the ISO instant they end; else null. */
    async findQuietHoursEnd(input: { userId: string; at: string }): Promise<string | null> {
      const recipient = await em().findOne(Recipient, { id: input.userId }, { fields: ['quietHours'] });
      if (!recipient?.quietHours) return null;
      return quietHoursEndAfter(new Date(input.at), recipient.quietHours)?.toISOString() ?? null;
    },

    /**
     * Checks preferences, renders every channel and stores the notification (idempotent per event and
     * recipient). Throws non-retryable failures for a missing recipient, template or variable.
     */
    async prepareNotification(
      request: NotificationRequest & { workflowId: string },
    ): Promise<PreparedNotification> {
      const db = em();
      const recipient = await db.findOne(Recipient, { id: request.userId });
      if (!recipient)
        throw businessFailure('RecipientNotFound', `recipient "${request.userId}" does not exist`);
      const [templates, preferences, pushCount] = await Promise.all([
        latestTemplates(db, request.templateCode, recipient.locale),
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
      const variables = templateVariables(request.data, request.options, recipient);
      const content: Partial<ChannelContent> = {};
      const versions: Partial<Record<Channel, number>> = {};
      const candidates = new Set<Channel>([
        ...decisions.filter((d) => d.send).map((d) => d.channel),
        ...Object.values(fallbacks),
      ]);
      try {
        for (const channel of candidates) {
          if (channel === 'webhook') {
            content.webhook = {
              payload: {
                eventId: request.eventId,
                eventType: request.eventType,
                templateCode: request.templateCode,
                userId: request.userId,
                data: request.data,
              },
            };
            continue;
          }
          const template = templates.get(channel);
          if (!template) continue;
          const fields = renderTemplateFields(template.fields, variables);
          versions[channel] = template.version;
          content[channel] = channelContent(channel, fields, request.options) as never;
        }
      } catch (err) {
        if (err instanceof TemplateVariableMissingError) {
          throw businessFailure(
            'TemplateVariableMissing',
            `template ${request.templateCode}: ${err.message}`,
          );
        }
        if (err instanceof TemplateSyntaxError)
          throw businessFailure('TemplateSyntax', `template ${request.templateCode}: ${err.message}`);
        throw err;
      }

      const inApp = content.in_app;
      const row = {
        eventId: request.eventId,
        eventType: request.eventType,
        recipientId: recipient.id,
        templateCode: request.templateCode,
        templateVersions: versions,
        category: request.category,
        priority: request.options.priority,
        state: 'sending' as NotificationState,
        channels: decisions.filter((d) => d.send).map((d) => d.channel),
        workflowId: request.workflowId,
        title: inApp?.title ?? null,
        body: inApp?.body ?? null,
        actionUrl: inApp?.actionUrl ?? null,
        actionText: inApp?.actionText ?? null,
        data: request.data,
        content,
        createdAt: new Date(),
        updatedAt: new Date(),
      };
      // A retried activity finds the row the first try stored: one notification per event and recipient.
      return { notificationId: await insertRelease0Row(db, row), decisions, fallbacks };
    },

    /** Hands one send job per channel to BullMQ. */
    async enqueueSendJobs(input: {
      notificationId: string;
      workflowId: string;
      userId: string;
      channels: Channel[];
      priority: Priority;
    }): Promise<void> {
      await Promise.all(
        input.channels.map((channel) =>
          queues.enqueue(
            {
              notificationId: input.notificationId,
              channel,
              workflowId: input.workflowId,
              userId: input.userId,
            },
            input.priority,
          ),
        ),
      );
      log.info('send jobs enqueued', { notificationId: input.notificationId, channels: input.channels });
    },

    /** Mirrors the workflow's final state into Postgres for the API and reports. */
    async recordNotificationState(input: {
      notificationId: string;
      state: NotificationState;
      error?: string;
    }): Promise<void> {
      await setRelease0State(em(), input.notificationId, input.state, input.error ?? null);
    },
  };
}

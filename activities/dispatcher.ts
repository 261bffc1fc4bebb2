import type { EntityManager } from '@mikro-orm/postgresql';
import type { Channel } from '../src/domain/channels';
import { planChannels } from '../src/domain/channel-plan';
import type { DeliveryOptions } from '../src/domain/business-event';
import {
  admit,
  firstSendAt,
  openChannels,
  publicChannels,
  type ChannelRecords,
} from '../src/domain/notification-lifecycle';
import { INLINE_STATUS_LIMIT, type DispatchResult, type RecipientSummary } from '../src/domain/event-ledger';
import { quietHoursEndAfter, type QuietHours } from '../src/domain/quiet-hours';
import type { Orm } from '../src/db/orm';
import type { ChannelContent } from '../src/domain/channel-content';
import type { SendQueues } from '../src/delivery/send-queues';
import type { Priority } from '../src/domain/priorities';
import {
  dueRecipientIds,
  failWaitingRows,
  insertRows,
  startDueRows,
  unclaimedOpenChannels,
  type NotificationRowInput,
  type StoredRow,
} from '../src/state/notification-store';
import { safeLinkOrUndefined } from '../src/domain/safe-link';
import {
  renderTemplateFields,
  TemplateSyntaxError,
  TemplateVariableMissingError,
} from '../src/templates/render-template';
import { templateVariables } from '../src/templates/template-variables';

/**
 * What every notification of one event (or campaign) shares; plain JSON, carried by the event
 * workflow from one local activity to the next.
 */
export interface EventSpec {
  eventId: string;
  eventType: string | null;
  /** The workflow that owns the notifications (event-<id>, followup-..., campaign-<id>). */
  workflowId: string;
  templateCode: string;
  category: string;
  channels: Channel[];
  fallbacks: Partial<Record<Channel, Channel>>;
  data: Record<string, unknown>;
  options: DeliveryOptions;
  deliveryDeadlineMs: number;
  /** INFRA_RETRY_HORIZON_MS when the spec was made (older specs lack it: the worker's setting applies). */
  infraHorizonMs?: number;
  /**
   * True when a workflow waits for the outcomes (event workflows): an event row counts the open
   * channels so the last outcome wakes it once. Campaigns do not wait.
   */
  tracked: boolean;
}

export interface DispatcherDeps {
  orm: Orm;
  queues: SendQueues;
  defaultLocale: string;
  /** The webhook provider's tenant URL: recipients without a URL of their own are reachable through it. */
  webhookDefaultUrl?: string;
}

interface RecipientRow {
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
}

export interface TemplateRow {
  channel: Channel;
  locale: string;
  version: number;
  category: string;
  fields: Record<string, string>;
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
 * Admits recipients of one event set-wise: one query for recipients with their opt-outs and push
 * subscriptions, one for the templates, one statement that stores every row (idempotent per event and
 * recipient, so a retried activity finds what the first try stored), one addBulk per channel.
 */
export function createDispatcher(deps: DispatcherDeps) {
  const { orm, queues, defaultLocale } = deps;

  async function loadRecipients(
    db: EntityManager,
    userIds: string[],
    category: string,
  ): Promise<Map<string, RecipientRow>> {
    const rows: RecipientRow[] = await db.getConnection().execute(
      `select r.*,
              coalesce((select array_agg(p.channel) from preferences p where p.recipient_id = r.id and p.category = ? and not p.enabled), '{}') as disabled_channels,
              exists (select 1 from push_subscriptions s where s.recipient_id = r.id) as has_push
         from recipients r where r.id in (select jsonb_array_elements_text(?::jsonb))`,
      [category, JSON.stringify(userIds)],
    );
    return new Map(rows.map((r) => [r.id, r]));
  }

  /** Newest template per channel in the wanted locale, else the default locale. */
  async function loadTemplates(
    db: EntityManager,
    code: string,
    preloaded?: TemplateRow[],
  ): Promise<(locale: string) => Map<Channel, TemplateRow>> {
    const rows = preloaded ?? (await fetchTemplates(db, code));
    const cache = new Map<string, Map<Channel, TemplateRow>>();
    return (locale) => {
      let byChannel = cache.get(locale);
      if (!byChannel) {
        byChannel = new Map();
        for (const wanted of [locale, defaultLocale]) {
          for (const row of rows)
            if (row.locale === wanted && !byChannel.has(row.channel)) byChannel.set(row.channel, row);
        }
        cache.set(locale, byChannel);
      }
      return byChannel;
    };
  }

  /** Plans and renders one recipient's notification; a render problem fails this recipient only. */
  function render(
    spec: EventSpec,
    recipient: RecipientRow,
    templates: Map<Channel, TemplateRow>,
    deadlineAt: string,
    queuedAt: string,
  ) {
    const { decisions, fallbacks } = planChannels({
      channels: spec.channels,
      category: spec.category,
      fallbacks: spec.fallbacks,
      muted: recipient.muted,
      disabled: new Set(recipient.disabled_channels),
      templated: new Set(templates.keys()),
      reachable: {
        in_app: true,
        email: !!recipient.email,
        sms: !!recipient.phone,
        push: recipient.has_push,
        webhook: !!(recipient.webhook_url || deps.webhookDefaultUrl),
      },
    });
    const variables = templateVariables(spec.data, spec.options, recipient);
    const content: Partial<ChannelContent> = {};
    const versions: Partial<Record<Channel, number>> = {};
    // Every channel that may be used, fallbacks included, so a missing variable fails up front.
    const candidates = new Set<Channel>([
      ...decisions.filter((d) => d.send).map((d) => d.channel),
      ...Object.values(fallbacks),
    ]);
    for (const channel of candidates) {
      if (channel === 'webhook') {
        content.webhook = {
          payload: {
            eventId: spec.eventId,
            eventType: spec.eventType,
            templateCode: spec.templateCode,
            userId: recipient.id,
            data: spec.data,
          },
        };
        continue;
      }
      const template = templates.get(channel);
      if (!template) continue;
      const fields = renderTemplateFields(template.fields, variables);
      versions[channel] = template.version;
      content[channel] = channelContent(channel, fields, spec.options) as never;
    }
    const channelStates = openChannels(decisions, deadlineAt, queuedAt);
    return { decisions, fallbacks, content, versions, channelStates };
  }

  function row(spec: EventSpec, userId: string, fields: Partial<NotificationRowInput>): NotificationRowInput {
    return {
      event_id: spec.eventId,
      event_type: spec.eventType,
      recipient_id: userId,
      template_code: spec.templateCode,
      template_versions: {},
      category: spec.category,
      priority: spec.options.priority,
      state: 'scheduled',
      channels: [],
      workflow_id: spec.workflowId,
      title: null,
      body: null,
      action_url: null,
      action_text: null,
      data: spec.data,
      content: {},
      channel_states: {},
      fallbacks: {},
      send_at: null,
      ...fields,
    };
  }

  /**
   * Decides for each recipient: send now (rendered row + jobs), wait (row in scheduled or
   * waiting_quiet_hours with its send_at), or fail (no such recipient, template variable missing).
   */
  async function prepare(
    db: EntityManager,
    spec: EventSpec,
    userIds: string[],
    nowMs: number,
    sendAtMs: number,
    urgent: boolean,
    templates?: TemplateRow[],
  ) {
    const [recipients, templatesFor] = await Promise.all([
      loadRecipients(db, userIds, spec.category),
      loadTemplates(db, spec.templateCode, templates),
    ]);
    const deadlineAt = new Date(nowMs + spec.deliveryDeadlineMs).toISOString();
    const queuedAt = new Date(nowMs).toISOString();
    const rows: NotificationRowInput[] = [];
    const failed: RecipientSummary[] = [];
    for (const userId of userIds) {
      const recipient = recipients.get(userId);
      if (!recipient) {
        failed.push({ userId, state: 'failed', error: `recipient "${userId}" does not exist` });
        continue;
      }
      const admission = admit({
        nowMs,
        sendAtMs,
        urgent,
        quietHoursEnd: (at) =>
          recipient.quiet_hours
            ? (quietHoursEndAfter(new Date(at), recipient.quiet_hours)?.getTime() ?? null)
            : null,
      });
      if (admission.state !== 'sending') {
        rows.push(
          row(spec, userId, { state: admission.state, send_at: new Date(admission.sendAtMs).toISOString() }),
        );
        continue;
      }
      try {
        const r = render(spec, recipient, templatesFor(recipient.locale), deadlineAt, queuedAt);
        const sending = r.decisions.filter((d) => d.send).map((d) => d.channel);
        const inApp = r.content.in_app;
        rows.push(
          row(spec, userId, {
            state: sending.length === 0 ? 'suppressed' : 'sending',
            channels: sending,
            template_versions: r.versions,
            title: inApp?.title ?? null,
            body: inApp?.body ?? null,
            action_url: inApp?.actionUrl ?? null,
            action_text: inApp?.actionText ?? null,
            content: r.content,
            channel_states: r.channelStates,
            fallbacks: r.fallbacks,
          }),
        );
      } catch (err) {
        if (err instanceof TemplateVariableMissingError || err instanceof TemplateSyntaxError) {
          failed.push({ userId, state: 'failed', error: `template ${spec.templateCode}: ${err.message}` });
          continue;
        }
        throw err;
      }
    }
    return { rows, failed };
  }

  /** Hands the open channels of freshly sending rows to their queues, many jobs per round trip. */
  async function enqueue(spec: EventSpec, stored: StoredRow[]): Promise<void> {
    const byChannel = new Map<Channel, string[]>();
    for (const r of stored) {
      if (r.state !== 'sending') continue;
      for (const [channel, record] of Object.entries(r.channel_states ?? {}) as [
        Channel,
        ChannelRecords[Channel],
      ][]) {
        if (record?.state === 'queued') byChannel.set(channel, [...(byChannel.get(channel) ?? []), r.id]);
      }
    }
    await Promise.all(
      [...byChannel].map(([channel, ids]) => queues.enqueueBulk(channel, ids, spec.options.priority)),
    );
  }

  return {
    /** Stores and hands off (or parks until due) one page of recipients of an event. */
    async admitRecipients(
      spec: EventSpec,
      userIds: string[],
      options: { nowMs?: number; inline?: boolean; templates?: TemplateRow[] } = {},
    ): Promise<DispatchResult> {
      const nowMs = options.nowMs ?? Date.now();
      const db = orm.em.fork();
      const { rows, failed } = await prepare(
        db,
        spec,
        userIds,
        nowMs,
        firstSendAt(nowMs, spec.options),
        spec.options.priority === 'urgent',
        options.templates,
      );
      const stored = await insertRows(db, spec, rows);
      await enqueue(spec, stored);
      return withFailed(
        summarizeRows(stored, options.inline ?? userIds.length <= INLINE_STATUS_LIMIT),
        failed,
      );
    },

    /**
     * Sends the event's waiting notifications that are due: quiet hours are checked again (a row may
     * park until they end), then rows are rendered and handed off. Rows cancelled or moved meanwhile
     * are left alone. Returns how many rows it looked at, so callers page until fewer than `limit`.
     */
    async dispatchDue(
      spec: EventSpec,
      options: { nowMs?: number; limit?: number; inline?: boolean } = {},
    ): Promise<DispatchResult & { examined: number }> {
      const nowMs = options.nowMs ?? Date.now();
      const db = orm.em.fork();
      const userIds = await dueRecipientIds(db, spec.eventId, nowMs, options.limit ?? 1000);
      if (userIds.length === 0) return { recipients: [], wakeTimes: [], nextDeadlineMs: null, examined: 0 };
      const { rows, failed } = await prepare(
        db,
        spec,
        userIds,
        nowMs,
        nowMs,
        spec.options.priority === 'urgent',
      );
      const stored = await startDueRows(db, spec, rows, nowMs);
      // A recipient deleted or whose template lacks a variable while it waited: its row fails too.
      await failWaitingRows(db, spec.eventId, failed);
      await enqueue(spec, stored);
      const result = withFailed(summarizeRows(stored, options.inline ?? false), failed);
      return { ...result, examined: userIds.length };
    },

    /**
     * Hands off again every open channel of the event's sending rows that no worker has claimed (I3,
     * docs/contracts.md "Durability invariants"): a retried step runs it, since its earlier try may have
     * stored rows as sending and then failed to reach Redis. Jobs that exist make it a no-op.
     */
    async handOffUnclaimed(eventId: string): Promise<number> {
      const open = await unclaimedOpenChannels(orm.em.fork(), eventId);
      const groups = new Map<string, { channel: Channel; priority: Priority; ids: string[] }>();
      for (const row of open) {
        const key = `${row.channel}/${row.priority}`;
        const group = groups.get(key) ?? { channel: row.channel, priority: row.priority, ids: [] };
        group.ids.push(row.id);
        groups.set(key, group);
      }
      await Promise.all([...groups.values()].map((g) => queues.enqueueBulk(g.channel, g.ids, g.priority)));
      return open.length;
    },
  };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;

/**
 * What the event workflow learns from stored rows: each recipient's summary (channel details only
 * when inline), the distinct times waiting rows are due, the earliest deadline of an open channel.
 */
export function summarizeRows(rows: StoredRow[], inline: boolean): DispatchResult {
  const wake = new Set<number>();
  let nextDeadlineMs: number | null = null;
  const recipients = rows.map((r): RecipientSummary => {
    const waiting = r.state === 'scheduled' || r.state === 'waiting_quiet_hours';
    if (waiting && r.send_at) wake.add(new Date(r.send_at).getTime());
    for (const record of Object.values(r.channel_states ?? {})) {
      if (record?.deadlineAt && record.state === 'queued')
        nextDeadlineMs = Math.min(nextDeadlineMs ?? Infinity, Date.parse(record.deadlineAt));
    }
    return {
      userId: r.recipient_id,
      state: r.state,
      notificationId: r.id,
      ...(waiting && r.send_at ? { sendAt: new Date(r.send_at).toISOString() } : {}),
      ...(r.error ? { error: r.error } : {}),
      ...(inline ? { channels: publicChannels(r.channel_states ?? {}) } : {}),
    };
  });
  return { recipients, wakeTimes: [...wake].sort((a, b) => a - b), nextDeadlineMs };
}

/** Recipients that got no row (no such recipient, a template variable missing) come first. */
function withFailed(result: DispatchResult, failed: RecipientSummary[]): DispatchResult {
  return { ...result, recipients: [...failed, ...result.recipients] };
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

export type { DispatchResult, RecipientSummary, StoredRow };

import { EntitySchema, OptionalProps } from '@mikro-orm/core';
import type { Channel } from '../../domain/channels';
import type { ChannelContent } from '../../domain/channel-content';
import type { NotificationState } from '../../domain/notification-status';
import type { ChannelRecords } from '../../domain/notification-lifecycle';

/** One notification to one recipient for one event; unique per (eventId, recipientId). */
export class Notification {
  /** Columns with database defaults (docs/contracts.md, "Postgres tables owned by the lifecycle"). */
  [OptionalProps]?:
    | 'lifecycle'
    | 'channelStates'
    | 'fallbacks'
    | 'sendAt'
    | 'version'
    | 'data'
    | 'content'
    | 'contentHash'
    | 'dataHash'
    | 'inlineContent'
    | 'inlineData';
  id!: string;
  eventId!: string;
  eventType: string | null = null;
  recipientId!: string;
  templateCode!: string;
  /** Template version used per channel. */
  templateVersions: Partial<Record<Channel, number>> = {};
  category!: string;
  priority!: string;
  state!: NotificationState;
  channels: Channel[] = [];
  /** The workflow that owns the notification (docs/contracts.md, "Workflows and ids"). */
  workflowId!: string;
  /** 1: a release-0 notificationWorkflow owns it; 2: its event (or campaign) workflow, outcomes in channelStates. */
  lifecycle = 1;
  channelStates: ChannelRecords = {};
  fallbacks: Partial<Record<Channel, Channel>> = {};
  /** When a waiting notification is due. */
  sendAt: Date | null = null;
  version = 0;
  /** The in-app copy the notification center shows. */
  title: string | null = null;
  body: string | null = null;
  actionUrl: string | null = null;
  actionText: string | null = null;
  /** The event data (read-only: the stored value when `dataHash` is set, else `inlineData`). */
  data: Record<string, unknown> = {};
  /** Rendered content per channel, read by the channel workers (jobs carry ids only); read-only like `data`. */
  content: Partial<ChannelContent> = {};
  /** Content stored once (src/state/notification-contents.ts): hashes into notification_contents. */
  contentHash: string | null = null;
  dataHash: string | null = null;
  /** The columns `content` / `data`: what rows without a hash hold (rows stored before content was stored once). */
  inlineContent: Partial<ChannelContent> = {};
  inlineData: Record<string, unknown> = {};
  error: string | null = null;
  readAt: Date | null = null;
  deliveredAt: Date | null = null;
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
}

/** The same expression as src/state/notification-contents.ts (entities do not import src/state). */
function storedOrInline(alias: string, hashColumn: string, inlineColumn: string): string {
  return `coalesce((select c.content from notification_contents c where c.hash = ${alias}.${hashColumn}), ${alias}.${inlineColumn})`;
}

export const NotificationSchema = new EntitySchema<Notification>({
  class: Notification,
  tableName: 'notifications',
  uniques: [{ properties: ['eventId', 'recipientId'] }],
  indexes: [
    { properties: ['recipientId', 'createdAt'] },
    // The operators' dashboard's per-minute overview (migration dashboard_indexes).
    { name: 'notifications_created_at_idx', properties: ['createdAt'] },
    // Look-ups by workflow id: the API's status/cancel routes and the dashboard's search (migration api).
    { name: 'notifications_workflow_id_idx', properties: ['workflowId'] },
  ],
  properties: {
    id: { type: 'uuid', primary: true, defaultRaw: 'gen_random_uuid()' },
    eventId: { type: 'string', length: 255 },
    eventType: { type: 'string', length: 64, nullable: true },
    recipientId: { type: 'string', length: 200 },
    templateCode: { type: 'string', length: 100 },
    templateVersions: { type: 'json' },
    category: { type: 'string', length: 64 },
    priority: { type: 'string', length: 16 },
    state: { type: 'string', length: 32 },
    channels: { type: 'json' },
    workflowId: { type: 'string', length: 500 },
    lifecycle: { type: 'smallint', default: 1 },
    channelStates: { type: 'json', default: '{}' },
    fallbacks: { type: 'json', default: '{}' },
    sendAt: { type: 'Date', nullable: true },
    version: { type: 'integer', default: 0 },
    title: { type: 'text', nullable: true },
    body: { type: 'text', nullable: true },
    actionUrl: { type: 'string', length: 2048, nullable: true },
    actionText: { type: 'string', length: 200, nullable: true },
    // Readers get the stored content whatever the row holds (src/state/notification-contents.ts, contentOf).
    data: { type: 'json', formula: (t) => storedOrInline(`${t}`, 'data_hash', 'data') },
    content: { type: 'json', formula: (t) => storedOrInline(`${t}`, 'content_hash', 'content') },
    contentHash: { type: 'text', nullable: true },
    dataHash: { type: 'text', nullable: true },
    inlineContent: { type: 'json', fieldName: 'content', default: '{}' },
    inlineData: { type: 'json', fieldName: 'data', default: '{}' },
    error: { type: 'text', nullable: true },
    readAt: { type: 'Date', nullable: true },
    deliveredAt: { type: 'Date', nullable: true },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    updatedAt: { type: 'Date', onCreate: () => new Date(), onUpdate: () => new Date() },
  },
});

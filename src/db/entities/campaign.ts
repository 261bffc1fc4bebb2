import { EntitySchema } from '@mikro-orm/core';
import type { CampaignSegment, CampaignState } from '../../domain/campaign';
import type { Channel } from '../../domain/channels';

/**
 * A marketing campaign: one template sent to a segment of recipients at `scheduledAt`. Written by
 * campaignWorkflow's activities (the workflow owns the state); `targeted`/`started` are its counts.
 */
export class Campaign {
  id!: string;
  name!: string;
  templateCode!: string;
  segment!: CampaignSegment;
  variables: Record<string, unknown> = {};
  /** Channels to try; null: the template's channels. */
  channels: Channel[] | null = null;
  priority!: string;
  scheduledAt!: Date;
  state!: CampaignState;
  /** Recipients of the segment listed so far. */
  targeted = 0;
  /** Notifications stored for the segment (sent, parked for quiet hours, or suppressed). */
  started = 0;
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
}

export const CampaignSchema = new EntitySchema<Campaign>({
  class: Campaign,
  tableName: 'campaigns',
  indexes: [{ properties: ['createdAt', 'id'] }],
  properties: {
    id: { type: 'uuid', primary: true },
    name: { type: 'string', length: 200 },
    templateCode: { type: 'string', length: 100 },
    segment: { type: 'json' },
    variables: { type: 'json' },
    channels: { type: 'json', nullable: true },
    priority: { type: 'string', length: 16 },
    scheduledAt: { type: 'Date' },
    state: { type: 'string', length: 16 },
    targeted: { type: 'integer' },
    started: { type: 'integer' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    updatedAt: { type: 'Date', onCreate: () => new Date(), onUpdate: () => new Date() },
  },
});

import { cancelWaitingOfEvent } from '../../state/notification-store';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { CampaignDefinition, CampaignSegment, CampaignState } from '../../domain/campaign';
import { campaignEventId } from '../../domain/workflow-ids';
import { Campaign } from '../entities';

export interface CampaignPage {
  items: Campaign[];
  /** Id of the last item, to pass as `after` for the next (older) page; null on the last page. */
  next: string | null;
}

export interface CampaignProgressUpdate {
  state?: CampaignState;
  targeted?: number;
  started?: number;
  scheduledAt?: string;
}

/** Campaign rows: written by campaignWorkflow's activities (and once by the API), read by the API. */
export class CampaignRepository {
  constructor(private readonly em: EntityManager) {}

  /** Stores a campaign in state `scheduled` unless a row with its id exists; true when it inserted one. */
  async insertIfAbsent(campaign: CampaignDefinition): Promise<boolean> {
    const rows: unknown[] = await this.em.getConnection().execute(
      `insert into campaigns (id, name, template_code, segment, variables, channels, priority, scheduled_at, state)
       values (?, ?, ?, ?::jsonb, ?::jsonb, ?::jsonb, ?, ?, 'scheduled')
       on conflict (id) do nothing returning id`,
      [
        campaign.id,
        campaign.name,
        campaign.templateCode,
        JSON.stringify(campaign.segment),
        JSON.stringify(campaign.variables),
        campaign.channels ? JSON.stringify(campaign.channels) : null,
        campaign.priority,
        campaign.scheduledAt,
      ],
    );
    return rows.length > 0;
  }

  /** Undoes insertIfAbsent when the campaign's workflow could not be started (nothing ran yet). */
  async removeUnstarted(id: string): Promise<void> {
    await this.em
      .getConnection()
      .execute(
        `delete from campaigns where id = ? and state = 'scheduled' and targeted = 0 and started = 0`,
        [id],
      );
  }

  findById(id: string): Promise<Campaign | null> {
    return this.em.findOne(Campaign, { id });
  }

  /** Newest first (created_at, id), strictly older than the campaign `after`. */
  async list(options: { limit: number; after?: string; state?: CampaignState }): Promise<CampaignPage> {
    const qb = this.em.createQueryBuilder(Campaign, 'c').select('*');
    if (options.state) qb.andWhere({ state: options.state });
    // Compared in SQL: created_at has microseconds, a JS Date only milliseconds.
    if (options.after)
      qb.andWhere('(c.created_at, c.id) < (select a.created_at, a.id from campaigns a where a.id = ?)', [
        options.after,
      ]);
    const rows = await qb
      .orderBy({ createdAt: 'desc', id: 'desc' })
      .limit(options.limit + 1)
      .getResultList();
    const items = rows.slice(0, options.limit);
    return { items, next: rows.length > options.limit ? items[items.length - 1].id : null };
  }

  /** Mirrors the workflow's state and counts; a campaign that is completed or cancelled no longer changes. */
  async recordProgress(id: string, update: CampaignProgressUpdate): Promise<void> {
    await this.em.nativeUpdate(
      Campaign,
      { id, state: { $in: ['scheduled', 'running'] } },
      {
        ...(update.state ? { state: update.state } : {}),
        ...(update.targeted !== undefined ? { targeted: update.targeted } : {}),
        ...(update.started !== undefined ? { started: update.started } : {}),
        ...(update.scheduledAt ? { scheduledAt: new Date(update.scheduledAt) } : {}),
        updatedAt: new Date(),
      },
    );
  }

  /**
   * One page of the segment's recipients in id order, after `afterUserId` (keyset pagination: stable
   * while recipients are added or removed, no offset scans).
   */
  async recipientsPage(
    segment: CampaignSegment,
    afterUserId: string | null,
    limit: number,
  ): Promise<string[]> {
    // Plain rows, not entities: a page lists thousands of ids. `roles && ?` is served by the GIN index.
    const members: string[] = [];
    const params: unknown[] = [];
    if (segment.roles?.length) {
      // A constant array (the driver writes a list as `'a', 'b'`): the planner estimates the role from statistics.
      members.push('roles && array[?]::text[]');
      params.push(segment.roles);
    }
    if (segment.userIds?.length) {
      members.push('id in (?)');
      params.push(segment.userIds);
    }
    if (members.length === 0) return [];
    const after = afterUserId !== null ? 'and id > ?' : '';
    if (afterUserId !== null) params.push(afterUserId);
    const rows: { id: string }[] = await this.em
      .getConnection()
      .execute(`select id from recipients where (${members.join(' or ')}) ${after} order by id limit ?`, [
        ...params,
        limit,
      ]);
    return rows.map((r) => r.id);
  }

  /** Cancels the campaign's notifications still waiting (quiet hours); returns how many. */
  async cancelWaitingNotifications(campaignId: string): Promise<number> {
    return cancelWaitingOfEvent(this.em, campaignEventId(campaignId), 'cancelled: campaign cancelled');
  }

  /** How many of the campaign's notifications are in each state (one parked for quiet hours is waiting_quiet_hours). */
  async notificationStates(campaignId: string): Promise<Record<string, number>> {
    const rows: { state: string; count: string }[] = await this.em
      .getConnection()
      .execute(
        `select state, count(*) as count from notifications where event_id = ? group by state order by state`,
        [campaignEventId(campaignId)],
      );
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.count)]));
  }
}

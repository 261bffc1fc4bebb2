import { log } from '@temporalio/activity';
import {
  CAMPAIGN_CATEGORY,
  campaignIdSchema,
  parseCampaign,
  type CampaignDefinition,
  type CampaignPlan,
  type CampaignState,
} from '../src/domain/campaign';
import { CHANNELS } from '../src/domain/channels';
import { fallbacksFor } from '../src/domain/event-catalog';
import { Template, type Campaign } from '../src/db/entities';
import { CampaignRepository } from '../src/db/repositories/campaign-repository';
import { businessFailure } from './errors';
import type { ActivityDeps } from './index';

/** Activities of campaignWorkflow; spread into createActivities. */
export function createCampaignActivities(deps: Pick<ActivityDeps, 'orm' | 'config'>) {
  const repository = () => new CampaignRepository(deps.orm.em.fork());

  async function loadCampaign(campaignId: string): Promise<Campaign> {
    const campaign = await repository().findById(campaignId);
    if (!campaign) throw businessFailure('CampaignNotFound', `no campaign with id "${campaignId}"`);
    return campaign;
  }

  return {
    /**
     * Stores the campaign from the workflow's input (idempotent by id: an existing row wins) or loads
     * the stored one, checks its template, and resolves what every notification of it shares.
     */
    async openCampaign(input: { campaignId: string; campaign?: CampaignDefinition }): Promise<CampaignPlan> {
      const parsedId = campaignIdSchema.safeParse(input.campaignId);
      if (!parsedId.success) throw businessFailure('InvalidCampaign', `invalid campaign: campaignId: must be a UUID`);
      const campaignId = parsedId.data;
      // Validated again here: any Temporal client may start the workflow with hand-written JSON.
      let definition: CampaignDefinition | undefined;
      if (input.campaign) {
        try {
          definition = parseCampaign({ id: campaignId, ...(input.campaign as Partial<CampaignDefinition>) });
        } catch (err) {
          throw businessFailure('InvalidCampaign', (err as Error).message);
        }
        if (definition.id !== campaignId) throw businessFailure('InvalidCampaign', `invalid campaign: id: "${definition.id}" differs from campaignId "${campaignId}"`);
      }
      const db = deps.orm.em.fork();
      const templateCode = definition?.templateCode ?? (await loadCampaign(campaignId)).templateCode;
      const templates = await db.find(Template, { code: templateCode }, { fields: ['channel', 'category'] });
      if (templates.length === 0) throw businessFailure('TemplateNotFound', `no template with code "${templateCode}"`);
      if (templates[0].category !== CAMPAIGN_CATEGORY) {
        throw businessFailure('InvalidCampaign', `invalid campaign: templateCode: template "${templateCode}" is in category ${templates[0].category}, campaigns send ${CAMPAIGN_CATEGORY} templates`);
      }
      if (definition && (await repository().insertIfAbsent(definition))) log.info('campaign stored', { campaignId });
      const campaign = await loadCampaign(campaignId);
      const templateChannels = new Set(templates.map((t) => t.channel));
      return {
        campaignId,
        state: campaign.state,
        scheduledAt: campaign.scheduledAt.toISOString(),
        templateCode: campaign.templateCode,
        category: CAMPAIGN_CATEGORY,
        channels: campaign.channels ?? CHANNELS.filter((c) => templateChannels.has(c)),
        fallbacks: fallbacksFor(campaign.templateCode),
        variables: campaign.variables,
        priority: campaign.priority as CampaignPlan['priority'],
        deliveryDeadlineMs: deps.config.deliveryDeadlineMs,
        targeted: campaign.targeted,
        started: campaign.started,
      };
    },

    /** One page of the campaign's segment, recipient ids in ascending order after `afterUserId`. */
    async listCampaignRecipients(input: { campaignId: string; afterUserId: string | null; limit: number }): Promise<string[]> {
      const campaign = await loadCampaign(input.campaignId);
      return repository().recipientsPage(campaign.segment, input.afterUserId, input.limit);
    },

    /** Mirrors the workflow's state, counts and (after a reschedule) start time into the campaigns row. */
    async recordCampaignProgress(input: { campaignId: string; state?: CampaignState; targeted?: number; started?: number; scheduledAt?: string }): Promise<void> {
      const { campaignId, ...update } = input;
      await repository().recordProgress(campaignId, update);
    },
  };
}

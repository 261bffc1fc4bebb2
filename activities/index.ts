import { createCampaignActivities } from './campaign-activities';
import type { ActivityDeps } from './deps';
import { createDigestActivities, createDigestRouter } from './digest-activities';
import { createDispatcher } from './dispatcher';
import { createEventActivities } from './event-activities';
import { failPermanentDatabaseErrors } from './errors';
import { createFrequencyCaps } from './frequency-caps';
import { createRelease0Activities } from './release-0-activities';

export type { ActivityDeps } from './deps';

/** Every activity the workflows call; built once per worker with its dependencies. */
export function createActivities(deps: ActivityDeps) {
  const taskQueue = deps.config.temporal?.taskQueue ?? 'notifications';
  const { digests: settings } = deps.config;
  const digests = settings
    ? createDigestRouter({
        temporalClient: deps.temporalClient,
        taskQueue,
        lowStockWindowMs: settings.lowStockWindowMs,
      })
    : undefined;
  const caps = settings && digests ? createFrequencyCaps(settings.frequencyCaps, digests) : undefined;
  const dispatcher = createDispatcher({
    orm: deps.orm,
    queues: deps.queues,
    defaultLocale: deps.config.defaultLocale ?? 'en',
    webhookDefaultUrl: deps.config.providers?.webhook?.defaultUrl,
    digests,
    caps,
    shop: deps.config.shop,
    inAppFeed: deps.inAppFeed,
  });
  return failPermanentDatabaseErrors({
    ...createEventActivities(deps, dispatcher),
    ...createCampaignActivities(deps, dispatcher),
    ...createRelease0Activities(deps),
    ...createDigestActivities({ temporalClient: deps.temporalClient, taskQueue }),
  });
}

export type Activities = ReturnType<typeof createActivities>;

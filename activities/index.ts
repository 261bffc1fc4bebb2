import { createCampaignActivities } from './campaign-activities';
import type { ActivityDeps } from './deps';
import { createDispatcher } from './dispatcher';
import { createEventActivities } from './event-activities';
import { failPermanentDatabaseErrors } from './errors';
import { createRelease0Activities } from './release-0-activities';

export type { ActivityDeps } from './deps';

/** Every activity the workflows call; built once per worker with its dependencies. */
export function createActivities(deps: ActivityDeps) {
  const dispatcher = createDispatcher({
    orm: deps.orm,
    queues: deps.queues,
    defaultLocale: deps.config.defaultLocale ?? 'en',
    webhookDefaultUrl: deps.config.providers?.webhook?.defaultUrl,
    shop: deps.config.shop,
  });
  return failPermanentDatabaseErrors({
    ...createEventActivities(deps, dispatcher),
    ...createCampaignActivities(deps, dispatcher),
    ...createRelease0Activities(deps),
  });
}

export type Activities = ReturnType<typeof createActivities>;

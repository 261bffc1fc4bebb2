import type { Client } from '@temporalio/client';
import type { Orm } from '../src/db/orm';
import type { FrequencyCap } from '../src/domain/frequency-caps';
import type { OrderJourneyConfig } from '../src/domain/order-journey';
import type { SendQueues } from '../src/delivery/send-queues';
import type { ShopSettings } from '../src/templates/email-layout';
import type { InAppFeed } from './in-app-pages';

/** What the activity factories close over; tests wire them to real services. */
export interface ActivityDeps {
  orm: Orm;
  queues: SendQueues;
  /** Visibility look-ups of release-0 notification workflows (supersession). */
  temporalClient: Client;
  /** The live in-app feed (Redis pub/sub) campaign pages publish to; absent: their in-app rows go through the in-app queue. */
  inAppFeed?: InAppFeed;
  config: {
    deliveryDeadlineMs: number;
    /** Delay of the payment reminder follow-up. */
    paymentReminderDelayMs: number;
    /** Locale used when a recipient's locale has no template. */
    defaultLocale?: string;
    /** The webhook provider's tenant URL, used for recipients without a URL of their own. */
    providers?: { webhook: { defaultUrl?: string } | null };
    /** INFRA_RETRY_HORIZON_MS: how long work blocked by our own infrastructure is retried before it expires. @defaultValue 24 h */
    infraRetryHorizonMs?: number;
    /** SEND_RECORD_STALE_MS: a claim older than this belongs to a dead worker. @defaultValue 60000 */
    sendRecordStaleMs?: number;
    /** The shop emails come from (SHOP_NAME, SHOP_ADDRESS, SHOP_URL, PREFERENCES_URL). */
    shop?: ShopSettings;
    /** Campaign fan-out pauses while a channel's queue holds more jobs than this. */
    campaignMaxBacklog?: number;
    /** CAMPAIGN_STAGE_LEAD_MS: how long before its time a scheduled campaign stages its notifications; 0 or absent: never. */
    campaignStageLeadMs?: number;
    /** The event task queue: digest workflows and digest sends are started there. */
    temporal?: { taskQueue: string };
    /** Digests and frequency caps (docs/digests-and-caps.md); absent: neither. */
    digests?: { lowStockWindowMs: number; frequencyCaps: FrequencyCap[] };
    /** Order journeys (docs/order-journeys.md); absent: no journeys, no fold. */
    orderJourney?: OrderJourneyConfig;
  };
}

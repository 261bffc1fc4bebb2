import { CampaignSchema } from './campaign';
import { DeliveryAttemptSchema } from './delivery-attempt';
import { NotificationSchema } from './notification';
import { PreferenceSchema } from './preference';
import { PushSubscriptionSchema } from './push-subscription';
import { RecipientSchema } from './recipient';
import { SendRecordSchema } from './send-record';
import { TemplateSchema } from './template';

export * from './campaign';
export * from './delivery-attempt';
export * from './notification';
export * from './preference';
export * from './push-subscription';
export * from './recipient';
export * from './send-record';
export * from './template';

export const ENTITIES = [
  RecipientSchema,
  PushSubscriptionSchema,
  TemplateSchema,
  PreferenceSchema,
  NotificationSchema,
  DeliveryAttemptSchema,
  SendRecordSchema,
  CampaignSchema,
];

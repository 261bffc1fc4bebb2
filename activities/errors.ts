import { ApplicationFailure } from '@temporalio/common';

/** Failure types the workflows treat as final for one notification (never retried). */
export const NON_RETRYABLE_TYPES = ['InvalidEvent', 'RecipientNotFound', 'TemplateNotFound', 'TemplateVariableMissing', 'TemplateSyntax', 'InvalidCampaign', 'CampaignNotFound'] as const;
export type NonRetryableType = (typeof NON_RETRYABLE_TYPES)[number];

export function businessFailure(type: NonRetryableType, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

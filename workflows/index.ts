export { businessEventWorkflow } from './business-event-workflow';
export { campaignWorkflow } from './campaign-workflow';
export { notificationWorkflow } from './notification-workflow';
export { campaignProgressQuery, cancelSignal, channelOutcomeSignal, rescheduleSignal, statusQuery } from './definitions';

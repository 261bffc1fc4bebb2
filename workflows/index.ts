export { businessEventWorkflow } from './business-event-workflow';
export { notificationWorkflow } from './notification-workflow';
export { cancelSignal, channelOutcomeSignal, rescheduleSignal, statusQuery } from './definitions';

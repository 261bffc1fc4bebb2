export { businessEventWorkflow, redriveEventWorkflow } from './business-event-workflow';
export { campaignWorkflow } from './campaign-workflow';
export { orderEventSignal, orderJourneyQuery, orderJourneyWorkflow } from './order-journey-workflow';
export { digestWorkflow } from './digest-workflow';
/** Release 0: one workflow per recipient; registered so executions started before the lean event path finish. */
export { notificationWorkflow } from './release-0/notification-workflow';
export {
  campaignProgressQuery,
  cancelSignal,
  cancelUpdate,
  channelOutcomeSignal,
  eventStatusQuery,
  outcomesReadySignal,
  rescheduleSignal,
  rescheduleUpdate,
  statusQuery,
} from './definitions';

/** Workflow ids fixed by docs/contracts.md; any Temporal client can derive them. */
export function eventWorkflowId(eventId: string): string {
  return `event-${eventId}`;
}

/** How the API addresses one notification of an event (and the id release-0 gave its workflow). */
export function notificationKey(eventId: string, userId: string): string {
  return `notification-${eventId}-${userId}`;
}

/** Release 0: the id of a recipient's notificationWorkflow (same string as the notification key). */
export function notificationWorkflowId(eventId: string, userId: string): string {
  return `notification-${eventId}-${userId}`;
}

/**
 * A follow-up notification (e.g. the payment reminder of one order for one recipient). Derived from
 * the order, not the event, so a later event for the same order can cancel it by id. `recipient` is the
 * recipient's opaque ref (`recipients.ref`); follow-ups started before opaque ids (release 4 and earlier)
 * carry the user id there (docs/contracts.md, "Workflows and ids").
 */
export function followUpWorkflowId(kind: string, correlationKey: string, recipient: string): string {
  return `followup-${kind}-${correlationKey}-${recipient}`;
}

/** A marketing campaign's workflow; `campaignId` is a UUID. */
export function campaignWorkflowId(campaignId: string): string {
  return `campaign-${campaignId}`;
}

/** Event id of a campaign's notifications: `notification-campaign_<campaignId>-<userId>`. */
export function campaignEventId(campaignId: string): string {
  return `campaign_${campaignId}`;
}

/** NotificationEventType of a campaign and its notifications (Web UI: NotificationEventType = 'CAMPAIGN'). */
export const CAMPAIGN_EVENT_TYPE = 'CAMPAIGN';

/**
 * NotificationEventType of an event: its business type, or `direct:<templateCode>` for a send that
 * names a template instead (docs/contracts.md, search attributes).
 */
export function eventTypeOf(event: { type?: string | null; templateCode?: string | null }): string {
  return event.type ?? `direct:${event.templateCode}`;
}

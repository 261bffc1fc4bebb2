/** Workflow ids fixed by CONTRACTS.md; any Temporal client can derive them. */
export function eventWorkflowId(eventId: string): string {
  return `event-${eventId}`;
}

export function notificationWorkflowId(eventId: string, userId: string): string {
  return `notification-${eventId}-${userId}`;
}

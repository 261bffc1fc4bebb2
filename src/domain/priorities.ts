export const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** BullMQ priority: 1 is served first; 0 would mean "no priority" and bypass ordering. */
const BULLMQ_PRIORITY: Record<Priority, number> = { urgent: 1, high: 2, normal: 3, low: 4 };

export function bullmqPriority(priority: Priority): number {
  return BULLMQ_PRIORITY[priority];
}

import { queueNameFor, type Channel } from '../domain/channels';

/**
 * Where the send queues live in Redis (docs/contracts.md, "Redis keys"). `REDIS_KEY_LAYOUT`:
 * - `spread` (default): each channel queue's BullMQ keys under a hash tag of their own,
 *   `{<name>:send-<channel>}:send-<channel>:...` (`<name>`: QUEUE_PREFIX without its braces), so a Redis
 *   Cluster puts each queue in its own slot; BullMQ's multi-key scripts stay within one queue.
 * - `single`: every queue under QUEUE_PREFIX (`{notifications}`), one slot: the layout before spreading.
 * Channel workers of the spread layout also drain what the single layout's queues still hold
 * (src/runtime/delivery-workers.ts), so switching loses no job. The other keys (locks, sessions,
 * counters) stay under QUEUE_PREFIX in both: each is a single-key operation.
 */
export type RedisKeyLayout = 'spread' | 'single';

/** QUEUE_PREFIX without the braces of its hash tag: `{notifications}` -> `notifications`. */
function nameOf(queuePrefix: string): string {
  return queuePrefix.replace(/[{}]/g, '');
}

/** The BullMQ prefix of a channel's queue. */
export function queuePrefixFor(queuePrefix: string, layout: RedisKeyLayout, channel: Channel): string {
  return layout === 'single' ? queuePrefix : `{${nameOf(queuePrefix)}:${queueNameFor(channel)}}`;
}

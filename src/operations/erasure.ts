import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Redis } from 'ioredis';
import { redisMasters, type RedisConnection } from '../redis-connection';
import type { NotificationClient } from '../client/notification-client';
import type { Orm } from '../db/orm';
import { recipientRef } from '../db/recipient-refs';
import { CHANNELS, sendJobId, type Channel } from '../domain/channels';
import { DIGEST_CATEGORIES, digestWorkflowId, LOW_STOCK_DIGEST } from '../domain/digest';
import { orderJourneyWorkflowId } from '../domain/order-journey';
import { eventWorkflowId } from '../domain/workflow-ids';
import type { SendQueues } from '../delivery/send-queues';
import { eraseRecipientRows, type ErasureCounts } from '../state/erasure';

/**
 * Erasure of one recipient (docs/data-lifecycle.md, "Erasure"): first its open work is cancelled
 * (waiting notifications through the event workflows' cancel update, its digest workflows and order
 * journeys ended), then every row goes in one transaction with an anonymised tombstone left in its
 * place, then queued send jobs of its notifications and its Redis keys. A repeat finds no recipient.
 */
export interface ErasureDeps {
  orm: Orm;
  temporalClient: Client;
  notifications: NotificationClient;
  queues: SendQueues;
  redis: RedisConnection;
  queuePrefix: string;
}

export interface ErasureResult {
  /** The tombstone's id (erased_recipients.id): no user id is kept. */
  tombstoneId: string;
  counts: ErasureCounts;
  cancelled: {
    /** Open notifications whose workflow took the cancel. */
    notifications: number;
    /** Open notifications whose workflow refused it (a provider was already called) or had closed. */
    notCancelled: number;
    digests: number;
    journeys: number;
    sendJobs: number;
  };
  redisKeys: number;
}

const ERASED = 'recipient erased';
const OPEN_STATES = ['scheduled', 'waiting_quiet_hours', 'sending'];

/** Erases the recipient; null when there is none (never stored, or already erased). */
export async function eraseRecipient(deps: ErasureDeps, userId: string): Promise<ErasureResult | null> {
  const ref = await recipientRef(deps.orm.em.fork(), userId);
  if (ref === null) return null;
  const cancelled = await cancelOpenNotifications(deps, userId);
  const digests = await endWorkflows(deps.temporalClient, digestWorkflowIds(ref, userId));
  const rows = await eraseRecipientRows(deps.orm.em.fork(), userId);
  if (rows === null) return null;
  const journeys = await endWorkflows(deps.temporalClient, rows.orderNumbers.map(orderJourneyWorkflowId));
  const sendJobs = await removeSendJobs(deps, [...cancelled.rows, ...rows.openNotifications]);
  return {
    tombstoneId: rows.tombstoneId,
    counts: rows.counts,
    cancelled: { notifications: cancelled.ok, notCancelled: cancelled.refused, digests, journeys, sendJobs },
    redisKeys: await deleteRedisKeys(deps, userId),
  };
}

/**
 * The cancel path of every open notification (docs/contracts.md, "Notification lifecycle"): the event
 * workflow cancels the recipient's row and its queued jobs are skipped. Campaign rows have no per-row
 * cancel; deleting them and their jobs is enough (the campaign settles without them).
 */
async function cancelOpenNotifications(
  deps: ErasureDeps,
  userId: string,
): Promise<{ rows: { id: string; channels: string[] }[]; ok: number; refused: number }> {
  const rows: { id: string; event_id: string; workflow_id: string; channels: string[] }[] = await deps.orm.em
    .fork()
    .getConnection()
    .execute(
      `select id, event_id, workflow_id, array(select jsonb_object_keys(channel_states)) as channels from notifications
        where recipient_id = ? and state in (select jsonb_array_elements_text(?::jsonb))`,
      [userId, JSON.stringify(OPEN_STATES)],
    );
  let ok = 0;
  let refused = 0;
  for (const row of rows) {
    if (row.workflow_id.startsWith('campaign-')) continue;
    try {
      if (row.workflow_id === eventWorkflowId(row.event_id))
        await deps.notifications.cancel({ eventId: row.event_id, userId }, ERASED);
      else await deps.notifications.cancel(row.workflow_id, ERASED);
      ok++;
    } catch {
      // Sending (a provider was called) or the workflow closed: the row goes below all the same.
      refused++;
    }
  }
  return { rows, ok, refused };
}

/** Digest workflows the recipient may have: by its ref, and by its user id (started by release 4). */
function digestWorkflowIds(ref: string, userId: string): string[] {
  const keys = [LOW_STOCK_DIGEST.key, ...DIGEST_CATEGORIES.map((c) => `daily.${c}`)];
  return [ref, userId].flatMap((recipient) => keys.map((key) => digestWorkflowId(recipient, key)));
}

/** Terminates the running ones of these workflows (their items and messages are the erased recipient's); counts them. */
async function endWorkflows(client: Client, workflowIds: string[]): Promise<number> {
  let ended = 0;
  for (const workflowId of workflowIds) {
    const handle = client.workflow.getHandle(workflowId);
    try {
      if ((await handle.describe()).status.name !== 'RUNNING') continue;
      await handle.terminate(ERASED);
      ended++;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  return ended;
}

/**
 * Send jobs still queued for the erased notifications, per channel of each (seen before the cancel and
 * at the delete). A job a worker holds (locked) is left: it fails for want of its row.
 */
async function removeSendJobs(
  deps: ErasureDeps,
  notifications: { id: string; channels: string[] }[],
): Promise<number> {
  const jobs = new Map<string, Channel>();
  for (const { id, channels } of notifications)
    for (const channel of channels.filter(isChannel)) jobs.set(sendJobId(id, channel), channel);
  let removed = 0;
  for (const [jobId, channel] of jobs) {
    const job = await deps.queues.queue(channel).getJob(jobId);
    if (!job) continue;
    try {
      await job.remove();
      removed++;
    } catch {
      // Locked by a worker: it finds no row and fails the job.
    }
  }
  return removed;
}

function isChannel(value: string): value is Channel {
  return (CHANNELS as readonly string[]).includes(value);
}

/**
 * The recipient's browser sessions and its API rate-limit counter. On a Redis Cluster SCAN walks one
 * node only, so every master is scanned; the keys share QUEUE_PREFIX's hash tag, so MGET and DEL stay
 * within one slot.
 */
async function deleteRedisKeys(deps: ErasureDeps, userId: string): Promise<number> {
  const keys = [`${deps.queuePrefix}:api-rate-limit:user:${userId}`];
  for (const master of redisMasters(deps.redis)) keys.push(...(await sessionKeysOf(master, deps, userId)));
  return deps.redis.del(...keys);
}

async function sessionKeysOf(node: Redis, deps: ErasureDeps, userId: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await node.scan(cursor, 'MATCH', `${deps.queuePrefix}:api-session:*`, 'COUNT', 500);
    cursor = next;
    if (found.length === 0) continue;
    const values = await deps.redis.mget(found);
    found.forEach((key, i) => {
      if (sessionUserId(values[i]) === userId) keys.push(key);
    });
  } while (cursor !== '0');
  return keys;
}

function sessionUserId(stored: string | null): string | null {
  try {
    const session = stored
      ? (JSON.parse(stored) as { principal?: { kind?: string; userId?: string } })
      : null;
    return session?.principal?.kind === 'user' ? (session.principal.userId ?? null) : null;
  } catch {
    return null;
  }
}

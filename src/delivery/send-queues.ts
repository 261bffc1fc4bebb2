import { Queue, type ConnectionOptions } from 'bullmq';
import { queueNameFor, sendJobId, type Channel } from '../domain/channels';
import { bullmqPriority, type Priority } from '../domain/priorities';
import type { ChannelWorkerConfig, Config } from '../config';
import { queuePrefixFor, type RedisKeyLayout } from './queue-keys';

/**
 * Data of one send job: ids only, so Redis never holds addresses or content. Jobs of the lean event
 * path carry the notification id and channel alone (the row knows the rest); jobs of release-0
 * notification workflows also carry the workflow to signal and the recipient.
 */
export interface SendJobData {
  notificationId: string;
  channel: Channel;
  workflowId?: string;
  userId?: string;
  /**
   * Set by a worker whose provider accepted the message but which could not record that in Postgres
   * (in-process retries used up): the next attempt records it instead of sending again.
   */
  accepted?: { providerMessageId: string | null; startedAt: string };
  /**
   * Set by a worker whose provider call failed and whose claim Postgres would not release: the claim
   * token, so that the next attempt releases its own claim instead of waiting for it to turn stale
   * and taking it over as a dead worker's (docs/contracts.md, "BullMQ").
   */
  releasedClaim?: string;
}

export interface SendQueuesOptions {
  connection: ConnectionOptions;
  /** QUEUE_PREFIX, a Redis Cluster hash tag such as `{notifications}`. */
  prefix: string;
  /** REDIS_KEY_LAYOUT: each queue under a hash tag of its own, or all under `prefix` (./queue-keys.ts). */
  layout: RedisKeyLayout;
  channels: Record<Channel, ChannelWorkerConfig>;
  /**
   * Finished jobs kept per queue (SEND_KEEP_COMPLETED_JOBS, SEND_KEEP_FAILED_JOBS): caps by count
   * as well as by age, so that a flood of failures cannot fill a `noeviction` Redis (docs/contracts.md,
   * "Durability invariants", I6). @defaultValue 10000 each
   */
  keep?: { completed: number; failed: number };
}

/** How long finished jobs are kept at most, whatever their number: completed ones a day, failed ones (for operators) a week. */
const KEEP_COMPLETED_SECONDS = 24 * 3600;
const KEEP_FAILED_SECONDS = 7 * 24 * 3600;
/** Removals sent to Redis at once (one pipeline of scripts). */
const REMOVE_CHUNK = 500;

/** SendQueuesOptions.keep from the configuration. */
export function keptJobs(config: Pick<Config, 'sendJobs'>): { completed: number; failed: number } {
  return { completed: config.sendJobs.keepCompleted, failed: config.sendJobs.keepFailed };
}

/** The producer side of the per-channel queues. */
export class SendQueues {
  private readonly queues = new Map<Channel, Queue<SendJobData>>();

  constructor(private readonly options: SendQueuesOptions) {}

  queue(channel: Channel): Queue<SendJobData> {
    let queue = this.queues.get(channel);
    if (!queue) {
      queue = new Queue<SendJobData>(queueNameFor(channel), {
        connection: this.options.connection,
        prefix: queuePrefixFor(this.options.prefix, this.options.layout, channel),
      });
      this.queues.set(channel, queue);
    }
    return queue;
  }

  /**
   * Hands one job to the channel's queue. The job id dedupes a repeated hand-off while the job is
   * waiting or active; a finished job with the same id is removed first so a re-hand-off (after a lost
   * outcome) runs again, and the send record keeps that from reaching the provider twice.
   */
  async enqueue(data: SendJobData, priority: Priority): Promise<void> {
    const queue = this.queue(data.channel);
    const jobId = sendJobId(data.notificationId, data.channel);
    const existing = await queue.getJob(jobId);
    if (existing) {
      const state = await existing.getState();
      if (state === 'completed' || state === 'failed') await existing.remove();
    }
    await queue.add(data.channel, data, { jobId, ...this.jobOptions(data.channel, priority) });
  }

  /**
   * Hands many notifications of one channel to its queue in one round trip. Job ids are the same as
   * `enqueue`'s, so a retried hand-off of a job still waiting or active adds nothing.
   */
  async enqueueBulk(
    channel: Channel,
    notificationIds: string[],
    priority: Priority,
    /** Staged jobs (a campaign's flash-sale start): they wait in BullMQ's delayed set until then. */
    readyAtMs?: number,
  ): Promise<void> {
    if (notificationIds.length === 0) return;
    const delay = readyAtMs === undefined ? 0 : Math.max(0, readyAtMs - Date.now());
    const opts = { ...this.jobOptions(channel, priority), ...(delay > 0 ? { delay } : {}) };
    await this.queue(channel).addBulk(
      notificationIds.map((notificationId) => ({
        name: channel,
        data: { notificationId, channel },
        opts: { ...opts, jobId: sendJobId(notificationId, channel) },
      })),
    );
  }

  /**
   * Removes the channel's jobs of these notifications that no worker holds (a worker's active job is
   * locked and stays): their channel was delivered another way (a staged campaign's release).
   */
  async removeJobs(channel: Channel, notificationIds: string[]): Promise<void> {
    const queue = this.queue(channel);
    for (let i = 0; i < notificationIds.length; i += REMOVE_CHUNK)
      await Promise.all(
        notificationIds.slice(i, i + REMOVE_CHUNK).map((id) => queue.remove(sendJobId(id, channel))),
      );
  }

  /** Jobs waiting their turn (prioritized and delayed included): what fan-out pacing looks at. */
  async backlog(channel: Channel): Promise<number> {
    const counts = await this.queue(channel).getJobCounts('waiting', 'prioritized', 'delayed');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  private jobOptions(channel: Channel, priority: Priority) {
    const config = this.options.channels[channel];
    return {
      priority: bullmqPriority(priority),
      attempts: config.attempts,
      backoff: { type: 'exponential', delay: config.backoffMs, jitter: 0.5 },
      removeOnComplete: { age: KEEP_COMPLETED_SECONDS, count: this.options.keep?.completed ?? 10_000 },
      removeOnFail: { age: KEEP_FAILED_SECONDS, count: this.options.keep?.failed ?? 10_000 },
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}

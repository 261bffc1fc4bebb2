import { Queue, type ConnectionOptions } from 'bullmq';
import { queueNameFor, sendJobId, type Channel } from '../domain/channels';
import { bullmqPriority, type Priority } from '../domain/priorities';
import type { ChannelWorkerConfig } from '../config';

/** Data of one send job: ids only, so Redis never holds addresses or content. */
export interface SendJobData {
  notificationId: string;
  channel: Channel;
  workflowId: string;
  userId: string;
}

export interface SendQueuesOptions {
  connection: ConnectionOptions;
  /** Redis key prefix; a Redis Cluster hash tag such as `{notifications}`. */
  prefix: string;
  channels: Record<Channel, ChannelWorkerConfig>;
}

/** The producer side of the per-channel queues. */
export class SendQueues {
  private readonly queues = new Map<Channel, Queue<SendJobData>>();

  constructor(private readonly options: SendQueuesOptions) {}

  queue(channel: Channel): Queue<SendJobData> {
    let queue = this.queues.get(channel);
    if (!queue) {
      queue = new Queue<SendJobData>(queueNameFor(channel), { connection: this.options.connection, prefix: this.options.prefix });
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
    const config = this.options.channels[data.channel];
    await queue.add(`send ${data.channel}`, data, {
      jobId,
      priority: bullmqPriority(priority),
      attempts: config.attempts,
      backoff: { type: 'exponential', delay: config.backoffMs, jitter: 0.5 },
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}

import type { Job } from 'bullmq';
import type { Channel } from '../domain/channels';
import type { SendJobData, SendQueues } from './send-queues';

/** What an operator needs to judge a failed send job. */
export interface FailedJobSummary {
  channel: Channel;
  jobId: string;
  notificationId: string;
  /** Release-0 jobs name the workflow to signal; lean-path jobs carry ids only. */
  workflowId: string | null;
  attemptsMade: number;
  failedReason: string;
  failedAt: Date | null;
}

export interface FailedJobFilter {
  channels: Channel[];
  /** Only this job id (`<notificationId>.<channel>`). */
  jobId?: string;
}

const PAGE = 500;

/** Failed send jobs (retries used up, or refused for good), oldest first per channel. */
export async function listFailedJobs(
  queues: SendQueues,
  filter: FailedJobFilter,
): Promise<FailedJobSummary[]> {
  const found: FailedJobSummary[] = [];
  for (const channel of filter.channels) {
    for (const job of await failedJobs(queues, channel)) {
      if (filter.jobId === undefined || job.id === filter.jobId) found.push(summarize(channel, job));
    }
  }
  return found;
}

/**
 * Moves failed send jobs back to waiting. By default a retried job gets one more attempt (the attempt
 * count keeps growing, so delivery_attempts stay numbered in order); resetAttempts gives it the channel's
 * full retry budget again. The send record still guards the provider: an already sent message is not resent.
 */
export async function retryFailedJobs(
  queues: SendQueues,
  filter: FailedJobFilter,
  options: { resetAttempts?: boolean } = {},
): Promise<FailedJobSummary[]> {
  const retried: FailedJobSummary[] = [];
  for (const channel of filter.channels) {
    for (const job of await failedJobs(queues, channel)) {
      if (filter.jobId !== undefined && job.id !== filter.jobId) continue;
      // Summarized first: retry() clears the job's failedReason and finishedOn.
      const summary = summarize(channel, job);
      await job.retry('failed', {
        resetAttemptsMade: options.resetAttempts,
        resetAttemptsStarted: options.resetAttempts,
      });
      retried.push(summary);
    }
  }
  return retried;
}

/** All failed jobs of one queue, read page by page before anything moves them. */
async function failedJobs(queues: SendQueues, channel: Channel): Promise<Job<SendJobData>[]> {
  const queue = queues.queue(channel);
  const jobs: Job<SendJobData>[] = [];
  for (let start = 0; ; start += PAGE) {
    const page = await queue.getFailed(start, start + PAGE - 1);
    jobs.push(...page.filter((job): job is Job<SendJobData> => job !== undefined));
    if (page.length < PAGE) break;
  }
  return jobs.reverse();
}

function summarize(channel: Channel, job: Job<SendJobData>): FailedJobSummary {
  return {
    channel,
    jobId: job.id ?? '',
    notificationId: job.data.notificationId,
    workflowId: job.data.workflowId ?? null,
    attemptsMade: job.attemptsMade,
    failedReason: job.failedReason,
    failedAt: job.finishedOn ? new Date(job.finishedOn) : null,
  };
}

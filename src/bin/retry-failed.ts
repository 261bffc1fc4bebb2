import { parseArgs } from 'node:util';
import { loadConfig } from '../config';
import { CHANNELS, isChannel, queueNameFor, type Channel } from '../domain/channels';
import { listFailedJobs, retryFailedJobs, type FailedJobSummary } from '../delivery/failed-jobs';
import { SendQueues } from '../delivery/send-queues';
import { connectRedis, redisTarget } from '../runtime/connections';
import { runMain } from './run-main';

const USAGE = `usage: retry-failed [--channel=email[,sms]] [--job=<notificationId>.<channel>] [--list] [--reset-attempts]
  Moves failed send jobs (retries used up, or refused for good) back to waiting.
  --channel          only these channel queues (default: all)
  --job              only this job
  --list             only print the failed jobs, retry nothing
  --reset-attempts   give each job its channel's full retry budget (default: one more attempt)`;

/**
 * `npm run retry-failed -- --channel=email`: retries failed send jobs. Only Redis is needed; a message
 * already sent is not sent again (the worker checks the send record before calling the provider).
 */
runMain(async () => {
  const { values } = parseArgs({
    options: {
      channel: { type: 'string' },
      job: { type: 'string' },
      list: { type: 'boolean', default: false },
      'reset-attempts': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const channels = parseChannels(values.channel);
  const config = loadConfig();
  const redis = await connectRedis(redisTarget(config), 'retry-failed');
  const queues = new SendQueues({
    connection: redis,
    prefix: config.queuePrefix,
    layout: config.redisKeyLayout,
    channels: config.channels,
  });
  try {
    const filter = { channels, jobId: values.job };
    if (values.list) {
      const failed = await listFailedJobs(queues, filter);
      for (const job of failed) process.stdout.write(`failed   ${describe(job)}\n`);
      process.stdout.write(`${failed.length} failed job(s)\n`);
    } else {
      const retried = await retryFailedJobs(queues, filter, { resetAttempts: values['reset-attempts'] });
      for (const job of retried) process.stdout.write(`retried  ${describe(job)}\n`);
      process.stdout.write(`${retried.length} failed job(s) retried\n`);
    }
  } finally {
    await queues.close();
    redis.disconnect();
  }
});

function parseChannels(value: string | undefined): Channel[] {
  if (value === undefined) return [...CHANNELS];
  const names = value
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  const unknown = names.find((c) => !isChannel(c));
  if (unknown !== undefined || names.length === 0)
    throw new Error(`--channel: unknown channel "${unknown ?? value}" (known: ${CHANNELS.join(', ')})`);
  return names as Channel[];
}

function describe(job: FailedJobSummary): string {
  const at = job.failedAt ? job.failedAt.toISOString() : '-';
  return `${queueNameFor(job.channel)} ${job.jobId} attempts=${job.attemptsMade} failedAt=${at} workflow=${job.workflowId} error=${JSON.stringify(job.failedReason)}`;
}

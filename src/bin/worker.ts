import { loadConfig } from '../config';
import { CHANNELS, isChannel } from '../domain/channels';
import { startService } from '../runtime/service';
import { leaveShutdownSignalsToUs } from '../runtime/temporal-worker';
import { onShutdownSignal, runMain } from './run-main';

/**
 * The production worker process.
 *   node dist/src/bin/worker.js                        workflow worker and every channel worker
 *   node dist/src/bin/worker.js --workflows-only       workflow worker only
 *   node dist/src/bin/worker.js --channels=email,sms   channel workers for these queues only
 * DELIVERY_CHANNELS does the same as --channels, for container environments.
 */
runMain(async () => {
  leaveShutdownSignalsToUs();
  const args = process.argv.slice(2);
  const channelsArg = args.find((a) => a.startsWith('--channels='))?.slice('--channels='.length);
  const env = { ...process.env, ...(channelsArg !== undefined ? { DELIVERY_CHANNELS: channelsArg } : {}) };
  if (channelsArg !== undefined) {
    const bad = channelsArg.split(',').filter((c) => !isChannel(c.trim()));
    if (bad.length)
      throw new Error(`--channels: unknown channel "${bad[0]}" (known: ${CHANNELS.join(', ')})`);
  }
  const config = loadConfig(env);
  const workflowsOnly = args.includes('--workflows-only');
  const service = await startService(
    config,
    { temporalWorker: channelsArg === undefined || workflowsOnly, deliveryWorkers: !workflowsOnly },
    (line) => process.stdout.write(`${line}\n`),
  );
  onShutdownSignal(() => service.stop());
});

import { parseArgs } from 'node:util';
import { loadConfig } from '../config';
import { listOpenRelease0, type OpenRelease0Execution } from '../release-0/open-executions';
import { connectTemporalClient } from '../runtime/connections';
import { runMain } from './run-main';

const USAGE = `usage: release0:open [--json]
  Lists the release-0 executions still open (docs/release-0.md): notificationWorkflow, and
  businessEventWorkflow / campaignWorkflow runs on release 0's code. Release 0 can be removed once
  this prints none.
  --json   one JSON array instead of lines`;

/** `npm run release0:open`: what still runs release 0's code; only Temporal is needed. */
runMain(async () => {
  const { values } = parseArgs({
    options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const config = loadConfig();
  const temporal = await connectTemporalClient(config.temporal);
  try {
    const open = await listOpenRelease0(temporal);
    process.stdout.write(values.json ? `${JSON.stringify(open)}\n` : report(open));
  } finally {
    await temporal.connection.close();
  }
});

function report(open: OpenRelease0Execution[]): string {
  const lines = open.map(
    (e) =>
      `${e.type} ${e.workflowId} started=${e.startTime.toISOString()} closesBy=${e.closesBy.toISOString()}`,
  );
  const latest = open.reduce<Date | null>((max, e) => (!max || e.closesBy > max ? e.closesBy : max), null);
  lines.push(
    open.length === 0
      ? '0 release-0 executions open: release 0 has drained'
      : `${open.length} release-0 execution(s) open; the last closes by ${latest!.toISOString()} at the latest`,
  );
  return `${lines.join('\n')}\n`;
}

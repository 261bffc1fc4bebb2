import { writeFileSync } from 'node:fs';
import { ChaosEnvironment } from './environment';
import type { ScenarioResult } from './judge';
import { failureDetails, resultTable } from './report';
import { runScenario } from './run-scenario';
import { DURATIONS, profiles, scenarios, type DurationClass } from './scenarios';

/**
 * `npm run chaos [-- --only=<pattern>] [--durations=short,minute] [--json=<file>] [--list]`
 * Runs the chaos scenarios (docs/chaos.md) against real processes, one environment per duration
 * profile, prints a markdown table and the failure details, exits 1 when any scenario lost, got
 * stuck or duplicated beyond policy.
 */
async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const chosen = scenarios({ only: args.only, durations: args.durations });
  if (args.list) {
    for (const s of chosen) process.stdout.write(`${s.name}\n`);
    return 0;
  }
  const byProfile = profiles();
  const log = (line: string) =>
    process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  const results: ScenarioResult[] = [];
  let env: ChaosEnvironment | null = null;
  const stop = async () => {
    await env?.close();
    env = null;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the environment`);
      void stop().finally(() => process.exit(130));
    });
  }
  // A crash still stops every child (environment.ts kills them on exit); the results so far are printed first.
  process.once('uncaughtException', (err) => {
    log(`uncaught: ${err.stack ?? err.message}`);
    process.stdout.write(`\n${resultTable(results)}\n\n${failureDetails(results)}\n`);
    process.exit(2);
  });
  try {
    for (const duration of DURATIONS) {
      const group = chosen.filter((s) => s.duration === duration);
      if (group.length === 0) continue;
      const profile = byProfile[duration];
      log(
        `profile ${duration}: ${group.length} scenario(s), fault ${profile.faultMs} ms, service env ${JSON.stringify(profile.serviceEnv)}`,
      );
      env = await ChaosEnvironment.start({ serviceEnv: profile.serviceEnv, log });
      for (const scenario of group) {
        results.push(await runScenario(env, scenario, profile, log));
        if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 2));
      }
      await stop();
    }
  } finally {
    await stop();
  }
  process.stdout.write(`\n${resultTable(results)}\n\n${failureDetails(results)}\n`);
  const failed = results.filter((r) => r.verdict === 'FAIL').length;
  process.stdout.write(`\n${results.length - failed} of ${results.length} scenario(s) passed.\n`);
  return failed ? 1 : 0;
}

interface Args {
  only?: string;
  durations?: DurationClass[];
  json?: string;
  list: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { list: false };
  for (const arg of argv) {
    const [name, value] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg, undefined];
    if (name === '--only' && value) args.only = value;
    else if (name === '--json' && value) args.json = value;
    else if (name === '--list') args.list = true;
    else if (name === '--durations' && value) {
      const list = value.split(',').map((d) => d.trim());
      const bad = list.find((d) => !(DURATIONS as readonly string[]).includes(d));
      if (bad) throw new Error(`--durations: unknown duration "${bad}" (known: ${DURATIONS.join(', ')})`);
      args.durations = list as DurationClass[];
    } else
      throw new Error(
        `unknown argument "${arg}" (known: --only=<pattern>, --durations=short,minute,beyond-budget, --json=<file>, --list)`,
      );
  }
  return args;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);

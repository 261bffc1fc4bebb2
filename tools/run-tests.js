#!/usr/bin/env node
/**
 * `npm test`: lints (prettier and eslint, `npm run lint`) and builds the browser surfaces, then runs jest as
 * two shards side by side (`--shard=1/2`, `--shard=2/2`) while the type check runs. Each shard is its own jest process with its own global setup: its own
 * Temporal dev server and its own test database (named after the process), so shards share nothing but
 * Redis, where every test stack has a key prefix of its own. On 2 cores this keeps the suite under ten
 * minutes while each file still runs its tests one after another.
 *
 *   npm test                                  everything
 *   npm test -- --report=FILE                 also write the shards' jest JSON reports merged into FILE
 *   npm test -- test/unit                     any other argument goes to both jest shards
 */
const { spawn } = require('node:child_process');
const { mkdtempSync, readFileSync, writeFileSync, createWriteStream } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const SHARDS = 2;
const args = process.argv.slice(2);
const reportArg = args.find((a) => a.startsWith('--report='));
const jestArgs = args.filter((a) => a !== reportArg);
const dir = mkdtempSync(join(tmpdir(), 'notification-tests-'));

function run(command, commandArgs, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, commandArgs, {
      stdio: options.log ? ['ignore', 'pipe', 'pipe'] : 'inherit',
      env: process.env,
    });
    if (options.log) {
      const out = createWriteStream(options.log);
      child.stdout.pipe(out);
      child.stderr.pipe(out);
    }
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main() {
  const jestBin = require.resolve('jest/bin/jest');
  // The type check runs beside the shards' start (jest's global setup starts Temporal meanwhile).
  const typecheck = run('npm', ['run', '--silent', 'typecheck']);
  const [lint, build] = await Promise.all([
    run('npm', ['run', '--silent', 'lint']),
    run('npm', ['run', '--silent', 'build:web']),
  ]);
  if (lint !== 0) process.stdout.write('lint failed (npm run lint; npm run format fixes what it can)\n');
  if (lint !== 0 || build !== 0) return finish(1);
  const shards = await Promise.all(
    Array.from({ length: SHARDS }, (_, i) => {
      const n = i + 1;
      const report = join(dir, `shard-${n}.json`);
      const log = join(dir, `shard-${n}.log`);
      return run(
        process.execPath,
        [jestBin, '--runInBand', `--shard=${n}/${SHARDS}`, '--json', `--outputFile=${report}`, ...jestArgs],
        { log },
      ).then((code) => ({ n, code, report, log }));
    }),
  );
  // One shard's output after the other, so a failure reads as it would in one run.
  for (const shard of shards)
    process.stdout.write(
      `\n===== jest shard ${shard.n}/${SHARDS} (exit ${shard.code}) =====\n${readFileSync(shard.log, 'utf8')}`,
    );
  const merged = mergeReports(shards.map((s) => s.report));
  if (reportArg) writeFileSync(reportArg.slice('--report='.length), JSON.stringify(merged));
  process.stdout.write(
    `\nall shards: ${merged.numPassedTests} passed, ${merged.numFailedTests} failed, ${merged.numPendingTests} skipped; ` +
      `${merged.numTotalTestSuites} files, ${merged.numRuntimeErrorTestSuites} could not run\n`,
  );
  const tc = await typecheck;
  if (tc !== 0) process.stdout.write('type check failed (npm run typecheck)\n');
  return finish(shards.some((s) => s.code !== 0) || tc !== 0 ? 1 : 0);
}

function mergeReports(files) {
  const sum = {
    numPassedTests: 0,
    numFailedTests: 0,
    numPendingTests: 0,
    numTotalTestSuites: 0,
    numRuntimeErrorTestSuites: 0,
    numFailedTestSuites: 0,
    testResults: [],
  };
  for (const file of files) {
    let report;
    try {
      report = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      // A shard that wrote no report could not run at all: count it as a suite that failed to run.
      sum.numRuntimeErrorTestSuites += 1;
      continue;
    }
    for (const key of [
      'numPassedTests',
      'numFailedTests',
      'numPendingTests',
      'numTotalTestSuites',
      'numRuntimeErrorTestSuites',
      'numFailedTestSuites',
    ])
      sum[key] += report[key] ?? 0;
    sum.testResults.push(...(report.testResults ?? []));
  }
  return sum;
}

function finish(code) {
  process.exitCode = code;
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exitCode = 1;
});

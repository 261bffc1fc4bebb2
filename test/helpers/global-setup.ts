import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { migrate, openOrm } from '../../src/db/orm';
import { recreateProcessDatabase } from '../../src/db/process-database';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { resolveTemporalCli } from '../../src/temporal/temporal-cli';

/**
 * One Temporal dev server (in memory) and one fresh test database for the whole integration run.
 * Test files isolate themselves further with their own task queue and queue prefix (see test-stack.ts).
 * The database is named after this run's process, so two runs on one machine never share one.
 */
const TEST_DATABASE_PREFIX = 'notifications_test_';
const TEST_DATABASE = `${TEST_DATABASE_PREFIX}${process.pid}`;

declare global {
  var __temporalDevServer: DevServer | undefined;

  var __testDatabase: { adminUrl: string; name: string } | undefined;
}

export default async function globalSetup(): Promise<void> {
  const cliPath = await resolveTemporalCli(process.env, (line) => process.stderr.write(`${line}\n`));
  // Bundle the workflows once for every test file instead of once per Worker.
  const [server, bundle] = await Promise.all([
    startDevServer({ cliPath }),
    bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietLogger }),
  ]);
  const bundlePath = join(await mkdtemp(join(tmpdir(), 'notification-workflows-')), 'workflow-bundle.js');
  await writeFile(bundlePath, bundle.code);
  process.env.TEST_WORKFLOW_BUNDLE = bundlePath;
  globalThis.__temporalDevServer = server;
  process.env.TEST_TEMPORAL_ADDRESS = server.address;
  process.env.TEST_TEMPORAL_CLI_PATH = cliPath;

  const base = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const testUrl = new URL(base.toString());
  testUrl.pathname = `/${TEST_DATABASE}`;
  await recreateProcessDatabase(base.toString(), TEST_DATABASE_PREFIX);
  const orm = await openOrm(testUrl.toString());
  try {
    await migrate(orm);
  } finally {
    await orm.close();
  }
  process.env.TEST_DATABASE_URL = testUrl.toString();
  globalThis.__testDatabase = { adminUrl: base.toString(), name: TEST_DATABASE };
}

const quietLogger = {
  log() {},
  trace() {},
  debug() {},
  info() {},
  warn: (message: string) => process.stderr.write(`workflow bundler: ${message}\n`),
  error: (message: string) => process.stderr.write(`workflow bundler: ${message}\n`),
};

/** Tests never touch dev data: each run gets its own database (dropped by the teardown). */
export { dropDatabase as dropTestDatabase } from '../../src/db/process-database';

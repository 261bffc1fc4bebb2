import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { DEV_CREDENTIALS, devCredentialLines, withDevApiCredentials } from '../api/dev-credentials';
import { startApi, type RunningApi } from '../api/server';
import { redactedUrl } from '../redacted-url';
import { loadConfig, type Config } from '../config';
import { migrate, openOrm } from '../db/orm';
import { seedDemoRecipients } from '../db/seeds/demo-recipients';
import type { Channel } from '../domain/channels';
import { DevOutboxProvider } from '../delivery/providers/dev-outbox-provider';
import { startService } from '../runtime/service';
import { leaveShutdownSignalsToUs } from '../runtime/temporal-worker';
import { startDevServer, temporalAnswers, type DevServer } from '../temporal/dev-server';
import { DEV_PAYLOAD_KEY_ID, withDevPayloadEncryption } from '../temporal/payload-codec';
import { resolveTemporalCli } from '../temporal/temporal-cli';
import { onShutdownSignal, runMain } from './run-main';

const ROOT = resolve(__dirname, '..', '..', '..');
const DATA_DIR = join(ROOT, '.data');
const TEMPORAL_UI_PORT = 8233;
const MAIL_WEB_PORT = 1080;

const log = (line: string) => process.stdout.write(`[dev] ${line}\n`);

function portAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port, timeout: 1000 });
    socket.once('connect', () => (socket.destroy(), done(true)));
    socket.once('error', () => done(false));
    socket.once('timeout', () => (socket.destroy(), done(false)));
  });
}

/** Dev: the Web UI at 127.0.0.1 or localhost may call the codec endpoint, unless CODEC_CORS_ORIGINS says otherwise. */
function withDevCodec(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if ((env.CODEC_CORS_ORIGINS ?? '').trim() !== '') return env;
  return {
    ...env,
    CODEC_CORS_ORIGINS: `http://127.0.0.1:${TEMPORAL_UI_PORT},http://localhost:${TEMPORAL_UI_PORT}`,
  };
}

/** Dev: emails get a shop to come from (docs/emails-and-locales.md) unless SHOP_* say otherwise. */
function withDevShop(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const value = (name: string, fallback: string) => ((env[name] ?? '').trim() === '' ? fallback : env[name]);
  return {
    ...env,
    SHOP_URL: value('SHOP_URL', 'http://localhost:8080'),
    SHOP_NAME: value('SHOP_NAME', 'Demo Shop'),
    SHOP_ADDRESS: value('SHOP_ADDRESS', '1 Demo Street, Pune 411001, India'),
  };
}

function payloadLine(keyId: string | null, uiConfigured: boolean, codecEndpoint: string): string {
  if (keyId === null) return 'in clear (PAYLOAD_ENCRYPTION_KEYS unset)';
  const key = keyId === DEV_PAYLOAD_KEY_ID ? 'the fixed dev key (not secret)' : `key "${keyId}"`;
  const ui = uiConfigured
    ? `the Web UI decodes them at ${codecEndpoint} (docs/security.md, "Encrypted payloads")`
    : `point the Web UI's codec endpoint at ${codecEndpoint}`;
  return `AES-256-GCM with ${key}; ${ui}`;
}

/** Everything in one process for development: Temporal dev server + Web UI, mail catcher, migrations, workers. */
runMain(async () => {
  leaveShutdownSignalsToUs();
  const config = loadConfig(
    withDevShop(withDevCodec(withDevPayloadEncryption(withDevApiCredentials(process.env)))),
    {
      allowDevCredentials: true,
    },
  );
  // The Web UI decodes payloads through the API's codec endpoint (admin-authenticated, see docs/security.md).
  const codecEndpoint = `http://${config.api.host === '0.0.0.0' ? '127.0.0.1' : config.api.host}:${config.port}/codec`;
  await mkdir(DATA_DIR, { recursive: true });
  const children: ChildProcess[] = [];

  // Postgres first: it also proves the database URL is right before anything else starts.
  await prepareDatabase(config.databaseUrl);
  const temporal = await ensureTemporal(config, codecEndpoint);
  const mailUi = await ensureMailCatcher(config.smtpUrl, children);
  const service = await startService(
    config,
    { temporalWorker: true, deliveryWorkers: true },
    log,
    devProviders(config.providers),
  );
  const api = await startApi(service, { logLevel: 'warn' });
  process.stdout.write(await banner({ config, api, temporal, mailUi, codecEndpoint }));

  onShutdownSignal(async () => {
    await api.close();
    await service.stop();
    for (const child of children) child.kill('SIGTERM');
    await temporal.server?.stop();
  });
});

async function prepareDatabase(databaseUrl: string): Promise<void> {
  const orm = await openOrm(databaseUrl);
  await migrate(orm);
  await seedDemoRecipients(orm);
  await orm.close();
  log(`Postgres migrated, demo recipients seeded (${redactedUrl(databaseUrl)})`);
}

/** The Temporal server already answering at TEMPORAL_ADDRESS, or a dev server started on 127.0.0.1 (server: null when not ours). */
async function ensureTemporal(
  config: Config,
  codecEndpoint: string,
): Promise<{ server: DevServer | null; uiUrl: string }> {
  const uiUrl = `http://127.0.0.1:${TEMPORAL_UI_PORT}`;
  if (await temporalAnswers(config.temporal.address)) {
    log(`using the Temporal server already answering at ${config.temporal.address}`);
    return { server: null, uiUrl };
  }
  const cliPath = await resolveTemporalCli(process.env, log);
  const [host, port] = config.temporal.address.split(':');
  if (host !== '127.0.0.1' && host !== 'localhost')
    throw new Error(
      `Temporal unreachable at ${config.temporal.address} (the dev server only starts on 127.0.0.1)`,
    );
  const server = await startDevServer({
    cliPath,
    port: Number(port),
    uiPort: TEMPORAL_UI_PORT,
    dbFile: join(DATA_DIR, 'temporal.db'),
    namespace: config.temporal.namespace,
    codecEndpoint,
    output: 'ignore',
  });
  log(`Temporal dev server started at ${server.address} (state in .data/temporal.db)`);
  return { server, uiUrl: server.uiUrl ?? uiUrl };
}

/** The mail catcher's web inbox: maildev started on SMTP_URL's port unless something answers there already. */
async function ensureMailCatcher(smtpUrl: string, children: ChildProcess[]): Promise<string> {
  const smtp = new URL(smtpUrl);
  const smtpPort = Number(smtp.port || 25);
  if (await portAnswers(smtp.hostname, smtpPort)) return `(SMTP ${smtpUrl} is yours)`;
  const maildev = spawn(
    join(ROOT, 'node_modules', '.bin', 'maildev'),
    [
      '--smtp',
      String(smtpPort),
      '--ip',
      '127.0.0.1',
      '--web',
      String(MAIL_WEB_PORT),
      '--web-ip',
      '127.0.0.1',
      '--silent',
    ],
    { stdio: 'ignore' },
  );
  children.push(maildev);
  const deadline = Date.now() + 15_000;
  while (!(await portAnswers('127.0.0.1', smtpPort))) {
    if (maildev.exitCode !== null || Date.now() > deadline)
      throw new Error(`mail catcher (maildev) did not start on port ${smtpPort}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return `http://127.0.0.1:${MAIL_WEB_PORT}`;
}

/** Channels without provider credentials print to this terminal instead of waiting forever. */
function devProviders(providers: Config['providers']) {
  const outbox = (channel: Channel) =>
    new DevOutboxProvider(channel, (line) => process.stdout.write(`[dev outbox] ${line}\n`));
  const { twilio, webPush, webhook } = providers;
  return {
    ...(twilio ? {} : { sms: outbox('sms') }),
    ...(webPush ? {} : { push: outbox('push') }),
    ...(webhook ? {} : { webhook: outbox('webhook') }),
  };
}

/** What runs where, and the credentials for the walk-through in docs/http-api.md. */
async function banner(up: {
  config: Config;
  api: RunningApi;
  temporal: { server: DevServer | null; uiUrl: string };
  mailUi: string;
  codecEndpoint: string;
}): Promise<string> {
  const { config, api, temporal } = up;
  const adminKey =
    (process.env.ADMIN_API_KEYS ?? '').trim() === ''
      ? `: ${DEV_CREDENTIALS.adminKey}`
      : ' from ADMIN_API_KEYS';
  const payloads = payloadLine(
    config.temporal.payloadEncryption?.currentKeyId ?? null,
    temporal.server !== null,
    up.codecEndpoint,
  );
  return [
    '',
    'Notification service (dev) is up:',
    `  HTTP API          ${api.url}`,
    `  API docs          ${api.docsUrl}`,
    `  Admin dashboard   ${api.url}/admin/   (sign in with an admin key${adminKey})`,
    `  Inbox             ${api.url}/inbox/   (${config.api.devLogin ? 'pick a demo user: DEV_LOGIN' : 'sign in with a user token'})`,
    `  Queue dashboard   ${api.queuesUrl}   (Basic auth: any user name, an admin key as password)`,
    `  Temporal Web UI   ${temporal.uiUrl}/namespaces/${config.temporal.namespace}/workflows`,
    `  Temporal gRPC     ${config.temporal.address}`,
    `  Payloads          ${payloads}`,
    `  Mail inbox        ${up.mailUi}`,
    `  Send an event     npm run send-event -- ORDER_CREATED u_42`,
    'Credentials for the curl walk-through (docs/http-api.md):',
    ...(await devCredentialLines(process.env, config.api.jwt)),
    'Press Ctrl+C to stop.',
    '',
  ].join('\n');
}

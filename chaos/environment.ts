import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { NotificationClient } from '../src/client/notification-client';
import { loadConfig, type Config } from '../src/config';
import { openOrm, type Orm } from '../src/db/orm';
import { CHANNELS } from '../src/domain/channels';
import { generateVapidKeys } from '../src/delivery/providers/web-push-provider';
import { connectTemporalClient } from '../src/runtime/connections';
import { freePort, startDevServer, type DevServer } from '../src/temporal/dev-server';
import { resolveTemporalCli } from '../src/temporal/temporal-cli';
import { NodeProcess } from '../test/helpers/node-process';
import { PrivatePostgres, PrivateRedis } from '../test/helpers/private-services';
import {
  LOCAL_STAND_IN_ENV,
  startPushServiceStandIn,
  startTwilioStandIn,
  startWebhookReceiver,
  type HttpStandIn,
} from '../test/helpers/provider-stand-ins';
import { SmtpPeer } from '../test/helpers/smtp-peer';

export type Log = (line: string) => void;

/**
 * Children that must not outlive the harness, even when it crashes: killed synchronously on exit.
 * (A worker process or a dev server left running would keep a private port and a state file busy.)
 */
const exitCleanups = new Set<() => void>();
let exitHookInstalled = false;
function onHarnessExit(cleanup: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const fn of exitCleanups) {
        try {
          fn();
        } catch {
          // best effort: the process is exiting
        }
      }
    });
  }
  exitCleanups.add(cleanup);
  return () => exitCleanups.delete(cleanup);
}

/** How long a service process may take to start: loading the sources takes well over ten seconds on a busy 2-core machine. */
const PROCESS_START_MS = 60_000;
/** Restarts after an unexpected exit: backoff doubling to 5 s, at most this many tries in a row. */
const MAX_RESTART_TRIES = 120;

/**
 * One service process (src/bin/*.ts) under a supervisor that restarts it when it exits on its own,
 * as an orchestrator would (restart policy "always"); `kill()` takes it down on purpose until `resume()`.
 */
export class ManagedProcess {
  /** What happened to it that was not asked for (exits and restarts), for the scenario report. */
  readonly events: string[] = [];
  private current: NodeProcess | null = null;
  /** Every process spawned so far, for the lines printed since a mark. */
  private readonly spawned: NodeProcess[] = [];
  private held = false;
  private closed = false;
  private restarting: Promise<void> | null = null;

  constructor(
    readonly name: string,
    private readonly script: string,
    private readonly args: string[],
    private readonly env: () => Record<string, string>,
    private readonly ready: RegExp,
    private readonly log: Log,
  ) {}

  get running(): boolean {
    return this.current !== null && this.current.exitCode === null;
  }

  /** Starts it and resolves once it logged its ready line; retries a start that fails (a dependency may still be down). */
  async start(): Promise<void> {
    this.held = false;
    let delayMs = 500;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.spawnOnce();
        return;
      } catch (err) {
        if (this.closed || this.held) return;
        if (attempt >= MAX_RESTART_TRIES)
          throw new Error(
            `${this.name} did not start after ${attempt} tries: ${(err as Error).message.split('\n')[0]}`,
            { cause: err },
          );
        this.note(`start failed (try ${attempt}): ${lastLines((err as Error).message, 2)}`);
        await sleep(delayMs);
        delayMs = Math.min(delayMs * 2, 5000);
      }
    }
  }

  /** SIGKILL; stays down until resume(). */
  async kill(): Promise<void> {
    this.held = true;
    const proc = this.current;
    if (!proc || proc.exitCode !== null) return;
    proc.kill('SIGKILL');
    await proc.exited;
  }

  async resume(): Promise<void> {
    await this.restarting;
    await this.start();
  }

  /** Resolves once it is up again after an unexpected exit (bounded by the restart tries). */
  async whenRunning(): Promise<void> {
    await this.restarting;
    if (!this.running && !this.held && !this.closed) await this.start();
  }

  /** A mark in its output: the function answers every line printed since (by this process and those started after it). */
  mark(): () => string[] {
    const first = Math.max(0, this.spawned.length - 1);
    const offset = this.spawned[first]?.output.length ?? 0;
    return () =>
      this.spawned.slice(first).flatMap((proc, i) => (i === 0 ? proc.output.slice(offset) : proc.output));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.current?.stop(10_000);
  }

  private async spawnOnce(): Promise<void> {
    const proc = new NodeProcess(this.script, this.args, this.env());
    this.current = proc;
    this.spawned.push(proc);
    const forget = onHarnessExit(() => proc.kill('SIGKILL'));
    void proc.exited.then(({ code, signal }) => {
      forget();
      this.onExit(proc, code, signal);
    });
    try {
      await proc.waitForLine(this.ready, PROCESS_START_MS);
    } catch (err) {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      await proc.exited;
      throw err;
    }
  }

  private onExit(proc: NodeProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.current !== proc || this.held || this.closed) return;
    // Exits during start-up are retried by start(); only a running process that dies is restarted from here.
    if (!proc.output.some((line) => this.ready.test(line))) return;
    this.note(`exited on its own (${signal ?? `code ${code}`}): ${proc.output.slice(-3).join(' | ')}`);
    this.restarting = this.start()
      .catch((err: Error) => this.note(`could not be restarted: ${err.message}`))
      .finally(() => (this.restarting = null));
  }

  private note(what: string): void {
    const line = `${new Date().toISOString()} ${this.name} ${what}`;
    this.events.push(line);
    this.log(line);
  }
}

export interface ChaosEnvironmentOptions {
  /** Env for every service process on top of the environment's own (the profile's budgets). */
  serviceEnv?: Record<string, string>;
  /** A prebuilt workflow bundle (tests pass the global setup's); default: bundled once here. */
  workflowBundlePath?: string;
  /** The Temporal CLI; default resolveTemporalCli (TEMPORAL_CLI_PATH, PATH, the cache). */
  temporalCliPath?: string;
  log?: Log;
}

/** The keys the harness publishes with when a scenario goes through the HTTP API (campaigns are an operator's route). */
const API_KEY = `chaos-${randomBytes(12).toString('hex')}`;
const ADMIN_API_KEY = `chaos-admin-${randomBytes(12).toString('hex')}`;

/**
 * Everything a chaos scenario needs, as real processes on private ports: a Temporal dev server
 * persisting to a state file, a private Postgres cluster and Redis (test/helpers/private-services.ts),
 * the workflow worker, one channel-worker process for every channel and (on demand) the HTTP API, a
 * real SMTP server and HTTP stand-ins for Twilio, a push service and webhook receivers.
 */
export class ChaosEnvironment {
  pg!: PrivatePostgres;
  redis!: PrivateRedis;
  smtp!: SmtpPeer;
  twilio!: HttpStandIn;
  pushService!: HttpStandIn;
  webhooks!: HttpStandIn;
  temporal!: DevServer;
  temporalPort = 0;
  config!: Config;
  orm!: Orm;
  temporalClient!: Client;
  notifications!: NotificationClient;
  workflowWorker!: ManagedProcess;
  channelWorker!: ManagedProcess;
  api: ManagedProcess | null = null;
  apiUrl = '';
  readonly apiKey = API_KEY;
  readonly adminApiKey = ADMIN_API_KEY;
  readonly dir = mkdtempSync(join(tmpdir(), 'notification-chaos-'));
  private serviceEnv: Record<string, string> = {};
  private forgetPrivateServices: () => void = () => undefined;
  private cliPath = '';
  private readonly log: Log;

  private constructor(private readonly options: ChaosEnvironmentOptions) {
    this.log = options.log ?? (() => undefined);
  }

  static async start(options: ChaosEnvironmentOptions = {}): Promise<ChaosEnvironment> {
    const env = new ChaosEnvironment(options);
    try {
      await env.startAll();
    } catch (err) {
      await env.close().catch(() => undefined);
      throw err;
    }
    return env;
  }

  get temporalDbFile(): string {
    return join(this.dir, 'temporal.db');
  }

  /** SIGKILL of the Temporal dev server (its state file stays). */
  async killTemporal(): Promise<void> {
    const child = this.temporal.process;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts the dev server again on the same port and state file. */
  async startTemporal(): Promise<void> {
    const server = await startDevServer({
      cliPath: this.cliPath,
      port: this.temporalPort,
      dbFile: this.temporalDbFile,
      startTimeoutMs: 60_000,
    });
    this.temporal = server;
    const forget = onHarnessExit(() => server.process.kill('SIGKILL'));
    server.process.once('exit', forget);
  }

  /** The HTTP API process, started on first use (only scenarios that publish through it need it). */
  async ensureApi(): Promise<ManagedProcess> {
    if (!this.api) {
      this.api = new ManagedProcess(
        'api',
        'src/bin/api.ts',
        [],
        () => this.processEnv(),
        /^HTTP API listening on /,
        this.log,
      );
      await this.api.start();
    }
    return this.api;
  }

  /** Everything up and writable again (between scenarios): a scenario starts from a healthy service. */
  async ensureHealthy(): Promise<void> {
    if (!this.redis.running) await this.redis.restart();
    await this.redis.acceptWrites();
    if (!this.pg.running) await this.pg.restart();
    if (this.temporal.process.exitCode !== null || this.temporal.process.signalCode !== null)
      await this.startTemporal();
    for (const proc of [this.workflowWorker, this.channelWorker, this.api]) {
      if (proc && !proc.running)
        await proc.whenRunning().then(() => (proc.running ? undefined : proc.resume()));
    }
  }

  /** Marks the output of every service process: the function answers the lines printed since, prefixed with the process name. */
  markOutput(): () => string[] {
    const marks = [this.workflowWorker, this.channelWorker, this.api]
      .filter((p): p is ManagedProcess => p !== null)
      .map((p) => [p.name, p.mark()] as const);
    return () => marks.flatMap(([name, since]) => since().map((line) => `${name}: ${line}`));
  }

  /** Everything the supervised processes did on their own (exits, restarts), oldest first. */
  processEvents(): string[] {
    return [this.workflowWorker, this.channelWorker, this.api].flatMap((p) => p?.events ?? []);
  }

  async close(): Promise<void> {
    const quietly = async (what: Promise<unknown> | undefined) => {
      await what?.catch(() => undefined);
    };
    await Promise.all([
      quietly(this.workflowWorker?.close()),
      quietly(this.channelWorker?.close()),
      quietly(this.api?.close()),
    ]);
    await quietly(this.temporalClient?.connection.close());
    await quietly(this.orm?.close());
    this.forgetPrivateServices();
    await Promise.all([
      quietly(this.temporal?.stop()),
      quietly(this.pg?.close()),
      quietly(this.redis?.close()),
      quietly(this.smtp?.stop()),
      quietly(this.twilio?.close()),
      quietly(this.pushService?.close()),
      quietly(this.webhooks?.close()),
    ]);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The env of every service process. */
  processEnv(): Record<string, string> {
    return { ...this.serviceEnv };
  }

  private async startAll(): Promise<void> {
    const began = Date.now();
    this.cliPath = this.options.temporalCliPath ?? (await resolveTemporalCli(process.env, this.log));
    this.temporalPort = await freePort();
    const [pg, redis, smtp, twilio, pushService, webhooks, bundlePath] = await Promise.all([
      PrivatePostgres.start(),
      PrivateRedis.start(),
      new SmtpPeer().start(),
      startTwilioStandIn(),
      startPushServiceStandIn(),
      startWebhookReceiver(),
      this.options.workflowBundlePath ?? this.bundleWorkflows(),
      this.startTemporal(),
    ]);
    Object.assign(this, { pg, redis, smtp, twilio, pushService, webhooks });
    this.forgetPrivateServices = onHarnessExit(() => {
      pg.closeSync();
      redis.closeSync();
    });
    const databaseUrl = await pg.createDatabase('chaos');
    const vapid = generateVapidKeys();
    this.serviceEnv = {
      TEMPORAL_ADDRESS: this.temporal.address,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      SMTP_URL: smtp.url,
      PORT: String(await freePort()),
      API_HOST: '127.0.0.1',
      API_KEYS: `chaos:${API_KEY}`,
      ADMIN_API_KEYS: `chaos-admin:${ADMIN_API_KEY}`,
      PAYLOAD_ENCRYPTION_KEYS: `chaos:${randomBytes(32).toString('base64')}`,
      WORKFLOW_BUNDLE_PATH: bundlePath,
      TWILIO_BASE_URL: twilio.url,
      TWILIO_ACCOUNT_SID: 'AC_chaos',
      TWILIO_AUTH_TOKEN: 'chaos-token',
      TWILIO_FROM: '+15005550006',
      VAPID_SUBJECT: 'mailto:chaos@shop.example',
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      WEBHOOK_SECRET: 'whsec_chaos_suite_secret',
      ...LOCAL_STAND_IN_ENV,
      // Stand-ins answer at once and never rate-limit: the fault is the only thing slowing the service down.
      ...Object.fromEntries(CHANNELS.map((c) => [`SEND_${c.toUpperCase()}_RATE_MAX`, '0'])),
      ...this.options.serviceEnv,
    };
    this.apiUrl = `http://127.0.0.1:${this.serviceEnv.PORT}`;
    this.config = loadConfig(this.serviceEnv);
    this.orm = await openOrm(databaseUrl, { poolMax: 4 });
    this.temporalClient = await connectTemporalClient(this.config.temporal);
    this.notifications = new NotificationClient(this.temporalClient, this.config.temporal.taskQueue, {
      campaignTaskQueue: this.config.temporal.campaignTaskQueue,
    });
    this.workflowWorker = new ManagedProcess(
      'workflow-worker',
      'src/bin/worker.ts',
      ['--workflows-only'],
      () => this.processEnv(),
      /^workflow workers polling task queues /,
      this.log,
    );
    this.channelWorker = new ManagedProcess(
      'channel-worker',
      'src/bin/worker.ts',
      [`--channels=${CHANNELS.join(',')}`],
      () => this.processEnv(),
      /^delivery workers consuming: /,
      this.log,
    );
    await Promise.all([this.workflowWorker.start(), this.channelWorker.start()]);
    this.log(
      `chaos environment up in ${Date.now() - began} ms (postgres initdb ${pg.timings.initdbMs} ms, start ${pg.timings.startMs} ms; temporal ${this.temporal.address}; state in ${this.dir})`,
    );
  }

  private async bundleWorkflows(): Promise<string> {
    const quiet = {
      log() {},
      trace() {},
      debug() {},
      info() {},
      warn: (m: string) => this.log(`workflow bundler: ${m}`),
      error: (m: string) => this.log(`workflow bundler: ${m}`),
    };
    const bundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../workflows'),
      logger: quiet,
    });
    const path = join(this.dir, 'workflow-bundle.js');
    writeFileSync(path, bundle.code);
    return path;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

function lastLines(text: string, n: number): string {
  return text.split('\n').filter(Boolean).slice(-n).join(' | ');
}

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Config } from '../../src/config';
import { encryptionKeysEnv } from '../../src/temporal/payload-codec';

const ROOT = join(__dirname, '..', '..');

/** Env for a child process that talks to the same Temporal, Postgres, Redis prefix and SMTP peer as a TestStack. */
export function childEnvFor(config: Config, extra: Record<string, string> = {}): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: config.temporal.address,
    TEMPORAL_NAMESPACE: config.temporal.namespace,
    TEMPORAL_TASK_QUEUE: config.temporal.taskQueue,
    DATABASE_URL: config.databaseUrl,
    REDIS_URL: config.redisUrl,
    ...(config.redisClusterNodes && {
      REDIS_CLUSTER_NODES: config.redisClusterNodes.map((n) => `${n.host}:${n.port}`).join(','),
    }),
    QUEUE_PREFIX: config.queuePrefix,
    SMTP_URL: config.smtpUrl,
    // The stack's payload keys: the child decrypts what the stack's clients encrypted.
    ...encryptionKeysEnv(config.temporal.payloadEncryption),
    ...extra,
  };
}

/**
 * A real entry point (`src/bin/<name>.ts`) in its own node process, transpiled on load by
 * tools/register-ts.js, so tests can SIGKILL or SIGTERM it like an orchestrator would.
 */
export class NodeProcess {
  readonly output: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private readonly waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];

  constructor(script: string, args: string[], env: Record<string, string>) {
    this.child = spawn(
      process.execPath,
      ['-r', join(ROOT, 'tools', 'register-ts.js'), join(ROOT, script), ...args],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) this.onLine(line);
      });
    }
  }

  /**
   * The channel worker process: `src/bin/worker.ts --channels=...`, resolved once it consumes its queues.
   * Loading the sources takes a few seconds, and well over ten on a machine busy with other test runs.
   */
  static async worker(
    channels: string,
    env: Record<string, string>,
    timeoutMs = 30_000,
  ): Promise<NodeProcess> {
    const worker = new NodeProcess('src/bin/worker.ts', [`--channels=${channels}`], env);
    await worker.waitForLine(/^delivery workers consuming: /, timeoutMs);
    return worker;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get exitCode(): number | null {
    return this.child.exitCode;
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Resolves with the first output line (stdout or stderr, past or future) matching pattern; rejects on exit or timeout. */
  waitForLine(pattern: RegExp, timeoutMs = 15_000): Promise<string> {
    const seen = this.output.find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = { pattern, resolve: (line: string) => (clearTimeout(timer), resolve(line)) };
      const fail = (why: string) => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`${why} before a line matched ${pattern}; output:\n${this.output.join('\n')}`));
      };
      const timer = setTimeout(() => fail(`${timeoutMs} ms passed`), timeoutMs);
      this.waiters.push(waiter);
      void this.exited.then(({ code, signal }) => {
        if (this.waiters.includes(waiter)) {
          clearTimeout(timer);
          fail(`the process exited (${signal ?? code})`);
        }
      });
    });
  }

  /** SIGTERM and wait for the exit (SIGKILL after timeoutMs). */
  async stop(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private onLine(line: string): void {
    this.output.push(line);
    for (const waiter of [...this.waiters]) {
      if (waiter.pattern.test(line)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  }
}

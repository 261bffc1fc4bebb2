import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { migrate, openOrm } from '../../src/db/orm';
import { isAlive } from '../../src/db/process-database';
import { freePort } from '../../src/temporal/dev-server';

/**
 * A private Redis and a private Postgres cluster, each on a free port of its own, that a fault test
 * may stop, restart, flush or make refuse writes without touching the machine's shared services
 * (other test runs use those at the same time). Used by the chaos suite (docs/chaos.md) and tests.
 */

const run = promisify(execFile);
const PG_BIN = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';
const REDIS_SERVER = process.env.REDIS_SERVER_PATH ?? 'redis-server';
/** Temp dirs of this helper carry the owner's pid, so a later run can stop clusters a killed run left behind. */
const PG_DIR_PREFIX = 'notification-private-pg-';
const REDIS_DIR_PREFIX = 'notification-private-redis-';

async function pollUntil(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Temp dirs of ours whose owning process is gone: `cleanup` stops what runs there, then the dir goes. */
async function sweepLeftovers(prefix: string, cleanup: (dir: string) => Promise<void>): Promise<void> {
  for (const name of readdirSync(tmpdir())
    .filter((n) => n.startsWith(prefix))
    .slice(0, 50)) {
    const dir = join(tmpdir(), name);
    const owner = Number(readFileSync(join(dir, 'owner.pid'), { encoding: 'utf8', flag: 'a+' }).trim());
    if (isAlive(owner)) continue;
    await cleanup(dir).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- Redis

/** One admin command on a fresh connection that gives up fast (the server may be down on purpose). */
async function redisCommand(port: number, args: (string | number)[], timeoutMs = 2000): Promise<unknown> {
  const redis = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const [command, ...rest] = args;
    return await redis.call(String(command), ...rest);
  } finally {
    redis.disconnect();
  }
}

export class PrivateRedis {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  /** A `redis-server` child on a free port: no persistence (`--save ""`, no AOF), so a restart comes back empty. */
  static async start(): Promise<PrivateRedis> {
    await sweepLeftovers(REDIS_DIR_PREFIX, async (dir) => {
      const pid = Number(readFileSync(join(dir, 'server.pid'), { encoding: 'utf8', flag: 'a+' }).trim());
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    });
    const dir = mkdtempSync(join(tmpdir(), REDIS_DIR_PREFIX));
    writeFileSync(join(dir, 'owner.pid'), String(process.pid));
    const redis = new PrivateRedis(await freePort(), dir);
    await redis.launch();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Writes answer `OOM command not allowed when used memory > 'maxmemory'` (reads still work), as a full Redis does. */
  async refuseWrites(): Promise<void> {
    await redisCommand(this.port, ['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
    await redisCommand(this.port, ['CONFIG', 'SET', 'maxmemory', '1']);
  }

  async acceptWrites(): Promise<void> {
    await redisCommand(this.port, ['CONFIG', 'SET', 'maxmemory', '0']);
  }

  /** Every key gone (FLUSHALL), the server keeps running: jobs in flight are lost. */
  async flush(): Promise<void> {
    await redisCommand(this.port, ['FLUSHALL']);
  }

  /** Stops the server: `shutdown` = SHUTDOWN NOSAVE (clients see the connection close), `kill` = SIGKILL. */
  async stop(mode: 'shutdown' | 'kill' = 'shutdown'): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (mode === 'shutdown') await redisCommand(this.port, ['SHUTDOWN', 'NOSAVE']).catch(() => undefined);
    else child.kill('SIGKILL');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }

  /** Starts the server again on the same port, empty (no persistence). */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  async close(): Promise<void> {
    await this.stop('kill');
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** close() for a process that is exiting (no event loop left): SIGKILL and remove the dir, synchronously. */
  closeSync(): void {
    this.child?.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Number of keys (e.g. to see a flush or a restart emptied it). */
  async dbsize(): Promise<number> {
    return Number(await redisCommand(this.port, ['DBSIZE']));
  }

  private async launch(): Promise<void> {
    const child = spawn(
      REDIS_SERVER,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.dir,
        '--protected-mode',
        'no',
        '--loglevel',
        'warning',
        '--logfile',
        join(this.dir, 'redis.log'),
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    writeFileSync(join(this.dir, 'server.pid'), String(child.pid ?? ''));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.exited.then(() => {
      if (this.child === child) this.child = null;
    });
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    let failed: Error | null = null;
    void spawnError.then((err) => (failed = err));
    await pollUntil(
      async () => {
        if (failed) throw new Error(`${REDIS_SERVER} could not start: ${failed.message}`);
        if (!this.child)
          throw new Error(`${REDIS_SERVER} exited at start; see ${join(this.dir, 'redis.log')}`);
        return (await redisCommand(this.port, ['PING'], 500).catch(() => null)) === 'PONG';
      },
      10_000,
      `private redis-server did not answer on port ${this.port}`,
    );
  }
}

// ---------------------------------------------------------------- Postgres

/** We run as root in CI and dev containers; initdb and postgres refuse root, so they run as `postgres`. */
function asPostgresUser(bin: string, args: string[]): [string, string[]] {
  const path = join(PG_BIN, bin);
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
}

async function pgTool(bin: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const [command, argv] = asPostgresUser(bin, args);
  try {
    const { stdout } = await run(command, argv, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${bin} ${args.join(' ')} failed: ${(e.stderr || e.stdout || e.message).trim()}`, {
      cause: err,
    });
  }
}

/**
 * A pristine cluster made by initdb once per machine and copied for every PrivatePostgres: initdb takes
 * 1-6 s on a busy 2-core machine, a copy a fraction of that. Built under a temp name and renamed, so two
 * runs starting at once never see half a template.
 */
async function initializedCluster(): Promise<string> {
  const template = join(
    tmpdir(),
    `notification-pg-template-${(await pgTool('pg_ctl', ['--version'])).match(/\d+/)?.[0] ?? 'x'}`,
  );
  if (existsSync(join(template, 'PG_VERSION'))) return template;
  const building = mkdtempSync(join(tmpdir(), 'notification-pg-template-building-'));
  if (process.getuid?.() === 0) chownPostgres(building);
  try {
    await pgTool('initdb', [
      '-D',
      join(building, 'data'),
      '-U',
      'postgres',
      '--auth=trust',
      '--no-sync',
      '--no-instructions',
      '-E',
      'UTF8',
      '--locale=C',
    ]);
    try {
      renameSync(join(building, 'data'), template);
    } catch (err) {
      // Another run renamed its template first: use that one.
      if (!existsSync(join(template, 'PG_VERSION'))) throw err;
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  return template;
}

export interface PrivatePostgresTimings {
  /** Copying the initdb'd template (initdb itself the first time on a machine). */
  initdbMs: number;
  startMs: number;
}

export class PrivatePostgres {
  readonly timings: PrivatePostgresTimings = { initdbMs: 0, startMs: 0 };
  private up = false;

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  /**
   * A cluster of its own (initdb in a temp dir, trust auth, fsync off: durability of a test cluster is
   * not the point) listening on 127.0.0.1 on a free port. Takes about a second or two.
   */
  static async start(): Promise<PrivatePostgres> {
    await sweepLeftovers(PG_DIR_PREFIX, (dir) =>
      pgTool('pg_ctl', ['stop', '-D', join(dir, 'data'), '-m', 'immediate', '-w', '-t', '10']).then(
        () => undefined,
      ),
    );
    const dir = mkdtempSync(join(tmpdir(), PG_DIR_PREFIX));
    writeFileSync(join(dir, 'owner.pid'), String(process.pid));
    if (process.getuid?.() === 0) chownPostgres(dir);
    const pg = new PrivatePostgres(await freePort(), dir);
    const began = Date.now();
    await run('cp', ['-a', await initializedCluster(), pg.dataDir]);
    pg.timings.initdbMs = Date.now() - began;
    await pg.restart();
    return pg;
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  get running(): boolean {
    return this.up;
  }

  /** Connection URL of database `db` (default `postgres`). */
  url(db = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${encodeURIComponent(db)}`;
  }

  /** Creates database `name` with the project's migrations applied; returns its URL. */
  async createDatabase(name: string): Promise<string> {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name))
      throw new Error(`database name "${name}" must match [a-z_][a-z0-9_]* (at most 63 chars)`);
    const orm = await openOrm(this.url(name), { poolMax: 2 });
    try {
      await migrate(orm);
    } finally {
      await orm.close();
    }
    return this.url(name);
  }

  /** Stops the server: `fast` (clients disconnected, clean shutdown) or `immediate` (like a crash: recovery at the next start). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!this.up) return;
    await pgTool('pg_ctl', ['stop', '-D', this.dataDir, '-m', mode, '-w', '-t', '30']);
    this.up = false;
  }

  /** Starts the server (again) on the same port and data. */
  async restart(): Promise<void> {
    await this.stop();
    const began = Date.now();
    const options = [
      `-p ${this.port}`,
      `-c listen_addresses=127.0.0.1`,
      `-c unix_socket_directories=${this.dir}`,
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=200',
    ].join(' ');
    await pgTool('pg_ctl', [
      'start',
      '-D',
      this.dataDir,
      '-l',
      join(this.dir, 'postgres.log'),
      '-w',
      '-t',
      '60',
      '-o',
      options,
    ]);
    this.up = true;
    this.timings.startMs = Date.now() - began;
  }

  async close(): Promise<void> {
    if (this.up) await this.stop('immediate').catch(() => undefined);
    if (existsSync(this.dir)) rmSync(this.dir, { recursive: true, force: true });
  }

  /** close() for a process that is exiting (no event loop left): immediate stop and removal, synchronously. */
  closeSync(): void {
    if (this.up) {
      const [command, argv] = asPostgresUser('pg_ctl', [
        'stop',
        '-D',
        this.dataDir,
        '-m',
        'immediate',
        '-w',
        '-t',
        '10',
      ]);
      spawnSync(command, argv, { stdio: 'ignore', timeout: 15_000 });
      this.up = false;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function chownPostgres(dir: string): void {
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((line) => line.startsWith('postgres:'));
  const [uid, gid] = (entry?.split(':').slice(2, 4) ?? []).map(Number);
  if (!Number.isInteger(uid) || !Number.isInteger(gid))
    throw new Error('running as root needs a `postgres` user in /etc/passwd to run initdb and postgres as');
  chownSync(dir, uid, gid);
}

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_NAMES } from './search-attributes';

export interface DevServerOptions {
  /** Path of the `temporal` executable (see resolveTemporalCli). */
  cliPath: string;
  /** gRPC port; default: a free port. */
  port?: number;
  /** Web UI port; null runs headless. Default: headless. */
  uiPort?: number | null;
  /** SQLite file to persist to; default: in memory. */
  dbFile?: string;
  namespace?: string;
  /** How long to wait for the frontend to answer. Default 60 s. */
  startTimeoutMs?: number;
  /** The Web UI's remote codec endpoint (`--ui-codec-endpoint`): it decodes payloads there for display. */
  codecEndpoint?: string;
  /** Where the server's own output goes. Default: dropped. */
  output?: 'inherit' | 'ignore';
}

export interface DevServer {
  address: string;
  uiUrl: string | null;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** True when a Temporal frontend answers at address within timeoutMs. */
export async function temporalAnswers(address: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: timeoutMs });
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

/** Starts `temporal server start-dev` with this project's search attributes and waits until it answers. */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const port = options.port ?? (await freePort());
  const uiPort = options.uiPort ?? null;
  const namespace = options.namespace ?? 'default';
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--http-port',
    String(await freePort()),
    '--metrics-port',
    String(await freePort()),
    '--namespace',
    namespace,
    '--log-level',
    'warn',
    // The SDK's own CI speeds SQLite up this way; durability of a dev server is not the point.
    '--sqlite-pragma',
    'journal_mode=WAL',
    '--sqlite-pragma',
    'synchronous=OFF',
    ...SEARCH_ATTRIBUTE_NAMES.flatMap((name) => ['--search-attribute', `${name}=Keyword`]),
  ];
  if (uiPort === null) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  if (uiPort !== null && options.codecEndpoint) args.push('--ui-codec-endpoint', options.codecEndpoint);
  if (options.dbFile) args.push('--db-filename', options.dbFile);

  const child = spawn(options.cliPath, args, {
    stdio: ['ignore', options.output ?? 'ignore', options.output ?? 'ignore'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  while (!(await temporalAnswers(address, 1000))) {
    if (exitCode !== undefined)
      throw new Error(`temporal server start-dev exited with code ${exitCode} before answering`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`temporal server start-dev did not answer at ${address} in time`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    address,
    uiUrl: uiPort === null ? null : `http://127.0.0.1:${uiPort}`,
    process: child,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait-for';

/** Whether nothing listens on the port (127.0.0.1). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port whose cluster bus port (+10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    if (taken.has(port)) continue;
    if ((await portFree(port)) && (await portFree(port + 10_000))) return port;
  }
}

function redisCli(args: string[]): string {
  const out = spawnSync('redis-cli', args, { encoding: 'utf8', timeout: 30_000 });
  if (out.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${out.stderr || out.stdout}`);
  return out.stdout;
}

/**
 * A Redis Cluster of three masters (no replicas) made of the machine's `redis-server` on free ports, in a
 * directory of its own, without persistence; `redis-cli --cluster create` assigns the 16384 slots.
 */
export class PrivateRedisCluster {
  private constructor(
    readonly ports: number[],
    private readonly dir: string,
    private readonly children: ChildProcess[],
  ) {}

  static async start(masters = 3): Promise<PrivateRedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'notifications-redis-cluster-'));
    const taken = new Set<number>();
    const ports: number[] = [];
    for (let i = 0; i < masters; i++) {
      const port = await clusterPort(taken);
      taken.add(port);
      ports.push(port);
    }
    const children = ports.map((port) =>
      spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--cluster-node-timeout',
          '5000',
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
        ],
        { stdio: 'ignore' },
      ),
    );
    const cluster = new PrivateRedisCluster(ports, dir, children);
    try {
      for (const port of ports)
        await waitFor(() =>
          spawnSync('redis-cli', ['-p', String(port), 'ping']).status === 0 ? true : undefined,
        );
      redisCli([
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ]);
      for (const port of ports)
        await waitFor(() =>
          redisCli(['-p', String(port), 'cluster', 'info']).includes('cluster_state:ok') ? true : undefined,
        );
    } catch (err) {
      cluster.stop();
      throw err;
    }
    return cluster;
  }

  get nodes(): { host: string; port: number }[] {
    return this.ports.map((port) => ({ host: '127.0.0.1', port }));
  }

  /** Every key on every master matching the pattern, with the master's port. */
  keys(pattern: string): { key: string; port: number }[] {
    return this.ports.flatMap((port) =>
      redisCli(['-p', String(port), '--scan', '--pattern', pattern])
        .split('\n')
        .filter(Boolean)
        .map((key) => ({ key, port })),
    );
  }

  stop(): void {
    for (const child of this.children) child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

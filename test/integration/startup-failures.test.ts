import { freePort } from '../../src/temporal/dev-server';
import { NodeProcess } from '../helpers/node-process';

/** Every component fails fast with one clear line naming what is wrong (docs/contracts.md). */
describe('start-up failures', () => {
  const base = () => ({
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS!,
    DATABASE_URL: process.env.TEST_DATABASE_URL!,
    REDIS_URL: 'redis://127.0.0.1:6379',
    TEMPORAL_TASK_QUEUE: 'startup-failures',
  });

  async function startWorker(env: Record<string, string>): Promise<{ code: number | null; lines: string[] }> {
    const worker = new NodeProcess('src/bin/worker.ts', ['--workflows-only'], env);
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      worker.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`worker still running: ${worker.output.join('\n')}`)),
          20_000,
        );
      }),
    ]).finally(() => {
      clearTimeout(timer);
      if (worker.exitCode === null) worker.kill('SIGKILL');
    });
    return { code: exit.code, lines: worker.output.filter((line) => line.startsWith('error: ')) };
  }

  it.each([
    [
      'Postgres',
      (port: number) => ({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/notifications` }),
      /^error: Postgres unreachable at postgres:\/\/postgres@127\.0\.0\.1:\d+\/notifications/,
    ],
    [
      'Redis',
      (port: number) => ({ REDIS_URL: `redis://127.0.0.1:${port}` }),
      /^error: Redis unreachable at redis:\/\/127\.0\.0\.1:\d+/,
    ],
    [
      'Temporal',
      (port: number) => ({ TEMPORAL_ADDRESS: `127.0.0.1:${port}` }),
      /^error: Temporal unreachable at 127\.0\.0\.1:\d+/,
    ],
  ])('names an unreachable %s and exits 1', async (_name, override, expected) => {
    const closedPort = await freePort();
    const { code, lines } = await startWorker({ ...base(), ...override(closedPort) });
    expect(code).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(expected);
  });

  it('names a bad environment variable before connecting to anything', async () => {
    const { code, lines } = await startWorker({ ...base(), SEND_EMAIL_CONCURRENCY: 'lots' });
    expect(code).toBe(1);
    expect(lines).toEqual([expect.stringMatching(/^error: invalid configuration: SEND_EMAIL_CONCURRENCY: /)]);
  });

  it('names a bad DATABASE_POOL_MAX before connecting to anything', async () => {
    const { code, lines } = await startWorker({ ...base(), DATABASE_POOL_MAX: '0' });
    expect(code).toBe(1);
    expect(lines).toEqual([expect.stringMatching(/^error: invalid configuration: DATABASE_POOL_MAX: /)]);
  });

  it('names a bad retention setting before connecting to anything', async () => {
    const { code, lines } = await startWorker({ ...base(), NOTIFICATION_RETENTION_DAYS: 'a year' });
    expect(code).toBe(1);
    expect(lines).toEqual([expect.stringMatching(/^error: NOTIFICATION_RETENTION_DAYS must be /)]);
  });

  it('names a bad analytics rollup interval before connecting to anything', async () => {
    const { code, lines } = await startWorker({ ...base(), ANALYTICS_ROLLUP_MS: '-5' });
    expect(code).toBe(1);
    expect(lines).toEqual([
      expect.stringMatching(/^error: ANALYTICS_ROLLUP_MS must be 0 \(off\) or milliseconds/),
    ]);
  });
});

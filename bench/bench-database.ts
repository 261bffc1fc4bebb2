import { loadavg } from 'node:os';
import { migrate, openOrm, type Orm } from '../src/db/orm';
import { dropDatabase, recreateProcessDatabase } from '../src/db/process-database';

/**
 * Runs `work` on a database of its own next to DATABASE_URL's (`<prefix><pid>`, created and migrated
 * first, dropped afterwards whatever happens), through a pool of two connections.
 */
export async function withBenchDatabase(prefix: string, work: (orm: Orm) => Promise<void>): Promise<void> {
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = await recreateProcessDatabase(adminUrl, prefix);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const orm = await openOrm(url.toString(), { poolMax: 2 });
  try {
    await migrate(orm);
    await work(orm);
  } finally {
    await orm.close();
    await dropDatabase(adminUrl, name);
  }
}

/** The 1-, 5- and 15-minute load averages, `a / b / c`: other work on the machine skews every figure. */
export function loadAverages(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
}

/** Runs a benchmark's main; an error is printed and the process exits 1. */
export function runBench(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

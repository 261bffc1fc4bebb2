import { MikroORM } from '@mikro-orm/postgresql';

/**
 * A database of one process (a test run, a benchmark): `<prefix><pid>`, created fresh; ones left by
 * processes that died (their pid gone) are dropped first, so two runs on one machine never share one.
 */
export async function recreateProcessDatabase(
  adminUrl: string,
  prefix: string,
  pid = process.pid,
): Promise<string> {
  const name = `${prefix}${pid}`;
  await withAdminConnection(adminUrl, async (execute) => {
    const leftovers = (await execute(`select datname from pg_database where datname like '${prefix}%'`)) as {
      datname: string;
    }[];
    for (const { datname } of leftovers) {
      const owner = Number(datname.slice(prefix.length));
      if (datname === name || !isAlive(owner))
        await execute(`drop database if exists "${datname}" with (force)`);
    }
    await execute(`create database "${name}"`);
  });
  return name;
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await withAdminConnection(adminUrl, (execute) => execute(`drop database if exists "${name}" with (force)`));
}

/** Whether a process with this pid runs on this machine (the owner of a leftover database or temp dir). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs statements on the server's `postgres` database (the one databases are created from). */
async function withAdminConnection<T>(
  adminUrl: string,
  work: (execute: (sql: string) => Promise<unknown[]>) => Promise<T>,
): Promise<T> {
  const url = new URL(adminUrl);
  url.pathname = '/postgres';
  const orm = await MikroORM.init({
    clientUrl: url.toString(),
    entities: [],
    discovery: { warnWhenNoEntities: false },
    ensureDatabase: false,
    allowGlobalContext: true,
  });
  try {
    const conn = orm.em.getConnection();
    return await work((sql) => conn.execute(sql));
  } finally {
    await orm.close();
  }
}

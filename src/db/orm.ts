import { MikroORM, defineConfig } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';
import { redactedUrl } from '../redacted-url';

export type Orm = MikroORM;

export function ormConfig(databaseUrl: string, options: { debug?: boolean; poolMax?: number } = {}) {
  return defineConfig({
    clientUrl: databaseUrl,
    entities: ENTITIES,
    extensions: [Migrator],
    debug: options.debug ?? false,
    pool: { min: 0, max: options.poolMax ?? 10 },
    // Creates the database named in the URL when missing (dev and tests).
    ensureDatabase: true,
    migrations: {
      migrationsList: MIGRATIONS,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
    // The global EntityManager is never used directly: callers fork one per unit of work.
    allowGlobalContext: false,
  });
}

export async function openOrm(databaseUrl: string, options: { poolMax?: number } = {}): Promise<Orm> {
  try {
    return await MikroORM.init(ormConfig(databaseUrl, options));
  } catch (err) {
    throw new Error(`Postgres unreachable at ${redactedUrl(databaseUrl)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

export async function migrate(orm: Orm): Promise<void> {
  await orm.getMigrator().up();
}

import { dropTestDatabase } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  await globalThis.__temporalDevServer?.stop();
  const db = globalThis.__testDatabase;
  if (db) await dropTestDatabase(db.adminUrl, db.name);
}

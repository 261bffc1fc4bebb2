import { loadConfig } from '../config';
import { migrate, openOrm } from '../db/orm';
import { seedDemoRecipients } from '../db/seeds/demo-recipients';
import { runMain } from './run-main';

/** `node dist/src/bin/migrate.js [--seed-demo]`: creates the database if missing and applies migrations. */
runMain(async () => {
  const config = loadConfig();
  const orm = await openOrm(config.databaseUrl);
  try {
    await migrate(orm);
    if (process.argv.includes('--seed-demo')) await seedDemoRecipients(orm);
    process.stdout.write('database migrated\n');
  } finally {
    await orm.close();
  }
});

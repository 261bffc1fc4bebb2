import { Connection } from '@temporalio/client';
import { openOrm } from '../../src/db/orm';
import { MIGRATIONS } from '../../src/db/migrations';

describe('test infrastructure', () => {
  it('has a Temporal server with the search attributes and a migrated database', async () => {
    const connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! });
    const attrs = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(Object.keys(attrs.customAttributes ?? {})).toEqual(
      expect.arrayContaining([
        'NotificationEventId',
        'NotificationEventType',
        'NotificationUserId',
        'NotificationRecipientRef',
      ]),
    );
    await connection.close();

    const orm = await openOrm(process.env.TEST_DATABASE_URL!);
    try {
      expect(await orm.getMigrator().getPendingMigrations()).toEqual([]);
      const applied = await orm.getMigrator().getExecutedMigrations();
      expect(applied.map((m) => m.name)).toEqual(MIGRATIONS.map((m) => m.name));
    } finally {
      await orm.close();
    }
  });
});

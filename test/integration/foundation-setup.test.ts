import { Connection } from '@temporalio/client';
import { openOrm } from '../../src/db/orm';

describe('test infrastructure', () => {
  it('has a Temporal server with the search attributes and a migrated database', async () => {
    const connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! });
    const attrs = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(Object.keys(attrs.customAttributes ?? {})).toEqual(expect.arrayContaining(['NotificationEventId', 'NotificationEventType', 'NotificationUserId']));
    await connection.close();
    const orm = await openOrm(process.env.TEST_DATABASE_URL!);
    const rows = await orm.em.fork().getConnection().execute(`select count(*)::int as n from recipients`);
    expect(rows[0].n).toBe(0);
    await orm.close();
  });
});

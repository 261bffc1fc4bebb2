import { openOrm, type Orm } from '../../src/db/orm';
import { recordConsents } from '../../src/db/repositories/consent-repository';
import { DEMO_RECIPIENTS, seedDemoRecipients, type DemoRecipient } from '../../src/db/seeds/demo-recipients';

describe('demo recipients', () => {
  let orm: Orm;
  beforeAll(async () => {
    orm = await openOrm(process.env.TEST_DATABASE_URL!);
  });
  afterAll(() => orm.close());

  const consentOf = async (id: string) =>
    (
      await orm.em
        .getConnection()
        .execute<{ granted: boolean; source: string }[]>(
          `select granted, source from consents where recipient_id = ? and category = 'marketing'`,
          [id],
        )
    )[0];

  it('u_42 is seeded opted in to marketing (source import), u_43 is not', () => {
    expect(DEMO_RECIPIENTS.find((d) => d.id === 'u_42')?.marketingOptIn).toBe(true);
    expect(DEMO_RECIPIENTS.find((d) => d.id === 'u_43')?.marketingOptIn).toBeFalsy();
  });

  it('records the opt-in when the seed creates the recipient, and never overwrites a decision', async () => {
    // Ids of this run (the test database is shared by the run's tests; u_42 belongs to others).
    const run = `${process.pid}_${Date.now()}`;
    const demos: DemoRecipient[] = DEMO_RECIPIENTS.filter((d) => d.id !== 'u_admin').map((d) => ({
      ...d,
      id: `${d.id}_${run}`,
    }));
    const [asha, ben] = demos.map((d) => d.id);
    await seedDemoRecipients(orm, demos);
    expect(await consentOf(asha)).toEqual({ granted: true, source: 'import' });
    expect(await consentOf(ben)).toBeUndefined();

    // Asha opts out; seeding again (every `npm run dev`) leaves her decision alone.
    await recordConsents(orm.em.fork(), [
      { recipientId: asha, category: 'marketing', granted: false, at: new Date(), source: 'inbox' },
    ]);
    await seedDemoRecipients(orm, demos);
    expect(await consentOf(asha)).toEqual({ granted: false, source: 'inbox' });
    expect(await consentOf(ben)).toBeUndefined();
  });
});

import { migrate, openOrm, type Orm } from '../../src/db/orm';
import { dropDatabase, recreateProcessDatabase } from '../../src/db/process-database';
import { CampaignRepository } from '../../src/db/repositories/campaign-repository';
import { recipientIdsWithRole } from '../../src/db/recipient-roles';

/**
 * Role queries read recipients through the GIN index recipients_roles_idx (docs/production.md, "Role
 * queries"): the statements the code sends are captured from knex and EXPLAINed on a table of 20,000
 * recipients with planner statistics, as a shop's table would have them.
 */
describe('role queries on the GIN index', () => {
  const DATABASE_PREFIX = 'notifications_role_queries_test_';
  const adminUrl = process.env.TEST_DATABASE_URL!;
  const ROWS = 20_000;
  let databaseName: string | undefined;
  let orm: Orm;

  const sql = <T>(text: string, params: unknown[] = []): Promise<T[]> =>
    orm.em.getConnection().execute(text, params);

  /** The statements (sql, bindings) knex sends while `work` runs. */
  async function captured(work: () => Promise<unknown>): Promise<{ sql: string; bindings: unknown[] }[]> {
    const knex = orm.em.getConnection().getKnex();
    const seen: { sql: string; bindings: unknown[] }[] = [];
    const listener = (q: { sql: string; bindings?: unknown[] }) =>
      seen.push({ sql: q.sql, bindings: q.bindings ?? [] });
    knex.on('query', listener);
    try {
      await work();
    } finally {
      knex.off('query', listener);
    }
    return seen;
  }

  /** The plan of one statement, as text lines. */
  async function plan(statement: { sql: string; bindings: unknown[] }): Promise<string> {
    const rows = await sql<{ 'QUERY PLAN': string }>(`explain ${statement.sql}`, statement.bindings);
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  }

  beforeAll(async () => {
    databaseName = await recreateProcessDatabase(adminUrl, DATABASE_PREFIX);
    const url = new URL(adminUrl);
    url.pathname = `/${databaseName}`;
    orm = await openOrm(url.toString());
    await migrate(orm);
    // 20 admins, 380 support agents who are customers too, the rest customers only.
    await sql(
      `insert into recipients (id, roles)
       select 'u' || lpad(i::text, 6, '0'),
              case when i % 1000 = 0 then array['admin']
                   when i % 50 = 0 then array['customer', 'support']
                   else array['customer'] end
       from generate_series(1, ?) i`,
      [ROWS],
    );
    await sql(`analyze recipients`);
  }, 60_000);

  afterAll(async () => {
    await orm?.close();
    if (databaseName) await dropDatabase(adminUrl, databaseName);
  });

  it('finds the same recipients as `? = any(roles)`, for a rare role, a shared one and an unknown one', async () => {
    for (const role of ['admin', 'support', 'customer', 'nobody']) {
      const expected = (
        await sql<{ id: string }>(`select id from recipients where ? = any(roles) order by id`, [role])
      ).map((r) => r.id);
      expect(await recipientIdsWithRole(orm.em.fork(), role)).toEqual(expected);
    }
    expect(await recipientIdsWithRole(orm.em.fork(), 'admin')).toHaveLength(20);
  });

  it('reads a rare default recipient role through recipients_roles_idx, where `= any` scans the table', async () => {
    const [statement, ...more] = await captured(() => recipientIdsWithRole(orm.em.fork(), 'admin'));
    expect(more).toEqual([]);
    expect(statement.sql).toContain(`roles @> array['admin']::text[]`);
    expect(await plan(statement)).toMatch(/Bitmap Index Scan on recipients_roles_idx/);
    if (process.env.SHOW_PLANS) process.stdout.write(`${statement.sql}\n${await plan(statement)}\n`);
    const old = await plan({
      sql: `select id from recipients where ? = any(roles) order by id`,
      bindings: ['admin'],
    });
    expect(old).toMatch(/Seq Scan on recipients/);
    expect(old).not.toContain('recipients_roles_idx');
  });

  it('pages a campaign segment of a rare role through recipients_roles_idx (`&&`)', async () => {
    const repository = new CampaignRepository(orm.em.fork());
    let page: string[] = [];
    const statements = await captured(async () => {
      page = await repository.recipientsPage({ roles: ['admin'] }, null, 500);
    });
    expect(page).toEqual(await recipientIdsWithRole(orm.em.fork(), 'admin'));
    const select = statements.find((s) => /^select/i.test(s.sql))!;
    expect(select.sql).toContain('&&');
    expect(await plan(select)).toMatch(/Bitmap Index Scan on recipients_roles_idx/);
    if (process.env.SHOW_PLANS) process.stdout.write(`${select.sql}\n${await plan(select)}\n`);
  });
});

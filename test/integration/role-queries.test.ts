import { migrate, openOrm, type Orm } from '../../src/db/orm';
import { dropDatabase, recreateProcessDatabase } from '../../src/db/process-database';
import { CampaignRepository } from '../../src/db/repositories/campaign-repository';
import { recipientIdsWithRole } from '../../src/db/recipient-roles';
import { LEAN_LIFECYCLE } from '../../src/release-0/notification-owner';
import { insertRowsStatement, type NotificationRowInput } from '../../src/state/notification-store';

/**
 * Role queries read recipients through the GIN index recipients_roles_idx (docs/production.md, "Role
 * queries"): the statements the code sends are captured from knex and EXPLAINed on a table of 20,000
 * recipients with planner statistics, as a shop's table would have them. The same database checks the plan
 * of admission's lookup of rows an earlier try stored (src/state/notification-store.ts, insertRows), which
 * must not depend on statistics that cannot know an event's rows yet.
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

  it("admission finds an earlier try's rows of a big event by one probe per recipient, whatever the statistics say", async () => {
    const eventId = 'campaign_plan_test';
    // Statistics taken before the event had rows, as during any campaign: they estimate its rows at 1-3.
    await sql(`analyze notifications`);
    await sql(
      `insert into notifications (event_id, recipient_id, template_code, category, priority, state, workflow_id, lifecycle)
       select ?, 'u' || lpad(i::text, 6, '0'), 'marketing_announcement', 'marketing', 'normal', 'delivered', ?, ${LEAN_LIFECYCLE}
       from generate_series(1, 5000) i`,
      [eventId, `campaign-${eventId}`],
    );
    const row = (recipientId: string): NotificationRowInput => ({
      event_id: eventId,
      event_type: 'CAMPAIGN',
      recipient_id: recipientId,
      template_code: 'marketing_announcement',
      template_versions: {},
      category: 'marketing',
      priority: 'normal',
      state: 'delivered',
      channels: [],
      workflow_id: `campaign-${eventId}`,
      title: null,
      body: null,
      action_url: null,
      action_text: null,
      data: {},
      content: {},
      channel_states: {},
      fallbacks: {},
      send_at: null,
    });
    const owner = { eventId, workflowId: `campaign-${eventId}`, tracked: false };
    const statement = insertRowsStatement(owner, [row('u000001'), row('u009999')]);
    const knex = orm.em.getConnection().getKnex();
    const result = await knex.raw<{ rows: { 'QUERY PLAN': string }[] }>(
      `explain ${statement.sql}`,
      statement.params as never[],
    );
    const text = result.rows.map((r) => r['QUERY PLAN']).join('\n');
    if (process.env.SHOW_PLANS) process.stdout.write(`${text}\n`);
    // One index probe per recipient id (r.id), never a scan of the event's rows filtered against the ids: that
    // read 5,000 rows here, and every row stored before it in a campaign's later pages.
    expect(text).toMatch(/Index Cond: [^\n]*\(recipient_id\)::text = r\.id\)/);
    expect(text).not.toMatch(/Join Filter: [^\n]*recipient_id/);
  });
});

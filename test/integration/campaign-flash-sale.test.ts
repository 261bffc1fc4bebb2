import { campaignEventId } from '../../src/domain/workflow-ids';
import { grantMarketingConsent } from '../helpers/consent';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/** How long before its start a campaign stages (CAMPAIGN_STAGE_LEAD_MS). */
const LEAD_MS = 8_000;
const MEMBERS = 50;

interface Row {
  id: string;
  state: string;
  delivered_ms: number | null;
}

/**
 * Flash-sale starts (docs/performance.md, "Flash sale"): a campaign scheduled ahead stages its notifications
 * CAMPAIGN_STAGE_LEAD_MS before its start, with jobs in BullMQ's delayed set until then; BullMQ releases them
 * at the start, a lost staged job is handed off again after it, and a cancel before it cancels them.
 */
describe('campaign staged ahead of its start (flash sale)', () => {
  const stack = new TestStack({ env: { CAMPAIGN_STAGE_LEAD_MS: String(LEAD_MS) } });
  beforeAll(() => stack.start());
  afterAll(() => stack.stop());

  async function rowsOf(campaignId: string): Promise<Row[]> {
    const rows = await stack.orm.em
      .fork()
      .getConnection()
      .execute<Row[]>(
        `select id, state, (extract(epoch from delivered_at) * 1000)::bigint as delivered_ms
           from notifications where event_id = ? order by recipient_id`,
        [campaignEventId(campaignId)],
      );
    return rows.map((r) => ({ ...r, delivered_ms: r.delivered_ms === null ? null : Number(r.delivered_ms) }));
  }
  const delayedJobs = () => stack.queues.queue('in_app').getDelayedCount();

  async function segment(): Promise<string> {
    const role = stack.uid('flash').toLowerCase();
    await stack.orm.em
      .fork()
      .getConnection()
      .execute(
        `insert into recipients (id, roles, locale, timezone) select ? || '_' || lpad(g::text, 3, '0'), array[?], 'en', 'UTC' from generate_series(1, ?) g`,
        [role, role, MEMBERS],
      );
    const ids = Array.from({ length: MEMBERS }, (_, i) => `${role}_${String(i + 1).padStart(3, '0')}`);
    await grantMarketingConsent(stack, ids);
    return role;
  }

  const schedule = (role: string, startAtMs: number) =>
    stack.client.scheduleCampaign({
      name: `Flash ${role}`,
      templateCode: 'marketing_announcement',
      segment: { roles: [role] },
      variables: { headline: 'Flash sale', message: 'Starts now.' },
      channels: ['in_app'],
      scheduledAt: new Date(startAtMs).toISOString(),
    });

  it('hands off at the start, not before, across a worker restart, and hands a lost staged job off again', async () => {
    const role = await segment();
    const startAtMs = Date.now() + LEAD_MS + 4_000;
    const { campaignId } = await schedule(role, startAtMs);

    // Staged ahead: every row stored sending, every job delayed, nothing delivered.
    const staged = await waitFor(async () => {
      const rows = await rowsOf(campaignId);
      return rows.length === MEMBERS && (await delayedJobs()) === MEMBERS ? rows : undefined;
    }, 15_000);
    expect(Date.now()).toBeLessThan(startAtMs);
    expect(staged.every((r) => r.state === 'sending' && r.delivered_ms === null)).toBe(true);

    // Both workers restart between staging and the start, and one staged job is lost meanwhile.
    await stack.stopDeliveryWorkers();
    await stack.stopTemporalWorker();
    const lost = staged[7];
    await (await stack.queues.queue('in_app').getJob(`${lost.id}.in_app`))!.remove();
    await stack.startTemporalWorker();
    stack.startDeliveryWorkers();
    expect(Date.now()).toBeLessThan(startAtMs);
    expect((await rowsOf(campaignId)).every((r) => r.delivered_ms === null)).toBe(true);

    const delivered = await waitFor(async () => {
      const rows = await rowsOf(campaignId);
      return rows.every((r) => r.state === 'delivered') ? rows : undefined;
    }, 30_000);
    // Not before the start (Postgres and this process share a clock here).
    for (const row of delivered) expect(row.delivered_ms).toBeGreaterThanOrEqual(startAtMs);
    // The lost one was found by the release, 5 s after the start, and delivered once (set-based).
    expect(delivered.find((r) => r.id === lost.id)!.delivered_ms).toBeGreaterThanOrEqual(startAtMs + 5_000);
    const [{ attempts }] = await stack.orm.em
      .fork()
      .getConnection()
      .execute<{ attempts: number }[]>(
        `select count(*)::int as attempts from delivery_attempts where notification_id = ? and channel = 'in_app'`,
        [lost.id],
      );
    expect(attempts).toBe(1);
    const done = await stack.client.campaignResult(campaignId);
    expect(done).toMatchObject({ state: 'completed', targeted: MEMBERS, started: MEMBERS });
  }, 60_000);

  it('what the in-app worker has not reached by the release is delivered set-based, once, and its jobs removed', async () => {
    const role = await segment();
    const startAtMs = Date.now() + LEAD_MS + 3_000;
    const { campaignId } = await schedule(role, startAtMs);
    await waitFor(async () => ((await delayedJobs()) >= MEMBERS ? true : undefined), 15_000);
    await stack.stopDeliveryWorkers();
    try {
      const delivered = await waitFor(
        async () => {
          const rows = await rowsOf(campaignId);
          return rows.every((r) => r.state === 'delivered') ? rows : undefined;
        },
        startAtMs - Date.now() + 20_000,
      );
      for (const row of delivered) expect(row.delivered_ms).toBeGreaterThanOrEqual(startAtMs + 5_000);
      // Completed once the release step (and its engagement counts after each page) finished.
      expect((await stack.client.campaignResult(campaignId)).state).toBe('completed');
      const [{ attempts, engaged }] = await stack.orm.em
        .fork()
        .getConnection()
        .execute<{ attempts: number; engaged: number }[]>(
          `select (select count(*)::int from delivery_attempts a where a.notification_id in (select jsonb_array_elements_text(?::jsonb)::uuid)) as attempts,
                  (select count(*)::int from notification_engagement e where e.notification_id in (select jsonb_array_elements_text(?::jsonb)::uuid) and e.kind = 'delivered') as engaged`,
          [JSON.stringify(delivered.map((r) => r.id)), JSON.stringify(delivered.map((r) => r.id))],
        );
      expect({ attempts, engaged }).toEqual({ attempts: MEMBERS, engaged: MEMBERS });
      // Their jobs are gone: a worker starting now sends nothing again.
      const queue = stack.queues.queue('in_app');
      expect(await queue.getJobCountByTypes('delayed', 'waiting', 'prioritized')).toBe(0);
    } finally {
      stack.startDeliveryWorkers();
    }
  }, 60_000);

  it('a cancel before the start cancels the staged notifications', async () => {
    const role = await segment();
    const startAtMs = Date.now() + LEAD_MS + 3_000;
    const { campaignId } = await schedule(role, startAtMs);
    await waitFor(async () => ((await delayedJobs()) >= MEMBERS ? true : undefined), 15_000);
    await stack.client.cancelCampaign(campaignId, 'sale called off');
    const rows = await waitFor(async () => {
      const all = await rowsOf(campaignId);
      return all.length === MEMBERS && all.every((r) => r.state === 'cancelled') ? all : undefined;
    }, 15_000);
    expect(rows.every((r) => r.delivered_ms === null)).toBe(true);
    expect((await stack.client.campaignResult(campaignId)).state).toBe('cancelled');
    // Past the start: the delayed jobs ran and sent nothing.
    await waitFor(
      async () => ((await delayedJobs()) === 0 ? true : undefined),
      startAtMs - Date.now() + 10_000,
    );
    expect((await rowsOf(campaignId)).every((r) => r.state === 'cancelled' && r.delivered_ms === null)).toBe(
      true,
    );
  }, 60_000);
});

import { defaultPayloadConverter } from '@temporalio/common';
import { campaignEventId } from '../../src/domain/workflow-ids';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';
import { decodeHistoryPayloads } from '../../src/temporal/payload-codec';

/**
 * Fan-out is paced by queue depth (CAMPAIGN_MAX_BACKLOG, docs/contracts.md): while the channel's
 * queue holds more jobs than the limit, the next page waits (heartbeating), so Redis stays small
 * however large the segment is.
 */
describe('campaign fan-out paced by queue depth', () => {
  const MAX_BACKLOG = 100;
  const PAGE = 40;
  const stack = new TestStack({ env: { CAMPAIGN_MAX_BACKLOG: String(MAX_BACKLOG) }, deliveryWorkers: false });
  beforeAll(() => stack.start());
  afterAll(() => stack.stop());

  const rows = async (campaignId: string): Promise<number> => {
    const [{ count }] = await stack.orm.em
      .fork()
      .getConnection()
      .execute(`select count(*)::int as count from notifications where event_id = ?`, [
        campaignEventId(campaignId),
      ]);
    return count;
  };
  // In-app pages are delivered set-based (no jobs): the pace is the email queue's.
  const backlog = () => stack.queues.backlog('email');

  it('stops adding pages while the queue is over the limit and goes on once the workers drain it', async () => {
    const role = stack.uid('pace').toLowerCase();
    const members = 300;
    await stack.orm.em
      .fork()
      .getConnection()
      .execute(
        `insert into recipients (id, email, roles, locale, timezone)
         select ? || '_' || lpad(g::text, 4, '0'), ? || '_' || g || '@example.test', array[?], 'en', 'UTC' from generate_series(1, ?) g`,
        [role, role, role, members],
      );
    // Marketing needs an opt-in (docs/consent.md).
    await stack.orm.em
      .fork()
      .getConnection()
      .execute(
        `insert into consents (recipient_id, category, granted, at, source) select id, 'marketing', true, now(), 'import' from recipients where ? = any(roles)`,
        [role],
      );
    const { campaignId } = await stack.client.scheduleCampaign(
      {
        name: 'Paced sale',
        templateCode: 'marketing_announcement',
        segment: { roles: [role] },
        channels: ['email'],
        variables: { headline: 'Paced', message: 'One page at a time.' },
      },
      { pageSize: PAGE },
    );

    // No worker drains the queue: the page activity reports (heartbeat) that it waits for the backlog.
    const waiting = await waitFor(async () => {
      // Heartbeat details are payloads as stored (encrypted): decoded with the stack's codec first.
      const raw = await decodeHistoryPayloads(
        (await stack.temporalClient.workflow.getHandle(`campaign-${campaignId}`).describe()).raw,
        stack.temporalClient,
      );
      const details = raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0];
      const decoded = details
        ? defaultPayloadConverter.fromPayload<{ waitingForBacklog?: number }>(details)
        : undefined;
      return decoded?.waitingForBacklog ? decoded.waitingForBacklog : undefined;
    }, 20_000);
    expect(waiting).toBeGreaterThan(MAX_BACKLOG);
    const stored = await rows(campaignId);
    expect(stored).toBeLessThanOrEqual(MAX_BACKLOG + PAGE);
    expect(stored).toBeLessThan(members);
    expect(await backlog()).toBe(stored);
    expect((await stack.client.campaignProgress(campaignId)).state).toBe('running');

    stack.startDeliveryWorkers();
    const done = await stack.client.campaignResult(campaignId);
    expect(done).toMatchObject({ state: 'completed', targeted: members, started: members });
    await waitFor(async () => {
      const [{ count }] = await stack.orm.em
        .fork()
        .getConnection()
        .execute(
          `select count(*)::int as count from notifications where event_id = ? and state = 'delivered'`,
          [campaignEventId(campaignId)],
        );
      return count === members ? true : undefined;
    }, 30_000);
  }, 60_000);
});

import { randomUUID } from 'node:crypto';
import { campaignSpec } from '../../activities/campaign-activities';
import { createDispatcher } from '../../activities/dispatcher';
import { FeedHub, type FeedEvent } from '../../src/api/feed-hub';
import { CAMPAIGN_CATEGORY, type CampaignPlan } from '../../src/domain/campaign';
import { NotificationRepository } from '../../src/db/repositories/notification-repository';
import type { ChannelRecords } from '../../src/domain/notification-lifecycle';
import { campaignEventId } from '../../src/domain/workflow-ids';
import { createOptedInRecipient } from '../helpers/consent';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

interface PageRow {
  id: string;
  recipient_id: string;
  state: string;
  channel_states: ChannelRecords;
  delivered_at: Date | null;
  sent_records: number;
  attempts: number;
  /** Engagement `sent` and `delivered` of the in-app channel, their counts summed. */
  acceptances: number;
}

/**
 * Set-based in-app campaign pages (docs/delivery.md, "Set-based in-app pages"): a page's in-app
 * notifications are delivered in one statement, with the per-recipient rules of the channel workers'
 * path (preferences, consent, frequency caps, quiet hours), exactly once, and the live feed told per recipient.
 */
describe('campaign in-app pages, set-based', () => {
  const stack = new TestStack();
  let hub: FeedHub;
  beforeAll(async () => {
    await stack.start();
    hub = new FeedHub(stack.redis, stack.config.queuePrefix);
  });
  afterAll(async () => {
    await hub.close();
    await stack.stop();
  });

  const sql = <T>(query: string, params: unknown[] = []): Promise<T[]> =>
    stack.orm.em.fork().getConnection().execute(query, params);

  async function pageRows(eventId: string): Promise<Map<string, PageRow>> {
    const rows = await sql<PageRow>(
      `select n.id, n.recipient_id, n.state, n.channel_states, n.delivered_at,
              (select count(*)::int from send_records s where s.notification_id = n.id and s.channel = 'in_app' and s.status = 'sent') as sent_records,
              (select count(*)::int from delivery_attempts a where a.notification_id = n.id and a.channel = 'in_app') as attempts,
              (select coalesce(sum(e.count), 0)::int from notification_engagement e
                where e.notification_id = n.id and e.channel = 'in_app' and e.kind in ('sent', 'delivered')) as acceptances
         from notifications n where n.event_id = ?`,
      [eventId],
    );
    return new Map(rows.map((r) => [r.recipient_id, r]));
  }

  /** Live feed events per recipient, heard through the API's own hub (what SSE streams forward). */
  async function listen(userIds: string[]): Promise<Map<string, FeedEvent[]>> {
    const heard = new Map<string, FeedEvent[]>(userIds.map((u) => [u, []]));
    for (const userId of userIds)
      await hub.subscribe(userId, { onEvent: (e) => heard.get(userId)!.push(e), onClose: () => undefined });
    return heard;
  }

  it('delivers the page in one statement, keeping preferences, consent and caps, and tells the feed of each', async () => {
    const role = stack.uid('inapp').toLowerCase();
    const [ann, ben, prefOff, noConsent, capped] = ['ann', 'ben', 'prefoff', 'noconsent', 'capped'].map(
      (name) => stack.uid(name),
    );
    for (const id of [ann, ben, prefOff, capped]) await createOptedInRecipient(stack, { id, roles: [role] });
    await stack.createRecipient({ id: noConsent, roles: [role] });
    await sql(
      `insert into preferences (recipient_id, category, channel, enabled, updated_at) values (?, 'marketing', 'in_app', false, now())`,
      [prefOff],
    );
    // Two marketing notifications this week already: the default cap (marketing:2/7d) holds the third.
    await sql(
      `insert into frequency_cap_sends (recipient_id, category, event_id, sent_at) values (?, 'marketing', 'earlier-1', now()), (?, 'marketing', 'earlier-2', now())`,
      [capped, capped],
    );
    const heard = await listen([ann, ben, prefOff, noConsent, capped]);

    const { campaignId } = await stack.client.scheduleCampaign({
      name: `Set-based ${role}`,
      templateCode: 'marketing_announcement',
      segment: { roles: [role] },
      variables: { headline: `Sale ${role}`, message: 'Everything 20% off.' },
      channels: ['in_app'],
    });
    const done = await stack.client.campaignResult(campaignId);
    expect(done).toMatchObject({ state: 'completed', targeted: 5 });

    const rows = await pageRows(campaignEventId(campaignId));
    for (const userId of [ann, ben]) {
      const row = rows.get(userId)!;
      expect(row).toMatchObject({ state: 'delivered', sent_records: 0, attempts: 1, acceptances: 2 });
      expect(row.delivered_at).not.toBeNull();
      expect(row.channel_states.in_app).toMatchObject({ state: 'delivered', attempts: 1 });
      expect(row.channel_states.in_app!.deadlineAt).toBeUndefined();
    }
    for (const userId of [prefOff, noConsent, capped]) {
      expect(rows.get(userId)).toMatchObject({
        state: 'suppressed',
        sent_records: 0,
        attempts: 0,
        delivered_at: null,
      });
    }
    expect(rows.get(capped)!.channel_states.in_app!.reason).toMatch(/frequency cap/);
    // No job went through the in-app queue.
    expect(
      await stack.queues.queue('in_app').getJobCountByTypes('completed', 'waiting', 'prioritized', 'active'),
    ).toBe(0);

    // The live feed heard each delivered recipient once, with the rendered content; the others nothing.
    await waitFor(() => (heard.get(ann)!.length && heard.get(ben)!.length ? true : undefined), 5_000);
    for (const userId of [ann, ben]) {
      expect(heard.get(userId)).toEqual([
        expect.objectContaining({
          id: rows.get(userId)!.id,
          title: `Sale ${role}`,
          body: 'Everything 20% off.',
        }),
      ]);
    }
    for (const userId of [prefOff, noConsent, capped]) expect(heard.get(userId)).toEqual([]);
    // The notification center lists it.
    const feed = await new NotificationRepository(stack.orm.em.fork()).feed(ann, {
      limit: 10,
      unreadOnly: true,
    });
    expect(feed.items.map((i) => i.id)).toContain(rows.get(ann)!.id);
  }, 60_000);

  /** The page's core (what fanOutCampaignPage runs), called directly as a retried activity would. */
  function pageDispatcher() {
    return createDispatcher({
      orm: stack.orm,
      queues: stack.queues,
      defaultLocale: 'en',
      inAppFeed: { publisher: stack.redis, prefix: stack.config.queuePrefix },
    });
  }
  const planFor = (campaignId: string): CampaignPlan => ({
    campaignId,
    state: 'running',
    scheduledAt: new Date().toISOString(),
    templateCode: 'marketing_announcement',
    category: CAMPAIGN_CATEGORY,
    channels: ['in_app'],
    fallbacks: {},
    variables: { headline: 'Retry', message: 'Once only.' },
    priority: 'normal',
    deliveryDeadlineMs: 60_000,
    targeted: 0,
    started: 0,
  });

  it('a retried page stores, delivers and records nothing twice; a row a worker claimed is left to its job', async () => {
    const users = [stack.uid('r'), stack.uid('r'), stack.uid('r')];
    for (const id of users) await createOptedInRecipient(stack, { id });
    const campaignId = randomUUID();
    const spec = campaignSpec(planFor(campaignId));
    const dispatcher = pageDispatcher();
    const heard = await listen(users);
    await stack.stopDeliveryWorkers();
    try {
      // A try of the old path (or a page handed to the queue): rows sending, in-app jobs waiting; a worker claims one.
      await dispatcher.admitRecipients(spec, users, { inline: false });
      const claimed = (await pageRows(spec.eventId)).get(users[0])!;
      await sql(
        `insert into send_records (notification_id, channel, status, claimed_by, claimed_at) values (?, 'in_app', 'sending', 'another-worker', now())`,
        [claimed.id],
      );

      const first = await dispatcher.admitRecipients(spec, users, { inline: false, inAppSetBased: true });
      const second = await dispatcher.admitRecipients(spec, users, { inline: false, inAppSetBased: true });
      const ids = (r: typeof first) => r.recipients.map((x) => x.notificationId).sort();
      expect(ids(second)).toEqual(ids(first));

      const rows = await pageRows(spec.eventId);
      expect(rows.size).toBe(3);
      for (const userId of users.slice(1))
        expect(rows.get(userId)).toMatchObject({
          state: 'delivered',
          sent_records: 1,
          attempts: 1,
          acceptances: 2,
        });
      // The claimed one stays with the worker that holds its send record (and its job).
      expect(rows.get(users[0])).toMatchObject({ state: 'sending', attempts: 0 });
      expect(rows.get(users[0])!.channel_states.in_app!.state).toBe('queued');
      expect(await stack.queues.queue('in_app').getJob(`${claimed.id}.in_app`)).toBeDefined();

      // The feed heard the delivered ones (told again by the retry: streams drop an id they sent).
      await waitFor(() => (users.slice(1).every((u) => heard.get(u)!.length >= 2) ? true : undefined), 5_000);
      for (const userId of users.slice(1))
        expect(new Set(heard.get(userId)!.map((e) => e.id))).toEqual(new Set([rows.get(userId)!.id]));
      expect(heard.get(users[0])).toEqual([]);
    } finally {
      await stack.queues.queue('in_app').obliterate({ force: true });
      stack.startDeliveryWorkers();
    }
  }, 60_000);
});

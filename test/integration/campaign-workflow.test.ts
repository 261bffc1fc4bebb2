import type { WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { buildNotificationTrace } from '../../src/api/notification-trace';
import { Campaign, Notification, Preference } from '../../src/db/entities';
import { NotificationRepository } from '../../src/db/repositories/notification-repository';
import type { ChannelRecords } from '../../src/domain/notification-lifecycle';
import { campaignEventId, campaignWorkflowId } from '../../src/domain/workflow-ids';
import { temporalDataConverter } from '../../src/temporal/payload-codec';
import { createOptedInRecipient } from '../helpers/consent';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/** A campaign notification as the bulk activities and the channel workers leave it in Postgres. */
interface CampaignRow {
  id: string;
  recipientId: string;
  state: string;
  channelStates: ChannelRecords;
  sendAt: number | null;
  workflowId: string;
  lifecycle: number;
  error: string | null;
}

const WAITING = ['scheduled', 'waiting_quiet_hours'];

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

function isWorkflowTaskEvent(e: HistoryEvent): boolean {
  return Boolean(
    e.workflowTaskScheduledEventAttributes ??
    e.workflowTaskStartedEventAttributes ??
    e.workflowTaskCompletedEventAttributes ??
    e.workflowTaskTimedOutEventAttributes ??
    e.workflowTaskFailedEventAttributes,
  );
}
const SETTLED = ['delivered', 'partially_delivered', 'failed', 'suppressed', 'cancelled'];

describe('campaignWorkflow', () => {
  const stack = new TestStack();
  beforeAll(() => stack.start());
  afterAll(() => stack.stop());

  const campaign = (role: string, extra: Record<string, unknown> = {}) => ({
    name: `Sale ${role}`,
    templateCode: 'marketing_announcement',
    segment: { roles: [role] },
    variables: { headline: `Winter sale ${role}`, message: 'Everything 20% off until Sunday.' },
    ...extra,
  });
  const row = (id: string) => stack.orm.em.fork().findOneOrFail(Campaign, { id });
  const handleOf = (campaignId: string, runId?: string) =>
    stack.temporalClient.workflow.getHandle(campaignWorkflowId(campaignId), runId);

  /** The campaign's notifications rows, by recipient id. */
  async function rowsOf(campaignId: string): Promise<CampaignRow[]> {
    const rows: Record<string, unknown>[] = await stack.orm.em
      .fork()
      .getConnection()
      .execute(
        `select id, recipient_id, state, channel_states, workflow_id, lifecycle, error,
              (extract(epoch from send_at) * 1000)::bigint as send_at_ms
         from notifications where event_id = ? order by recipient_id`,
        [campaignEventId(campaignId)],
      );
    return rows.map((r) => ({
      id: r.id as string,
      recipientId: r.recipient_id as string,
      state: r.state as string,
      channelStates: r.channel_states as ChannelRecords,
      sendAt: r.send_at_ms === null ? null : Number(r.send_at_ms),
      workflowId: r.workflow_id as string,
      lifecycle: Number(r.lifecycle),
      error: r.error as string | null,
    }));
  }
  /** Polls until `count` rows exist and each satisfies `done` (default: settled by the channel workers). */
  const rowsWhen = (
    campaignId: string,
    count: number,
    done: (r: CampaignRow) => boolean = (r) => SETTLED.includes(r.state),
    timeoutMs = 20_000,
  ) =>
    waitFor(async () => {
      const rows = await rowsOf(campaignId);
      return rows.length === count && rows.every(done) ? rows : undefined;
    }, timeoutMs);
  const byRecipient = (rows: CampaignRow[]) => new Map(rows.map((r) => [r.recipientId, r]));

  /** The operator trace of one campaign notification (GET /api/notifications/:id/trace without HTTP). */
  async function traceOf(notificationId: string) {
    const em = stack.orm.em.fork();
    const repository = new NotificationRepository(em);
    const notification = await repository.findById(notificationId);
    return buildNotificationTrace(
      { workflowId: notification!.workflowId, notification },
      {
        temporal: stack.temporalClient,
        notifications: stack.client,
        repository,
        em,
        queues: stack.queues,
        temporalUiUrl: 'http://ui.test',
        namespace: stack.config.temporal.namespace,
      },
    );
  }

  /** Executions (runs) of a workflow id as visibility lists them; eventually consistent. */
  const runsOf = async (workflowId: string) => {
    const runs: { runId: string; status: string }[] = [];
    for await (const execution of stack.temporalClient.workflow.list({
      query: `WorkflowId = '${workflowId}'`,
    }))
      runs.push({ runId: execution.runId, status: execution.status.name });
    return runs;
  };

  /**
   * Quiet hours (minute precision, recipient's zone UTC) from this minute until the next minute
   * boundary at least `marginMs` away: the shortest window that is surely open while the campaign fans out.
   */
  function quietUntilNextMinute(marginMs = 10_000) {
    const now = Date.now();
    const end = new Date(Math.ceil((now + marginMs) / 60_000) * 60_000);
    const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
    return { end, quietHours: { start: hhmm(now), end: hhmm(end.getTime()), timezone: 'UTC' } };
  }

  it('sends to every member of a role segment, respecting mute and marketing preferences', async () => {
    const role = stack.uid('promo');
    const [ann, ben, muted, optedOut, outsider] = ['ann', 'ben', 'muted', 'optout', 'outsider'].map((name) =>
      stack.uid(name),
    );
    await createOptedInRecipient(stack, { id: ann, roles: ['customer', role] });
    await createOptedInRecipient(stack, { id: ben, roles: [role] });
    await createOptedInRecipient(stack, { id: muted, roles: [role], muted: true });
    await createOptedInRecipient(stack, { id: optedOut, roles: [role] });
    await createOptedInRecipient(stack, { id: outsider, roles: ['customer'] });
    const em = stack.orm.em.fork();
    em.create(Preference, {
      recipientId: optedOut,
      category: 'marketing',
      channel: 'email',
      enabled: false,
      updatedAt: new Date(),
    });
    await em.flush();

    const scheduled = await stack.client.scheduleCampaign(campaign(role));
    const { campaignId } = scheduled;
    expect(scheduled).toMatchObject({ started: true, workflowId: campaignWorkflowId(campaignId) });
    const result = await stack.client.campaignResult(campaignId);
    expect(result).toMatchObject({ state: 'completed', targeted: 4, started: 4, runs: 1, wakeTimes: [] });
    expect(await row(campaignId)).toMatchObject({
      state: 'completed',
      targeted: 4,
      started: 4,
      templateCode: 'marketing_announcement',
    });

    const rows = byRecipient(await rowsWhen(campaignId, 4));
    expect([...rows.keys()]).toEqual([ann, ben, muted, optedOut].sort());
    for (const userId of [ann, ben]) {
      expect(rows.get(userId)).toMatchObject({
        state: 'delivered',
        channelStates: { in_app: { state: 'delivered' }, email: { state: 'delivered' } },
      });
      const [mail] = await stack.smtp.waitForMessages(`${userId}@example.test`);
      expect(mail.raw).toContain(`Subject: Winter sale ${role}`);
    }
    expect(rows.get(muted)).toMatchObject({
      state: 'suppressed',
      channelStates: {
        in_app: { state: 'suppressed', reason: 'recipient muted all notifications' },
        email: { state: 'suppressed' },
      },
    });
    expect(rows.get(optedOut)).toMatchObject({
      state: 'delivered',
      channelStates: {
        in_app: { state: 'delivered' },
        email: { state: 'suppressed', reason: 'preference: marketing off for email' },
      },
    });
    expect(stack.smtp.messagesTo(`${muted}@example.test`)).toHaveLength(0);
    expect(stack.smtp.messagesTo(`${optedOut}@example.test`)).toHaveLength(0);
    expect(stack.smtp.messagesTo(`${outsider}@example.test`)).toHaveLength(0);
    // Every row belongs to the campaign workflow and the lean lifecycle; none waits.
    for (const r of rows.values())
      expect(r).toMatchObject({ workflowId: campaignWorkflowId(campaignId), lifecycle: 2, sendAt: null });

    const stored = await stack.orm.em
      .fork()
      .find(Notification, { eventId: campaignEventId(campaignId) }, { orderBy: { recipientId: 'asc' } });
    expect(stored.map((n) => [n.recipientId, n.category, n.eventType, n.priority])).toEqual(
      [ann, ben, muted, optedOut].sort().map((id) => [id, 'marketing', 'CAMPAIGN', 'low']),
    );
    // The Web UI finds the campaign by search attribute: one workflow, no per-recipient ones.
    const found = await waitFor(async () => {
      const ids: string[] = [];
      const query = `NotificationEventType = 'CAMPAIGN' AND NotificationEventId = '${campaignEventId(campaignId)}'`;
      for await (const execution of stack.temporalClient.workflow.list({ query }))
        ids.push(execution.workflowId);
      return ids.length > 0 ? ids : undefined;
    });
    expect(found).toEqual([campaignWorkflowId(campaignId)]);

    // The same id again starts nothing.
    expect(await stack.client.scheduleCampaign({ ...campaign(role), id: campaignId })).toMatchObject({
      started: false,
    });
  });

  it('runs on the campaign task queue with bulk activities, never child workflows', async () => {
    const role = stack.uid('promo');
    const members = [1, 2, 3].map(() => stack.uid('u'));
    for (const id of members) await createOptedInRecipient(stack, { id, roles: [role] });
    const { campaignId } = await stack.client.scheduleCampaign(campaign(role, { channels: ['in_app'] }));
    expect(await stack.client.campaignResult(campaignId)).toMatchObject({
      state: 'completed',
      targeted: 3,
      started: 3,
    });
    expect(stack.config.temporal.campaignTaskQueue).not.toBe(stack.config.temporal.taskQueue);
    expect(await handleOf(campaignId).describe()).toMatchObject({
      type: 'campaignWorkflow',
      taskQueue: stack.config.temporal.campaignTaskQueue,
    });

    const events = (await handleOf(campaignId).fetchHistory()).events ?? [];
    expect(events.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)).toHaveLength(0);
    const activities = events.flatMap((e) =>
      e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes] : [],
    );
    // settleCampaign until every notification is final (docs/contracts.md, "Durability invariants"), then completed.
    const names = activities.map((a) => a.activityType?.name);
    expect(names.slice(0, 3)).toEqual(['openCampaign', 'recordCampaignProgress', 'fanOutCampaignPage']);
    expect(names.slice(3, -1).every((n) => n === 'settleCampaign') && names.length > 4).toBe(true);
    expect(names.at(-1)).toBe('recordCampaignProgress');
    expect(new Set(activities.map((a) => a.taskQueue?.name))).toEqual(
      new Set([stack.config.temporal.campaignTaskQueue]),
    );
    expect((await rowsWhen(campaignId, 3)).map((r) => r.state)).toEqual([
      'delivered',
      'delivered',
      'delivered',
    ]);
  });

  it('waits for scheduledAt, follows a reschedule, and a cancel before it fires sends nothing', async () => {
    const role = stack.uid('promo');
    const member = stack.uid('u');
    await createOptedInRecipient(stack, { id: member, roles: [role] });
    const at = new Date(Date.now() + 3600_000);
    const { campaignId } = await stack.client.scheduleCampaign(
      campaign(role, { scheduledAt: at.toISOString() }),
    );
    const stored = await waitFor(() =>
      stack.orm.em
        .fork()
        .findOne(Campaign, { id: campaignId })
        .then((c) => c ?? undefined),
    );
    expect(stored).toMatchObject({ state: 'scheduled', scheduledAt: at, targeted: 0, started: 0 });
    expect(await stack.client.campaignProgress(campaignId)).toMatchObject({
      state: 'scheduled',
      scheduledAt: at.toISOString(),
      targeted: 0,
      started: 0,
    });

    const later = new Date(at.getTime() + 3600_000);
    await stack.client.reschedule(campaignWorkflowId(campaignId), later);
    await waitFor(async () =>
      (await row(campaignId)).scheduledAt.getTime() === later.getTime() ? true : undefined,
    );
    expect(await stack.client.campaignProgress(campaignId)).toMatchObject({
      state: 'scheduled',
      scheduledAt: later.toISOString(),
    });

    await stack.client.cancelCampaign(campaignId, 'budget cut');
    expect(await stack.client.campaignResult(campaignId)).toMatchObject({
      state: 'cancelled',
      cancelReason: 'budget cut',
      targeted: 0,
      started: 0,
    });
    expect(await row(campaignId)).toMatchObject({ state: 'cancelled', started: 0 });
    expect(await rowsOf(campaignId)).toEqual([]);
    expect(stack.smtp.messagesTo(`${member}@example.test`)).toHaveLength(0);
    const events = (await handleOf(campaignId).fetchHistory()).events ?? [];
    expect(
      events.filter(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'fanOutCampaignPage',
      ),
    ).toHaveLength(0);
  });

  it('sends at once when a scheduled campaign is rescheduled to now', async () => {
    const role = stack.uid('promo');
    const member = stack.uid('u');
    await createOptedInRecipient(stack, { id: member, roles: [role] });
    const { campaignId } = await stack.client.scheduleCampaign(
      campaign(role, { scheduledAt: new Date(Date.now() + 3600_000).toISOString() }),
    );
    await waitFor(async () =>
      (await stack.client.campaignProgress(campaignId)).state === 'scheduled' ? true : undefined,
    );
    expect(await rowsOf(campaignId)).toEqual([]);
    const rescheduledAt = Date.now();
    await stack.client.reschedule(campaignWorkflowId(campaignId), new Date(rescheduledAt));
    expect(await stack.client.campaignResult(campaignId)).toMatchObject({
      state: 'completed',
      targeted: 1,
      started: 1,
    });
    const [stored] = await rowsWhen(campaignId, 1);
    expect(stored).toMatchObject({
      recipientId: member,
      state: 'delivered',
      channelStates: { in_app: { state: 'delivered' }, email: { state: 'delivered' } },
    });
    const [mail] = await stack.smtp.waitForMessages(`${member}@example.test`);
    expect(mail.receivedAt.getTime()).toBeGreaterThanOrEqual(rescheduledAt);
  });

  it('pages through the segment by recipient id and keeps its counts across continue-as-new, every run small', async () => {
    const role = stack.uid('promo');
    const members = [1, 2, 3, 4, 5].map(() => stack.uid('u'));
    for (const id of members) await createOptedInRecipient(stack, { id, roles: [role] });
    // Two per page, one page per run: three runs (2 + 2 + 1).
    const { campaignId } = await stack.client.scheduleCampaign(campaign(role, { channels: ['in_app'] }), {
      pageSize: 2,
      pagesPerRun: 1,
    });
    const result = await stack.client.campaignResult(campaignId);
    expect(result).toMatchObject({
      state: 'completed',
      targeted: 5,
      started: 5,
      runs: 3,
      afterUserId: [...members].sort()[4],
    });
    expect(await row(campaignId)).toMatchObject({ state: 'completed', targeted: 5, started: 5 });
    const rows = await rowsWhen(campaignId, 5);
    expect(rows.map((r) => [r.recipientId, r.state, r.channelStates.in_app?.state])).toEqual(
      [...members].sort().map((id) => [id, 'delivered', 'delivered']),
    );
    expect(rows.map((r) => Object.keys(r.channelStates))).toEqual(members.map(() => ['in_app']));

    const workflowId = campaignWorkflowId(campaignId);
    const runs = await waitFor(async () => {
      const seen = await runsOf(workflowId);
      return seen.length === 3 ? seen : undefined;
    });
    expect(runs.map((r) => r.status).sort()).toEqual(['COMPLETED', 'CONTINUED_AS_NEW', 'CONTINUED_AS_NEW']);

    const histories = await Promise.all(
      runs.map(async ({ runId }) => ({
        workflowId,
        history: await handleOf(campaignId, runId).fetchHistory(),
      })),
    );
    for (const { history } of histories) {
      const events = history.events ?? [];
      // One page per run: a handful of events, never the whole segment. Workflow-task bookkeeping is left
      // out of the count: a loaded machine adds timed-out and retried workflow tasks to any history.
      const commandEvents = events.filter((e) => !isWorkflowTaskEvent(e));
      expect(commandEvents.length).toBeLessThanOrEqual(20);
      expect(
        events.filter(
          (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'fanOutCampaignPage',
        ),
      ).toHaveLength(1);
      expect(events.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)).toHaveLength(0);
    }
    // Every run replays against the current bundle (determinism).
    const replayErrors: (string | null)[] = [];
    for await (const replay of Worker.runReplayHistories(
      {
        workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! },
        dataConverter: temporalDataConverter(stack.config.temporal),
      },
      histories,
    )) {
      replayErrors.push(replay.error ? String(replay.error) : null);
    }
    expect(replayErrors).toEqual([null, null, null]);
  });

  it('a cancel while running starts no further notifications; those started go on', async () => {
    const role = stack.uid('promo');
    const members = Array.from({ length: 30 }, () => stack.uid('u'));
    for (const id of members) await createOptedInRecipient(stack, { id, roles: [role] });
    const { campaignId } = await stack.client.scheduleCampaign(campaign(role, { channels: ['in_app'] }), {
      pageSize: 1,
    });
    await waitFor(
      async () => ((await stack.client.campaignProgress(campaignId)).started >= 1 ? true : undefined),
      20_000,
      20,
    );
    await stack.client.cancelCampaign(campaignId, 'stop');
    const result = await stack.client.campaignResult(campaignId);
    expect(result.state).toBe('cancelled');
    expect(result.started).toBeGreaterThanOrEqual(1);
    expect(result.started).toBeLessThan(members.length);
    expect(await row(campaignId)).toMatchObject({
      state: 'cancelled',
      started: result.started,
      targeted: result.targeted,
    });

    // Exactly the notifications it started exist, and they are delivered; the rest were never stored.
    const rows = await rowsWhen(campaignId, result.started);
    expect(rows.map((r) => r.state)).toEqual(rows.map(() => 'delivered'));
    expect(rows.map((r) => r.recipientId)).toEqual([...members].sort().slice(0, result.started));
    const events = (await handleOf(campaignId).fetchHistory()).events ?? [];
    expect(
      events.filter(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'fanOutCampaignPage',
      ),
    ).toHaveLength(result.targeted);
  });

  it('parks recipients in quiet hours, one timer per wake time, and sends them when their quiet hours end', async () => {
    const role = stack.uid('promo');
    const { end, quietHours } = quietUntilNextMinute();
    const [awake, sleeper, sleeper2] = ['awake', 'sleeper', 'sleeper'].map((name) => stack.uid(name));
    await createOptedInRecipient(stack, { id: awake, roles: [role] });
    await createOptedInRecipient(stack, { id: sleeper, roles: [role], quietHours });
    await createOptedInRecipient(stack, { id: sleeper2, roles: [role], quietHours });
    const { campaignId } = await stack.client.scheduleCampaign(campaign(role, { channels: ['email'] }));

    const parked = byRecipient(
      await rowsWhen(campaignId, 3, (r) =>
        r.recipientId === awake ? r.state === 'delivered' : r.state === 'waiting_quiet_hours',
      ),
    );
    for (const userId of [sleeper, sleeper2]) {
      expect(parked.get(userId)).toMatchObject({
        state: 'waiting_quiet_hours',
        sendAt: end.getTime(),
        channelStates: {},
      });
      expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(0);
    }
    expect(await stack.client.campaignProgress(campaignId)).toMatchObject({
      state: 'running',
      targeted: 3,
      started: 3,
      wakeTimes: [end.getTime()],
    });
    const [awakeMail] = await stack.smtp.waitForMessages(`${awake}@example.test`);
    expect(awakeMail.receivedAt.getTime()).toBeLessThan(end.getTime());

    const result = await stack.client.campaignResult(campaignId);
    expect(result).toMatchObject({ state: 'completed', targeted: 3, started: 3, wakeTimes: [] });
    for (const userId of [sleeper, sleeper2]) {
      const [mail] = await stack.smtp.waitForMessages(`${userId}@example.test`);
      expect(mail.receivedAt.getTime()).toBeGreaterThanOrEqual(end.getTime());
    }
    const rows = await rowsWhen(campaignId, 3);
    expect(rows.map((r) => [r.recipientId, r.state, r.channelStates.email?.state])).toEqual(
      [awake, sleeper, sleeper2].sort().map((id) => [id, 'delivered', 'delivered']),
    );

    // The trace tells the story from the rows and the campaign's dispatch.
    const traced = byRecipient(rows);
    const sleeperTrace = await traceOf(traced.get(sleeper)!.id);
    expect(sleeperTrace.states.map((s) => s.state)).toEqual(['waiting_quiet_hours', 'sending', 'delivered']);
    expect(Date.parse(sleeperTrace.states[1].at)).toBeGreaterThanOrEqual(end.getTime());
    expect(sleeperTrace.workflows.map((w) => [w.role, w.workflowId])).toEqual([
      ['campaign', campaignWorkflowId(campaignId)],
    ]);
    expect(sleeperTrace.timeline.map((e) => e.summary)).toContain('dispatchCampaignDue completed: 2 sent');
    const timer = sleeperTrace.timeline.find((e) => e.kind === 'timer.started');
    expect(Math.abs(Date.parse(String(timer?.detail?.until)) - end.getTime())).toBeLessThan(1000);
    expect((await traceOf(traced.get(awake)!.id)).states.map((s) => s.state)).toEqual([
      'sending',
      'delivered',
    ]);

    // Two parked recipients, one wake time: one timer, then one bulk dispatch (the settle rounds' short timers come after it).
    const events = (await handleOf(campaignId).fetchHistory()).events ?? [];
    const dispatchedAt = events.findIndex(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'dispatchCampaignDue',
    );
    const timers = events.slice(0, dispatchedAt).filter((e) => e.timerStartedEventAttributes);
    expect(timers).toHaveLength(1);
    expect(
      events.filter(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'dispatchCampaignDue',
      ),
    ).toHaveLength(1);
  }, 120_000);

  it('a cancel while recipients are parked for quiet hours cancels their notifications', async () => {
    const role = stack.uid('promo');
    const now = Date.now();
    const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
    // Quiet for the next two hours (the window may cross midnight).
    const quietHours = { start: hhmm(now), end: hhmm(now + 2 * 3600_000), timezone: 'UTC' };
    const [awake, sleeper] = [stack.uid('awake'), stack.uid('sleeper')];
    await createOptedInRecipient(stack, { id: awake, roles: [role] });
    await createOptedInRecipient(stack, { id: sleeper, roles: [role], quietHours });
    const { campaignId } = await stack.client.scheduleCampaign(campaign(role, { channels: ['email'] }));

    const parked = byRecipient(
      await rowsWhen(campaignId, 2, (r) =>
        r.recipientId === awake ? r.state === 'delivered' : WAITING.includes(r.state),
      ),
    );
    expect(parked.get(sleeper)).toMatchObject({ state: 'waiting_quiet_hours', sendAt: expect.any(Number) });
    expect(parked.get(sleeper)!.sendAt!).toBeGreaterThan(Date.now() + 3600_000);
    await waitFor(async () =>
      (await stack.client.campaignProgress(campaignId)).wakeTimes?.length === 1 ? true : undefined,
    );

    await stack.client.cancelCampaign(campaignId, 'sale over');
    expect(await stack.client.campaignResult(campaignId)).toMatchObject({
      state: 'cancelled',
      cancelReason: 'sale over',
      targeted: 2,
      started: 2,
    });
    expect(await row(campaignId)).toMatchObject({ state: 'cancelled' });
    const rows = byRecipient(await rowsOf(campaignId));
    expect(rows.get(sleeper)).toMatchObject({
      state: 'cancelled',
      sendAt: null,
      error: 'cancelled: campaign cancelled',
    });
    expect(rows.get(awake)).toMatchObject({ state: 'delivered' });
    expect(stack.smtp.messagesTo(`${sleeper}@example.test`)).toHaveLength(0);
    const trace = await traceOf(rows.get(sleeper)!.id);
    expect(trace.states.map((s) => s.state)).toEqual(['waiting_quiet_hours', 'cancelled']);
    expect(trace.status).toMatchObject({
      state: 'cancelled',
      error: 'cancelled: campaign cancelled',
      channels: {},
    });
    expect(trace.timeline.find((e) => e.kind === 'signal')).toMatchObject({
      summary: 'signal cancel',
      detail: { input: { reason: 'sale over' } },
    });
    const events = (await handleOf(campaignId).fetchHistory()).events ?? [];
    expect(
      events.filter(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'dispatchCampaignDue',
      ),
    ).toHaveLength(0);
  });

  it('fails a campaign started by hand with a non-marketing template, storing nothing', async () => {
    const campaignId = '0f3a6c1e-1111-4aaa-8bbb-000000000001'.replace(
      '000000000001',
      stack.id.padStart(12, '0'),
    );
    const handle = await stack.temporalClient.workflow.start('campaignWorkflow', {
      taskQueue: stack.config.temporal.campaignTaskQueue,
      workflowId: campaignWorkflowId(campaignId),
      args: [
        {
          campaignId,
          campaign: { name: 'Wrong', templateCode: 'order_created', segment: { roles: ['customer'] } },
        },
      ],
    });
    await expect(handle.result()).rejects.toMatchObject({
      cause: {
        cause: {
          type: 'InvalidCampaign',
          message: expect.stringContaining(
            'templateCode: template "order_created" is in category order_updates',
          ),
        },
      },
    });
    expect(await stack.orm.em.fork().count(Campaign, { id: campaignId })).toBe(0);
    expect(await rowsOf(campaignId)).toEqual([]);
  });
});

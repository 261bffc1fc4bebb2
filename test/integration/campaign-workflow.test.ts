import { WorkflowNotFoundError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { Campaign, Notification, Preference } from '../../src/db/entities';
import type { NotificationStatus } from '../../src/domain/notification-status';
import { campaignEventId, campaignWorkflowId, notificationWorkflowId } from '../../src/domain/workflow-ids';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

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
  const notificationOf = (campaignId: string, userId: string) =>
    stack.temporalClient.workflow.getHandle(notificationWorkflowId(campaignEventId(campaignId), userId));
  const row = (id: string) => stack.orm.em.fork().findOneOrFail(Campaign, { id });
  /** Executions (runs) of a workflow id as visibility lists them; eventually consistent. */
  const runsOf = async (workflowId: string) => {
    const runs: { runId: string; status: string }[] = [];
    for await (const execution of stack.temporalClient.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push({ runId: execution.runId, status: execution.status.name });
    return runs;
  };

  it('sends to every member of a role segment, respecting mute and marketing preferences', async () => {
    const role = stack.uid('promo');
    const [ann, ben, muted, optedOut, outsider] = ['ann', 'ben', 'muted', 'optout', 'outsider'].map((name) => stack.uid(name));
    await stack.createRecipient({ id: ann, roles: ['customer', role] });
    await stack.createRecipient({ id: ben, roles: [role] });
    await stack.createRecipient({ id: muted, roles: [role], muted: true });
    await stack.createRecipient({ id: optedOut, roles: [role] });
    await stack.createRecipient({ id: outsider, roles: ['customer'] });
    const em = stack.orm.em.fork();
    em.create(Preference, { recipientId: optedOut, category: 'marketing', channel: 'email', enabled: false, updatedAt: new Date() });
    await em.flush();

    const scheduled = await stack.client.scheduleCampaign(campaign(role));
    expect(scheduled).toMatchObject({ started: true, workflowId: campaignWorkflowId(scheduled.campaignId) });
    const result = await stack.client.campaignResult(scheduled.campaignId);
    expect(result).toMatchObject({ state: 'completed', targeted: 4, started: 4, runs: 1 });
    expect(await row(scheduled.campaignId)).toMatchObject({ state: 'completed', targeted: 4, started: 4, templateCode: 'marketing_announcement' });

    const status = async (userId: string) => (await notificationOf(scheduled.campaignId, userId).result()) as NotificationStatus;
    for (const userId of [ann, ben]) {
      expect(await status(userId)).toMatchObject({ state: 'delivered', channels: { in_app: { state: 'delivered' }, email: { state: 'delivered' } } });
      const [mail] = await stack.smtp.waitForMessages(`${userId}@example.test`);
      expect(mail.raw).toContain(`Subject: Winter sale ${role}`);
    }
    expect(await status(muted)).toMatchObject({ state: 'suppressed', channels: { in_app: { state: 'suppressed', reason: 'recipient muted all notifications' } } });
    expect(await status(optedOut)).toMatchObject({
      state: 'delivered',
      channels: { in_app: { state: 'delivered' }, email: { state: 'suppressed', reason: 'preference: marketing off for email' } },
    });
    expect(stack.smtp.messagesTo(`${muted}@example.test`)).toHaveLength(0);
    expect(stack.smtp.messagesTo(`${optedOut}@example.test`)).toHaveLength(0);
    await expect(notificationOf(scheduled.campaignId, outsider).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);

    const stored = await stack.orm.em.fork().find(Notification, { eventId: campaignEventId(scheduled.campaignId) }, { orderBy: { recipientId: 'asc' } });
    expect(stored.map((n) => [n.recipientId, n.category, n.eventType, n.priority])).toEqual(
      [ann, ben, muted, optedOut].sort().map((id) => [id, 'marketing', 'CAMPAIGN', 'low']),
    );
    // The Web UI finds the campaign and its notifications by search attribute.
    const found = await waitFor(async () => {
      const ids: string[] = [];
      const query = `NotificationEventType = 'CAMPAIGN' AND NotificationEventId = '${campaignEventId(scheduled.campaignId)}'`;
      for await (const execution of stack.temporalClient.workflow.list({ query })) ids.push(execution.workflowId);
      return ids.length === 5 ? ids.sort() : undefined;
    });
    expect(found).toEqual([campaignWorkflowId(scheduled.campaignId), ...[ann, ben, muted, optedOut].map((u) => notificationOf(scheduled.campaignId, u).workflowId)].sort());

    // The same id again starts nothing.
    expect(await stack.client.scheduleCampaign({ ...campaign(role), id: scheduled.campaignId })).toMatchObject({ started: false });
  });

  it('waits for scheduledAt, follows a reschedule, and a cancel before it fires sends nothing', async () => {
    const role = stack.uid('promo');
    const member = stack.uid('u');
    await stack.createRecipient({ id: member, roles: [role] });
    const at = new Date(Date.now() + 3600_000);
    const { campaignId } = await stack.client.scheduleCampaign(campaign(role, { scheduledAt: at.toISOString() }));
    const stored = await waitFor(() => stack.orm.em.fork().findOne(Campaign, { id: campaignId }).then((c) => c ?? undefined));
    expect(stored).toMatchObject({ state: 'scheduled', scheduledAt: at, targeted: 0, started: 0 });
    expect(await stack.client.campaignProgress(campaignId)).toMatchObject({ state: 'scheduled', scheduledAt: at.toISOString(), targeted: 0, started: 0 });

    const later = new Date(at.getTime() + 3600_000);
    await stack.client.reschedule(campaignWorkflowId(campaignId), later);
    await waitFor(async () => ((await row(campaignId)).scheduledAt.getTime() === later.getTime() ? true : undefined));
    expect(await stack.client.campaignProgress(campaignId)).toMatchObject({ state: 'scheduled', scheduledAt: later.toISOString() });

    await stack.client.cancelCampaign(campaignId, 'budget cut');
    expect(await stack.client.campaignResult(campaignId)).toMatchObject({ state: 'cancelled', cancelReason: 'budget cut', targeted: 0, started: 0 });
    expect(await row(campaignId)).toMatchObject({ state: 'cancelled', started: 0 });
    await expect(notificationOf(campaignId, member).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    expect(stack.smtp.messagesTo(`${member}@example.test`)).toHaveLength(0);
  });

  it('sends at once when a scheduled campaign is rescheduled to now', async () => {
    const role = stack.uid('promo');
    const member = stack.uid('u');
    await stack.createRecipient({ id: member, roles: [role] });
    const { campaignId } = await stack.client.scheduleCampaign(campaign(role, { scheduledAt: new Date(Date.now() + 3600_000).toISOString() }));
    await waitFor(async () => ((await stack.client.campaignProgress(campaignId)).state === 'scheduled' ? true : undefined));
    await stack.client.reschedule(campaignWorkflowId(campaignId), new Date());
    expect(await stack.client.campaignResult(campaignId)).toMatchObject({ state: 'completed', targeted: 1, started: 1 });
    expect(await notificationOf(campaignId, member).result()).toMatchObject({ state: 'delivered' });
  });

  it('pages through the segment by recipient id and keeps its counts across continue-as-new', async () => {
    const role = stack.uid('promo');
    const members = [1, 2, 3, 4, 5].map(() => stack.uid('u'));
    for (const id of members) await stack.createRecipient({ id, roles: [role] });
    // Two per page, one page per run: three runs (2 + 2 + 1).
    const { campaignId } = await stack.client.scheduleCampaign(campaign(role, { channels: ['in_app'] }), { pageSize: 2, pagesPerRun: 1 });
    const result = await stack.client.campaignResult(campaignId);
    expect(result).toMatchObject({ state: 'completed', targeted: 5, started: 5, runs: 3, afterUserId: [...members].sort()[4] });
    expect(await row(campaignId)).toMatchObject({ state: 'completed', targeted: 5, started: 5 });
    for (const userId of members) expect(await notificationOf(campaignId, userId).result()).toMatchObject({ state: 'delivered', channels: { in_app: { state: 'delivered' } } });
    const workflowId = campaignWorkflowId(campaignId);
    const runs = await waitFor(async () => {
      const seen = await runsOf(workflowId);
      return seen.length === 3 ? seen : undefined;
    });
    expect(runs.map((r) => r.status).sort()).toEqual(['COMPLETED', 'CONTINUED_AS_NEW', 'CONTINUED_AS_NEW']);

    // Every run replays against the current bundle (determinism).
    const histories = await Promise.all(
      runs.map(async ({ runId }) => ({ workflowId, history: await stack.temporalClient.workflow.getHandle(workflowId, runId).fetchHistory() })),
    );
    const replayErrors: (string | null)[] = [];
    for await (const replay of Worker.runReplayHistories({ workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! } }, histories)) {
      replayErrors.push(replay.error ? String(replay.error) : null);
    }
    expect(replayErrors).toEqual([null, null, null]);
  });

  it('a cancel while running starts no further notifications; those started go on', async () => {
    const role = stack.uid('promo');
    const members = Array.from({ length: 30 }, () => stack.uid('u'));
    for (const id of members) await stack.createRecipient({ id, roles: [role] });
    const { campaignId } = await stack.client.scheduleCampaign(campaign(role, { channels: ['in_app'] }), { pageSize: 1 });
    await waitFor(async () => ((await stack.client.campaignProgress(campaignId)).started >= 1 ? true : undefined), 20_000, 20);
    await stack.client.cancelCampaign(campaignId, 'stop');
    const result = await stack.client.campaignResult(campaignId);
    expect(result.state).toBe('cancelled');
    expect(result.started).toBeGreaterThanOrEqual(1);
    expect(result.started).toBeLessThan(members.length);
    expect(await row(campaignId)).toMatchObject({ state: 'cancelled', started: result.started, targeted: result.targeted });
    const states = await Promise.all(
      members.map((userId) =>
        notificationOf(campaignId, userId)
          .result()
          .then((s) => (s as NotificationStatus).state, (err) => (err instanceof WorkflowNotFoundError ? 'not started' : String(err))),
      ),
    );
    expect(states.filter((s) => s === 'delivered')).toHaveLength(result.started);
    expect(states.filter((s) => s === 'not started')).toHaveLength(members.length - result.started);
  });

  it('fails a campaign started by hand with a non-marketing template, storing nothing', async () => {
    const campaignId = '0f3a6c1e-1111-4aaa-8bbb-000000000001'.replace('000000000001', stack.id.padStart(12, '0'));
    const handle = await stack.temporalClient.workflow.start('campaignWorkflow', {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: campaignWorkflowId(campaignId),
      args: [{ campaignId, campaign: { name: 'Wrong', templateCode: 'order_created', segment: { roles: ['customer'] } } }],
    });
    await expect(handle.result()).rejects.toMatchObject({ cause: { cause: { type: 'InvalidCampaign', message: expect.stringContaining('templateCode: template "order_created" is in category order_updates') } } });
    expect(await stack.orm.em.fork().count(Campaign, { id: campaignId })).toBe(0);
  });
});

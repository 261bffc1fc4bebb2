import { WorkflowFailedError } from '@temporalio/client';
import { DeliveryAttempt, Notification } from '../../src/db/entities';
import { sendJobId } from '../../src/domain/channels';
import { eventWorkflowId, notificationKey } from '../../src/domain/workflow-ids';
import { ApiTestApp, apiTestEnv } from '../helpers/api-app';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/**
 * Issue 15, item 5: a resend of an event id whose workflow ended without completing (failed, terminated,
 * timed out, cancelled) starts it again and sends nothing twice; a completed or running one starts nothing
 * (docs/contracts.md, "Workflows and ids").
 */
describe('resending an event whose workflow did not complete', () => {
  const stack = new TestStack({ env: apiTestEnv({ DELIVERY_DEADLINE_MS: '5000' }) });
  const api = new ApiTestApp(stack);
  beforeAll(async () => {
    await stack.start();
    await api.start();
  });
  afterAll(async () => {
    await api.close();
    await stack.stop();
  });

  /** A direct send of order_created by email and in-app to the given recipients. */
  function event(eventId: string, userIds: string[], delayMs = 0) {
    return {
      id: eventId,
      templateCode: 'order_created',
      occurredAt: new Date().toISOString(),
      userIds,
      data: { orderNumber: `R-${eventId.slice(-6)}`, total: 12, currency: 'INR' },
      options: { delayMs, channels: ['email', 'in_app'] },
    };
  }
  const publish = (body: Record<string, unknown>) =>
    api.service({ method: 'POST', url: '/api/events', payload: body });

  async function recipients(count: number): Promise<string[]> {
    const ids = Array.from({ length: count }, () => stack.uid('u'));
    for (const id of ids) await stack.createRecipient({ id });
    return ids;
  }

  async function rows(eventId: string): Promise<Notification[]> {
    return stack.orm.em.fork().find(Notification, { eventId }, { orderBy: { recipientId: 'asc' } });
  }

  /** Each channel's delivery attempts of every notification of the event, by recipient. */
  async function attemptsByRecipient(eventId: string): Promise<Record<string, string[]>> {
    const em = stack.orm.em.fork();
    const out: Record<string, string[]> = {};
    for (const n of await rows(eventId)) {
      const attempts = await em.find(
        DeliveryAttempt,
        { notificationId: n.id },
        { orderBy: { channel: 'asc', startedAt: 'asc' } },
      );
      out[n.recipientId] = attempts.map((a) => `${a.channel}:${a.status}`);
    }
    return out;
  }

  /** Jobs not yet done in the email and in-app queues of this stack. */
  async function jobCounts(): Promise<number[]> {
    return Promise.all(
      (['email', 'in_app'] as const).map(async (c) =>
        Object.values(
          await stack.queues.queue(c).getJobCounts('waiting', 'prioritized', 'delayed', 'active'),
        ).reduce((a, b) => a + b, 0),
      ),
    );
  }

  async function terminate(eventId: string, reason: string): Promise<void> {
    const handle = stack.temporalClient.workflow.getHandle(eventWorkflowId(eventId));
    await handle.terminate(reason);
    expect((await handle.describe()).status.name).toBe('TERMINATED');
  }

  it('a completed event is not started again, by the client or the HTTP API', async () => {
    const [userId] = await recipients(1);
    const eventId = stack.uid('evt');
    const first = await publish(event(eventId, [userId]));
    expect(first.statusCode).toBe(202);
    expect(first.json()).toMatchObject({ started: true });
    const result = await stack.client.eventResult(eventId);
    expect(result.notifications).toEqual([expect.objectContaining({ userId, state: 'delivered' })]);

    const again = await publish(event(eventId, [userId]));
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual({ ...first.json(), started: false });
    expect((await stack.client.publishEvent(event(eventId, [userId]))).started).toBe(false);
    await stack.smtp.waitForMessages(`${userId}@example.test`);
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(1);
    expect(await attemptsByRecipient(eventId)).toEqual({ [userId]: ['email:delivered', 'in_app:delivered'] });
  });

  it('a running event is not started twice', async () => {
    const [userId] = await recipients(1);
    const eventId = stack.uid('evt');
    expect((await publish(event(eventId, [userId], 60_000))).json()).toMatchObject({ started: true });
    expect((await publish(event(eventId, [userId], 60_000))).json()).toMatchObject({ started: false });
    await stack.client.cancel({ eventId });
    await stack.client.eventResult(eventId);
  });

  it('an event terminated while its notifications wait starts again on resend and delivers each once', async () => {
    const userIds = await recipients(2);
    const eventId = stack.uid('evt');
    expect((await publish(event(eventId, userIds, 5000))).json()).toMatchObject({ started: true });
    const waiting = await waitFor(async () => {
      const stored = await rows(eventId);
      return stored.length === 2 && stored.every((n) => n.state === 'scheduled') ? stored : undefined;
    });
    await terminate(eventId, 'operator: event step failed for good during an outage');

    const resend = await publish(event(eventId, userIds, 5000));
    expect(resend.statusCode).toBe(202);
    expect(resend.json()).toEqual({
      eventId,
      workflowId: eventWorkflowId(eventId),
      started: true,
      notificationKeys: userIds.map((u) => notificationKey(eventId, u)),
      notificationWorkflowIds: userIds.map((u) => notificationKey(eventId, u)),
    });

    // The new run found the stored rows waiting, with their first send time (the resend does not delay them again).
    const sendAt = waiting[0].sendAt!.toISOString();
    for (const userId of userIds)
      expect(await stack.client.status(eventId, userId)).toMatchObject({ state: 'scheduled', sendAt });

    const result = await stack.client.eventResult(eventId);
    expect(result.notifications.map((n) => [n.userId, n.state]).sort()).toEqual(
      userIds.map((u) => [u, 'delivered']).sort(),
    );
    // The rows stored by the first run, kept (same ids), sent once each, not before their send time.
    const done = await rows(eventId);
    expect(done.map((n) => [n.id, n.state])).toEqual(waiting.map((n) => [n.id, 'delivered']));
    for (const userId of userIds) expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(1);
    expect(await attemptsByRecipient(eventId)).toEqual(
      Object.fromEntries(userIds.map((u) => [u, ['email:delivered', 'in_app:delivered']])),
    );
    const firstAttempt = await stack.orm.em
      .fork()
      .findOneOrFail(
        DeliveryAttempt,
        { notificationId: { $in: done.map((n) => n.id) } },
        { orderBy: { startedAt: 'asc' } },
      );
    expect(firstAttempt.startedAt.getTime()).toBeGreaterThanOrEqual(Date.parse(sendAt) - 1000);
    // Completed now: a further resend starts nothing.
    expect((await publish(event(eventId, userIds, 5000))).json()).toMatchObject({ started: false });
  }, 60_000);

  it('an event whose workflow failed (its template did not exist yet) starts again on resend once the template exists', async () => {
    const [userId] = await recipients(1);
    const eventId = stack.uid('evt');
    const templateCode = `resend_${stack.id}`;
    const body = { ...event(eventId, [userId]), templateCode, options: { channels: ['in_app'] } };
    expect((await publish(body)).json()).toMatchObject({ started: true });
    const failure = await stack.client.eventResult(eventId).then(
      () => null,
      (err: Error) => err,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const causes: string[] = [];
    for (let e: Error | undefined = failure!; e; e = (e as { cause?: Error }).cause) causes.push(e.message);
    expect(causes.join(' <- ')).toContain(`no template with code "${templateCode}"`);

    const created = await api.admin({
      method: 'POST',
      url: `/api/templates/${templateCode}/versions`,
      payload: {
        channel: 'in_app',
        category: 'order_updates',
        fields: { title: 'Order {{orderNumber}}', body: 'Thanks.' },
      },
    });
    expect(created.statusCode).toBe(201);
    const resend = await publish(body);
    expect(resend.json()).toMatchObject({ started: true });
    const result = await stack.client.eventResult(eventId);
    expect(result.notifications).toEqual([expect.objectContaining({ userId, state: 'delivered' })]);
    expect(await attemptsByRecipient(eventId)).toEqual({ [userId]: ['in_app:delivered'] });
  }, 60_000);

  it('an event terminated after its hand-off, its jobs partly lost, starts again on resend: lost jobs are handed off again, kept ones not doubled', async () => {
    await stack.stopDeliveryWorkers();
    const userIds = await recipients(2);
    const eventId = stack.uid('evt');
    try {
      expect((await publish(event(eventId, userIds))).json()).toMatchObject({ started: true });
      const queued = await waitFor(async () => {
        const stored = await rows(eventId);
        return stored.length === 2 &&
          stored.every(
            (n) => n.channelStates.email?.state === 'queued' && n.channelStates.in_app?.state === 'queued',
          )
          ? stored
          : undefined;
      });
      await terminate(eventId, 'operator: event step failed for good during an outage');
      // What a Redis outage leaves behind: the first recipient's rows say queued, their jobs are gone.
      for (const channel of ['email', 'in_app'] as const)
        await stack.queues.queue(channel).remove(sendJobId(queued[0].id, channel));
      expect(await jobCounts()).toEqual([1, 1]);
      expect((await publish(event(eventId, userIds))).json()).toMatchObject({ started: true });
      // The new run's first step hands the open channels off again under the same job ids: still one job each.
      await waitFor(async () => ((await jobCounts()).join() === '2,2' ? true : undefined));
      for (const n of queued)
        for (const channel of ['email', 'in_app'] as const)
          expect(await stack.queues.queue(channel).getJob(sendJobId(n.id, channel))).toBeDefined();
    } finally {
      stack.startDeliveryWorkers();
    }
    const result = await stack.client.eventResult(eventId);
    expect(result.notifications.map((n) => n.state)).toEqual(['delivered', 'delivered']);
    for (const userId of userIds) {
      await stack.smtp.waitForMessages(`${userId}@example.test`);
      expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(1);
    }
    expect(await attemptsByRecipient(eventId)).toEqual(
      Object.fromEntries(userIds.map((u) => [u, ['email:delivered', 'in_app:delivered']])),
    );
    const [counter] = await stack.orm.em
      .fork()
      .getConnection()
      .execute(`select open_channels from notification_events where event_id = ?`, [eventId]);
    expect(Number(counter.open_channels)).toBe(0);
  }, 60_000);

  it('a channel sent before the run ended (its outcome and job lost) is not sent again by the new run', async () => {
    await stack.stopDeliveryWorkers();
    const [userId] = await recipients(1);
    const eventId = stack.uid('evt');
    let notificationId: string;
    try {
      expect(
        (await publish({ ...event(eventId, [userId]), options: { channels: ['email'] } })).json(),
      ).toMatchObject({ started: true });
      const queued = await waitFor(async () => {
        const [n] = await rows(eventId);
        return n?.channelStates.email?.state === 'queued' ? n : undefined;
      });
      notificationId = queued.id;
      await terminate(eventId, 'operator: event step failed for good during an outage');
      // What a worker leaves when the provider took the mail but the outcome never reached the row, and Redis lost the job.
      await stack.orm.em
        .fork()
        .getConnection()
        .execute(
          `insert into send_records (notification_id, channel, status, provider_message_id, claimed_by, claimed_at, sent_at)
         values (?, 'email', 'sent', 'smtp-earlier', 'test-worker', now(), now())`,
          [notificationId],
        );
      await stack.queues.queue('email').remove(sendJobId(notificationId, 'email'));
      expect(
        (await publish({ ...event(eventId, [userId]), options: { channels: ['email'] } })).json(),
      ).toMatchObject({ started: true });
    } finally {
      stack.startDeliveryWorkers();
    }
    const result = await stack.client.eventResult(eventId);
    expect(result.notifications).toEqual([expect.objectContaining({ userId, state: 'delivered' })]);
    const [done] = await rows(eventId);
    expect(done.channelStates.email).toMatchObject({ state: 'delivered', providerMessageId: 'smtp-earlier' });
    // The provider was not called again: the only "copy" is the one the send record says was sent before.
    expect(stack.smtp.transmissions.filter((m) => m.to.includes(`${userId}@example.test`))).toHaveLength(0);
  }, 60_000);
});

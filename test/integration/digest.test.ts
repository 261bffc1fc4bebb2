import { DIGEST_ITEM_SIGNAL, digestWorkflowId, type DigestItemSignal } from '../../src/domain/digest';
import { ApiTestApp, apiTestEnv } from '../helpers/api-app';
import { childEnvFor, NodeProcess } from '../helpers/node-process';
import { recipientRef } from '../../src/db/recipient-refs';
import { dataOf } from '../../src/state/notification-contents';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

interface DigestRow {
  id: string;
  event_id: string;
  state: string;
  data: { count: number; items: { eventId: string; summary: string }[]; itemsText: string };
}

/** The digest notifications (template inventory_low_stock_digest) stored for a recipient. */
async function digestRows(stack: TestStack, userId: string): Promise<DigestRow[]> {
  return stack.orm.em
    .fork()
    .getConnection()
    .execute(
      `select id, event_id, state, ${dataOf('n')} as data from notifications n where recipient_id = ? and template_code = 'inventory_low_stock_digest' order by created_at`,
      [userId],
    );
}

async function lowStockEvent(stack: TestStack, admins: string[], n: number): Promise<string> {
  const eventId = stack.uid('low');
  await stack.client.publishEvent({
    id: eventId,
    type: 'INVENTORY_LOW_STOCK',
    occurredAt: new Date().toISOString(),
    userIds: admins,
    data: { productName: `Mug ${n}`, currentStock: n, sku: `MUG-${n}` },
  });
  return eventId;
}

/** Rows of the events for the recipient: stored suppressed, each channel naming the digest. */
async function sourceRows(stack: TestStack, eventIds: string[], userId: string) {
  const rows: { state: string; channel_states: Record<string, { state: string; reason: string }> }[] =
    await stack.orm.em
      .fork()
      .getConnection()
      .execute(
        `select state, channel_states from notifications where recipient_id = ? and event_id in (select jsonb_array_elements_text(?::jsonb))`,
        [userId, JSON.stringify(eventIds)],
      );
  return rows;
}

describe('low-stock digest with the workflow worker killed mid-window', () => {
  const stack = new TestStack({ temporalWorker: false, env: { LOW_STOCK_DIGEST_WINDOW_MS: '20000' } });
  const workers: NodeProcess[] = [];
  beforeAll(() => stack.start());
  afterAll(async () => {
    for (const worker of workers) if (worker.exitCode === null) worker.kill('SIGKILL');
    await stack.stop();
  });

  async function startWorkflowWorker(): Promise<NodeProcess> {
    const worker = new NodeProcess(
      'src/bin/worker.ts',
      ['--workflows-only'],
      childEnvFor(stack.config, {
        WORKFLOW_BUNDLE_PATH: process.env.TEST_WORKFLOW_BUNDLE!,
        LOW_STOCK_DIGEST_WINDOW_MS: '20000',
      }),
    );
    workers.push(worker);
    await worker.waitForLine(/^workflow workers polling task queues /, 30_000);
    return worker;
  }

  it('sends a burst of 10 events as one digest per admin, every item exactly once', async () => {
    const admins = [stack.uid('admin'), stack.uid('admin')];
    for (const id of admins) await stack.createRecipient({ id, roles: ['admin'] });
    const first = await startWorkflowWorker();
    const eventIds: string[] = [];
    for (let n = 1; n <= 5; n++) eventIds.push(await lowStockEvent(stack, admins, n));
    // The first five are collected: each admin's row of each event is stored suppressed, naming the digest.
    await waitFor(async () =>
      (await sourceRows(stack, eventIds, admins[0])).length === 5 ? true : undefined,
    );
    first.kill('SIGKILL');
    await first.exited;
    for (let n = 6; n <= 10; n++) eventIds.push(await lowStockEvent(stack, admins, n));
    const second = await startWorkflowWorker();

    for (const admin of admins) {
      const [digest] = await waitFor(async () => {
        const rows = await digestRows(stack, admin);
        return rows.length > 0 && rows[0].state === 'delivered' ? rows : undefined;
      }, 60_000);
      expect(digest.data.count).toBe(10);
      expect(digest.data.items.map((i) => i.eventId).sort()).toEqual([...eventIds].sort());
      expect(digest.data.itemsText).toContain('Mug 7: 7 left (SKU MUG-7)');
      const rows = await sourceRows(stack, eventIds, admin);
      expect(rows).toHaveLength(10);
      for (const row of rows) {
        expect(row.state).toBe('suppressed');
        expect(row.channel_states.email.reason).toBe(
          `digest: collected into ${digestWorkflowId((await recipientRef(stack.orm.em.fork(), admin))!, 'INVENTORY_LOW_STOCK')}`,
        );
      }
      const mails = await stack.smtp.waitForMessages(`${admin}@example.test`, 1, 30_000);
      expect(mails).toHaveLength(1);
    }
    // Nothing else arrives: no second digest, no single low-stock mail.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    for (const admin of admins) {
      expect(await digestRows(stack, admin)).toHaveLength(1);
      expect(stack.smtp.messagesTo(`${admin}@example.test`)).toHaveLength(1);
    }
    second.kill('SIGKILL');
  }, 150_000);
});

describe('digest workflow', () => {
  const stack = new TestStack();
  beforeAll(() => stack.start());
  afterAll(() => stack.stop());

  it('keeps an item signalled twice (a retried activity) once', async () => {
    const userId = stack.uid('admin');
    await stack.createRecipient({ id: userId, roles: ['admin'] });
    const target = {
      recipientId: userId,
      key: 'INVENTORY_LOW_STOCK',
      templateCode: 'inventory_low_stock_digest',
    };
    const signal = (eventId: string, summary: string): DigestItemSignal => ({
      item: { eventId, occurredAt: new Date().toISOString(), summary, data: {} },
      closeAtMs: Date.now() + 1500,
    });
    const send = (s: DigestItemSignal) =>
      stack.temporalClient.workflow.signalWithStart('digestWorkflow', {
        workflowId: digestWorkflowId(userId, target.key),
        taskQueue: stack.config.temporal.taskQueue,
        args: [target],
        signal: DIGEST_ITEM_SIGNAL,
        signalArgs: [s],
      });
    await send(signal('e1', 'Mug: 1 left'));
    await send(signal('e1', 'Mug: 1 left'));
    await send(signal('e2', 'Cup: 2 left'));
    const [digest] = await waitFor(async () => {
      const rows = await digestRows(stack, userId);
      return rows.length > 0 ? rows : undefined;
    }, 30_000);
    expect(digest.data.items.map((i) => i.eventId)).toEqual(['e1', 'e2']);
    expect(digest.data.count).toBe(2);
    // A late duplicate (after the send) is dropped too: no second digest.
    await send(signal('e1', 'Mug: 1 left'));
    const handle = stack.temporalClient.workflow.getHandle(digestWorkflowId(userId, target.key));
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(await digestRows(stack, userId)).toHaveLength(1);
    await handle.terminate('test done');
  }, 60_000);
});

describe('daily digest preference', () => {
  const stack = new TestStack({ env: apiTestEnv() });
  const api = new ApiTestApp(stack);
  beforeAll(async () => {
    await stack.start();
    await api.start();
  });
  afterAll(async () => {
    await api.close();
    await stack.stop();
  });

  it('is set through the preferences API and routes the category into the daily digest', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId, timezone: 'Asia/Kolkata' });
    const url = '/api/preferences/digests';
    const bad = await api.as(userId, {
      method: 'PUT',
      url,
      payload: { inventory_alerts: { digest: 'daily', hour: 24 } },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('inventory_alerts.hour');
    const put = await api.as(userId, {
      method: 'PUT',
      url,
      payload: { inventory_alerts: { digest: 'daily', hour: 8 } },
    });
    expect(put.json()).toEqual({
      marketing: { digest: 'off' },
      inventory_alerts: { digest: 'daily', hour: 8 },
    });
    expect((await api.as(userId, { method: 'GET', url })).json()).toEqual(put.json());

    const { eventId } = await stack.client.publishNotification({
      id: stack.uid('evt'),
      userId,
      templateCode: 'inventory_low_stock',
      variables: { productName: 'Mug', currentStock: 2 },
    });
    const result = await stack.client.eventResult(eventId);
    expect(result.notifications[0].state).toBe('suppressed');
    const ref = (await recipientRef(stack.orm.em.fork(), userId))!;
    const workflowId = digestWorkflowId(ref, 'daily.inventory_alerts');
    expect(workflowId).not.toContain(userId);
    expect((await stack.client.status(eventId, userId)).channels.email?.reason).toBe(
      `digest: collected into ${workflowId}`,
    );
    const handle = stack.temporalClient.workflow.getHandle(workflowId);
    const described = await handle.describe();
    expect(described.status.name).toBe('RUNNING');
    expect(described.searchAttributes).toMatchObject({ NotificationRecipientRef: [ref] });
    expect(described.searchAttributes.NotificationUserId).toBeUndefined();
    await handle.terminate('test done');

    const off = await api.as(userId, {
      method: 'PUT',
      url,
      payload: { inventory_alerts: { digest: 'off' } },
    });
    expect(off.json().inventory_alerts).toEqual({ digest: 'off' });
  }, 60_000);
});

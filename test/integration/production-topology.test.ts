import { randomBytes } from 'node:crypto';
import { childEnvFor, NodeProcess } from '../helpers/node-process';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/**
 * docs/production.md's topology as separate real processes: the API (src/bin/api.ts), one workflow worker
 * (src/bin/worker.ts --workflows-only) and two email channel workers (--channels=email). This test process
 * runs none of them: it only publishes over HTTP and reads results from Temporal, Postgres and the SMTP peer.
 */
describe('production topology: API, workflow worker and two email workers as separate processes', () => {
  const stack = new TestStack({ deliveryWorkers: false, temporalWorker: false });
  const apiKey = randomBytes(24).toString('hex');
  const processes: NodeProcess[] = [];
  let apiUrl = '';
  let emailWorkers: NodeProcess[] = [];

  // One send at a time per email process, so a held SMTP transaction pins one process and the other must take the rest.
  const env = (extra: Record<string, string> = {}) =>
    childEnvFor(stack.config, {
      SEND_EMAIL_CONCURRENCY: '1',
      METRICS_PORT: '0',
      ...extra,
    });

  function spawn(script: string, args: string[], extra: Record<string, string> = {}): NodeProcess {
    const child = new NodeProcess(script, args, env(extra));
    processes.push(child);
    return child;
  }

  beforeAll(async () => {
    await stack.start();
    const api = spawn('src/bin/api.ts', [], {
      PORT: '0',
      API_HOST: '127.0.0.1',
      API_KEYS: `checkout[sends+read]:${apiKey}`,
      JWT_SECRET: randomBytes(24).toString('hex'),
    });
    const workflowWorker = spawn('src/bin/worker.ts', ['--workflows-only'], {
      WORKFLOW_BUNDLE_PATH: process.env.TEST_WORKFLOW_BUNDLE!,
    });
    const email = [0, 1].map(() => spawn('src/bin/worker.ts', ['--channels=email']));
    // All four load at once; on a busy machine that takes a while.
    const [listening] = await Promise.all([
      api.waitForLine(/^HTTP API listening on /, 60_000),
      workflowWorker.waitForLine(/^workflow workers polling /, 60_000),
      ...email.map((w) => w.waitForLine(/^delivery workers consuming: email$/, 60_000)),
    ]);
    apiUrl = /\(docs (http:\/\/\S+)\/docs,/.exec(listening)![1];
    emailWorkers = email;
  }, 90_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await stack.stop();
  });

  async function publish(userId: string): Promise<string> {
    const id = stack.uid('evt');
    const res = await fetch(`${apiUrl}/api/notifications`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({
        id,
        userId,
        templateCode: 'order_created',
        variables: { orderNumber: id, total: 5, currency: 'INR' },
        options: { channels: ['email'] },
      }),
    });
    expect({ status: res.status, body: res.status === 202 ? '' : await res.text() }).toEqual({
      status: 202,
      body: '',
    });
    return id;
  }

  async function publishAll(count: number): Promise<{ userId: string; eventId: string }[]> {
    const sends: { userId: string; eventId: string }[] = [];
    for (let i = 0; i < count; i++) {
      const userId = stack.uid('u');
      await stack.createRecipient({ id: userId });
      sends.push({ userId, eventId: await publish(userId) });
    }
    return sends;
  }

  async function expectDelivered(sends: { userId: string; eventId: string }[]): Promise<void> {
    const results = await Promise.all(sends.map((s) => stack.client.eventResult(s.eventId)));
    expect(results.map((r) => r.notifications.map((n) => n.state))).toEqual(sends.map(() => ['delivered']));
    for (const { userId } of sends) expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(1);
  }

  /** Emails this process delivered, from its own /metrics. */
  async function deliveredBy(worker: NodeProcess): Promise<number> {
    const port = /:(\d+)\/metrics$/.exec(await worker.waitForLine(/^metrics at /))![1];
    const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const line = /^notification_delivery_attempts_total\{channel="email",status="delivered"\} (\d+)$/m.exec(
      body,
    );
    return line ? Number(line[1]) : 0;
  }

  it('delivers every event published through the API, and both email processes take jobs', async () => {
    const held = stack.smtp.holdNext();
    const first = await publishAll(1);
    await held.arrived; // one email process is now busy with this send (concurrency 1)
    const rest = await publishAll(8);
    // The other process delivers the rest while the first one waits for the SMTP answer.
    await waitFor(
      async () => (await Promise.all(emailWorkers.map(deliveredBy))).includes(8) || undefined,
      40_000,
    );
    held.release();
    await expectDelivered([...first, ...rest]);
    const counts = await Promise.all(emailWorkers.map(deliveredBy));
    expect(counts.sort()).toEqual([1, 8]);
  }, 60_000);

  it('keeps delivering with one email process killed', async () => {
    emailWorkers[0].kill('SIGKILL');
    expect(await emailWorkers[0].exited).toEqual({ code: null, signal: 'SIGKILL' });
    const before = await deliveredBy(emailWorkers[1]);
    const sends = await publishAll(5);
    await expectDelivered(sends);
    expect((await deliveredBy(emailWorkers[1])) - before).toBe(5);
  }, 60_000);
});

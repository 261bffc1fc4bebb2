import { sendJobId } from '../../src/domain/channels';
import { childEnvFor, NodeProcess } from '../helpers/node-process';
import { TestStack } from '../helpers/test-stack';

/**
 * The channel worker as a real process (src/bin/worker.ts --channels=email), killed and stopped the
 * way an orchestrator does it. The workflow worker runs in the test process.
 */
describe('delivery fabric: the worker process', () => {
  const stack = new TestStack({ deliveryWorkers: false, env: { DELIVERY_DEADLINE_MS: '30000' } });
  let worker: NodeProcess | null = null;
  // Short lock and stale claim so a dead worker's job comes back within seconds.
  const env = () =>
    childEnvFor(stack.config, {
      SEND_LOCK_DURATION_MS: '1000',
      SEND_RECORD_STALE_MS: '1500',
      SMTP_TIMEOUT_MS: '1000',
      HTTP_PROVIDER_TIMEOUT_MS: '1000',
      METRICS_PORT: '0',
    });

  beforeAll(() => stack.start());
  afterAll(async () => {
    await worker?.stop();
    await stack.stop();
  });

  async function scrape(): Promise<{ contentType: string | null; body: string }> {
    const port = /:(\d+)\/metrics$/.exec(await worker!.waitForLine(/^metrics at /))![1];
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    return { contentType: res.headers.get('content-type'), body: await res.text() };
  }

  it('SIGKILL in the middle of an SMTP send, then a restart: the email arrives once', async () => {
    const userId = stack.uid('u');
    const address = `${userId}@example.test`;
    await stack.createRecipient({ id: userId });
    const held = stack.smtp.holdNext();
    worker = await NodeProcess.worker('email', env());
    const eventId = await stack.publishEmail(userId);

    await held.arrived; // the data is at the SMTP server, which has not accepted it yet
    worker.kill('SIGKILL');
    expect(await worker.exited).toEqual({ code: null, signal: 'SIGKILL' });
    worker = await NodeProcess.worker('email', env());

    const result = await stack.client.eventResult(eventId);
    expect(result.notifications[0].state).toBe('delivered');
    expect(stack.smtp.messagesTo(address)).toHaveLength(1);
    const transmissions = stack.smtp.transmissions.filter((m) => m.to.includes(address));
    expect(transmissions).toHaveLength(2); // the killed send reached the server but was never accepted
    const messageIds = transmissions.map((m) => /^Message-ID: (.+)$/m.exec(m.raw)?.[1]);
    expect(messageIds[0]).toBe(messageIds[1]);

    const { notification, attempts } = await stack.deliveryAttempts(eventId, userId);
    expect(messageIds[0]).toBe(`<${notification.id}.email@shop.local>`);
    expect(attempts.map((a) => [a.status, a.attempt])).toEqual([
      ['interrupted', 1],
      ['delivered', 1],
    ]);
    expect(attempts[0].error).toMatch(/stopped mid-send/);
    expect((await stack.client.status(eventId, userId)).channels.email).toMatchObject({
      state: 'delivered',
      attempts: 1,
    });
  }, 75_000); // two process starts (up to 30 s each on a busy machine) and the takeover of the killed send

  it('exposes queue depth, attempt and failure counts on /metrics', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    stack.smtp.rejectNext = { code: 550, message: 'mailbox unavailable', times: 1 };
    const eventId = await stack.publishEmail(userId);
    expect((await stack.client.eventResult(eventId)).notifications[0].state).toBe('failed');

    const { contentType, body } = await scrape();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    // This process took over the killed send (interrupted + delivered), then met one permanent failure.
    expect(body).toMatch(/^notification_delivery_attempts_total\{channel="email",status="delivered"\} 1$/m);
    expect(body).toMatch(/^notification_delivery_attempts_total\{channel="email",status="interrupted"\} 1$/m);
    expect(body).toMatch(/^notification_delivery_attempts_total\{channel="email",status="failed"\} 1$/m);
    expect(body).toMatch(/^notification_delivery_failures_total\{channel="email",reason="permanent"\} 1$/m);
    expect(body).toMatch(/^notification_delivery_failures_total\{channel="email",reason="exhausted"\} 0$/m);
    expect(body).toMatch(/^notification_queue_jobs\{channel="email",state="completed"\} 1$/m);
    expect(body).toMatch(/^notification_queue_jobs\{channel="email",state="failed"\} 1$/m);
    expect(body).toMatch(/^notification_queue_jobs\{channel="email",state="prioritized"\} 0$/m);
    expect(body).toMatch(/^notification_queue_paused_seconds\{channel="email"\} 0$/m);
    expect(body).toMatch(
      /^notification_delivery_attempt_duration_seconds_count\{channel="email",status="delivered"\} 1$/m,
    );
  }, 15_000);

  it('SIGTERM finishes the send in flight, reports it, then exits 0', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const held = stack.smtp.holdNext();
    const eventId = await stack.publishEmail(userId);
    await held.arrived;

    worker!.kill('SIGTERM');
    await worker!.waitForLine(/^SIGTERM: shutting down gracefully/);
    expect(worker!.exitCode).toBeNull(); // still waiting for the SMTP server's answer
    held.release();
    expect(await worker!.exited).toEqual({ code: 0, signal: null });

    expect((await stack.client.eventResult(eventId)).notifications[0].state).toBe('delivered');
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(1);
    const { notification, attempts } = await stack.deliveryAttempts(eventId, userId);
    expect(attempts.map((a) => a.status)).toEqual(['delivered']);
    expect(
      await (await stack.queues.queue('email').getJob(sendJobId(notification.id, 'email')))!.getState(),
    ).toBe('completed');
  }, 20_000);
});

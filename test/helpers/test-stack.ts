import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { redisMasters, type RedisConnection } from '../../src/redis-connection';
import { loadConfig, type Config } from '../../src/config';
import { NotificationClient } from '../../src/client/notification-client';
import type { Channel } from '../../src/domain/channels';
import { DeliveryAttempt, Notification, Recipient } from '../../src/db/entities';
import { openOrm, type Orm } from '../../src/db/orm';
import { createProviders } from '../../src/delivery/providers/create-providers';
import { OutcomeRecorder, temporalWaker, type Waker } from '../../src/state/outcome-recorder';
import { TemporalOutcomeReporter, type OutcomeReporter } from '../../src/delivery/outcome-reporter';
import type { ChannelProvider } from '../../src/delivery/providers/provider';
import { SendQueues } from '../../src/delivery/send-queues';
import {
  connectRedis,
  connectTemporalClient,
  connectTemporalWorker,
  redisTarget,
} from '../../src/runtime/connections';
import { startDeliveryWorkers, type DeliveryWorkers } from '../../src/runtime/delivery-workers';
import { createTemporalWorkers, type TemporalWorkers } from '../../src/runtime/temporal-worker';
import { SmtpPeer } from './smtp-peer';

export interface TestStackOptions {
  /** Extra env for loadConfig (e.g. SEND_EMAIL_ATTEMPTS). */
  env?: Record<string, string>;
  /** Replace or add providers (e.g. Twilio pointed at a stand-in). */
  providers?: (stack: {
    config: Config;
    orm: Orm;
    redis: RedisConnection;
  }) => Partial<Record<Channel, ChannelProvider>>;
  /** Start channel workers (default true). */
  deliveryWorkers?: boolean;
  /** Start the workflow worker in this process (default true; false when a test runs it as a child process). */
  temporalWorker?: boolean;
  lockDurationMs?: number;
  /** Wraps the outcome reporter of the channel workers for release-0 workflows (e.g. to lose outcomes on the way to Temporal). */
  outcomes?: (real: OutcomeReporter) => OutcomeReporter;
  /** Lean event path: wraps the signal that wakes an event workflow when its last open channel closed (e.g. to lose it). */
  waker?: (real: Waker) => Waker;
  /** Lean event path: wraps the recorder that writes channel outcomes to Postgres (e.g. to lose an outcome after the send). */
  recorder?: (real: OutcomeRecorder) => OutcomeRecorder;
}

/**
 * The whole service wired to the real test services: Temporal (shared dev server, own task queue),
 * Postgres (test database), Redis (own queue prefix), a real SMTP peer.
 */
export class TestStack {
  readonly id = randomBytes(4).toString('hex');
  config!: Config;
  orm!: Orm;
  redis!: RedisConnection;
  temporalClient!: Client;
  client!: NotificationClient;
  queues!: SendQueues;
  smtp!: SmtpPeer;
  delivery: DeliveryWorkers | null = null;
  private nativeConnection!: NativeConnection;
  private temporalWorker: TemporalWorkers | null = null;
  private temporalWorkerRun: Promise<void> | null = null;

  constructor(private readonly options: TestStackOptions = {}) {}

  async start(): Promise<this> {
    this.smtp = await new SmtpPeer().start();
    this.config = loadConfig({
      TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
      DATABASE_URL: process.env.TEST_DATABASE_URL,
      TEMPORAL_TASK_QUEUE: `test-${this.id}`,
      QUEUE_PREFIX: `{test-${this.id}}`,
      SMTP_URL: this.smtp.url,
      DELIVERY_DEADLINE_MS: '15000',
      // Each low-stock event as its own notification; test/integration/digest.test.ts turns the digest on.
      LOW_STOCK_DIGEST_WINDOW_MS: '0',
      // Every stack encrypts its Temporal payloads with a key of its own, as production does (PAYLOAD_ENCRYPTION_KEYS: '' turns it off).
      PAYLOAD_ENCRYPTION_KEYS: `test-${this.id}:${randomBytes(32).toString('base64')}`,
      ...this.options.env,
    });
    this.orm = await openOrm(this.config.databaseUrl, { poolMax: 5 });
    this.redis = await connectRedis(redisTarget(this.config), `test-${this.id}`);
    this.temporalClient = await connectTemporalClient(this.config.temporal);
    this.nativeConnection = await connectTemporalWorker(this.config.temporal);
    this.client = new NotificationClient(this.temporalClient, this.config.temporal.taskQueue, {
      campaignTaskQueue: this.config.temporal.campaignTaskQueue,
    });
    this.queues = new SendQueues({
      connection: this.redis,
      prefix: this.config.queuePrefix,
      layout: this.config.redisKeyLayout,
      channels: this.config.channels,
    });
    if (this.options.temporalWorker !== false) await this.startTemporalWorker();
    if (this.options.deliveryWorkers !== false) this.startDeliveryWorkers();
    return this;
  }

  async startTemporalWorker(): Promise<void> {
    this.temporalWorker = await createTemporalWorkers({
      connection: this.nativeConnection,
      config: this.config,
      deps: {
        orm: this.orm,
        queues: this.queues,
        temporalClient: this.temporalClient,
        config: this.config,
        inAppFeed: { publisher: this.redis, prefix: this.config.queuePrefix },
      },
      workflowBundlePath: process.env.TEST_WORKFLOW_BUNDLE,
    });
    this.temporalWorkerRun = this.temporalWorker.run();
  }

  /** Stops the workflow worker the way a process shutdown would (workflows stay in Temporal). */
  async stopTemporalWorker(): Promise<void> {
    if (!this.temporalWorker) return;
    this.temporalWorker.shutdown();
    await this.temporalWorkerRun;
    this.temporalWorker = null;
  }

  startDeliveryWorkers(): void {
    const base = createProviders(this.config, this.orm, this.redis);
    const extra = this.options.providers?.({ config: this.config, orm: this.orm, redis: this.redis }) ?? {};
    const { waker, recorder } = this.options;
    const realWaker = temporalWaker(this.temporalClient);
    const realRecorder =
      waker || recorder
        ? new OutcomeRecorder(
            this.queues,
            waker ? waker(realWaker) : realWaker,
            this.config.deliveryDeadlineMs,
          )
        : undefined;
    this.delivery = startDeliveryWorkers({
      config: this.config,
      orm: this.orm,
      redis: this.redis,
      temporalClient: this.temporalClient,
      providers: { ...base, ...extra },
      lockDurationMs: this.options.lockDurationMs,
      outcomes: this.options.outcomes?.(new TemporalOutcomeReporter(this.temporalClient)),
      recorder: realRecorder && recorder ? recorder(realRecorder) : realRecorder,
    });
  }

  async stopDeliveryWorkers(): Promise<void> {
    await this.delivery?.close();
    this.delivery = null;
  }

  /** A recipient with ids unique to this stack, so test files never collide in the shared database. */
  async createRecipient(fields: Partial<Recipient> & { id: string }): Promise<Recipient> {
    const em = this.orm.em.fork();
    const recipient = em.create(Recipient, {
      email: `${fields.id}@example.test`,
      timezone: 'UTC',
      locale: 'en',
      roles: [],
      muted: false,
      quietHours: null,
      webhookUrl: null,
      phone: null,
      createdAt: new Date(),
      updatedAt: new Date(),
      ...fields,
    });
    await em.flush();
    return recipient;
  }

  /** A direct email-only send (order_created) to one recipient; returns its event id. */
  async publishEmail(userId: string): Promise<string> {
    const eventId = this.uid('evt');
    await this.client.publishNotification({
      id: eventId,
      userId,
      templateCode: 'order_created',
      variables: { orderNumber: eventId, total: 5, currency: 'INR' },
      options: { channels: ['email'] },
    });
    return eventId;
  }

  /** The stored notification of an event for one recipient, with its delivery attempts in order. */
  async deliveryAttempts(
    eventId: string,
    userId: string,
  ): Promise<{ notification: Notification; attempts: DeliveryAttempt[] }> {
    const em = this.orm.em.fork();
    const notification = await em.findOneOrFail(Notification, { eventId, recipientId: userId });
    const attempts = await em.find(
      DeliveryAttempt,
      { notificationId: notification.id },
      { orderBy: { startedAt: 'asc' } },
    );
    return { notification, attempts };
  }

  /**
   * Redis keys of this stack's send queues, whatever REDIS_KEY_LAYOUT: `{test-<id>}:...` (single) and
   * `{test-<id>:send-<channel>}:...` (spread) both start with `{test-<id>`.
   */
  async queueKeys(redis: RedisConnection = this.redis): Promise<string[]> {
    const pattern = `${this.config.queuePrefix.replace(/}$/, '')}*`;
    // On a cluster each master holds its own slots' keys.
    const perMaster = await Promise.all(redisMasters(redis).map((master) => master.keys(pattern)));
    return perMaster.flat();
  }

  /** A unique id for this stack, e.g. uid('u') -> 'u_1a2b3c4d_1'. */
  private counter = 0;
  uid(prefix: string): string {
    return `${prefix}_${this.id}_${++this.counter}`;
  }

  async stop(): Promise<void> {
    await this.stopDeliveryWorkers();
    await this.stopTemporalWorker();
    await this.queues.close();
    await this.nativeConnection.close();
    await this.temporalClient.connection.close();
    this.redis.disconnect();
    await this.orm.close();
    await this.smtp.stop();
  }
}

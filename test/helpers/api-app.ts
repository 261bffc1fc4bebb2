import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildApp, type ApiDeps } from '../../src/api/app';
import { signUserToken } from '../../src/api/dev-credentials';
import type { Config } from '../../src/config';
import { Notification } from '../../src/db/entities';
import { TestStack } from './test-stack';

export const SERVICE_KEY = 'svc-test-key-0123456789';
export const ADMIN_KEY = 'ops-test-key-9876543210';
export const JWT_SECRET = 'test-jwt-secret-0123456789abcdef0123';
export const JWT_ISSUER = 'https://id.shop.test';
export const JWT_AUDIENCE = 'notifications';

/** API settings for a TestStack: a plain service key, an admin key given as its SHA-256 (the stored form), HS256 tokens (admin: roles=admin). */
export function apiTestEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    API_KEYS: `checkout:${SERVICE_KEY}`,
    ADMIN_API_KEYS: `oncall:${createHash('sha256').update(ADMIN_KEY).digest('hex')}`,
    JWT_SECRET,
    JWT_ISSUER,
    JWT_AUDIENCE,
    JWT_ADMIN_CLAIM: 'roles=admin',
    TEMPORAL_UI_URL: 'http://temporal-ui.test:8233',
    ...extra,
  };
}

/** The real API on a TestStack's connections; `url` is set when started with listen. */
export class ApiTestApp {
  app!: FastifyInstance;
  url = '';

  constructor(readonly stack: TestStack) {}

  async start(
    options: { listen?: boolean; configure?: (config: Config) => Config } & Pick<
      ApiDeps,
      'clock' | 'sseHeartbeatMs' | 'webAssetsDir'
    > = {},
  ): Promise<this> {
    const { orm, redis, temporalClient, client, queues } = this.stack;
    const { listen, configure, ...rest } = options;
    const config = configure ? configure(this.stack.config) : this.stack.config;
    this.app = await buildApp({ config, orm, redis, temporalClient, notifications: client, queues, ...rest });
    if (listen) {
      await this.app.listen({ port: 0, host: '127.0.0.1' });
      this.url = `http://127.0.0.1:${(this.app.server.address() as AddressInfo).port}`;
    } else {
      await this.app.ready();
    }
    return this;
  }

  inject(options: InjectOptions) {
    return this.app.inject(options);
  }

  /** Service call with the test service key. */
  service(options: InjectOptions) {
    return this.app.inject({ ...options, headers: { 'x-api-key': SERVICE_KEY, ...options.headers } });
  }

  admin(options: InjectOptions) {
    return this.app.inject({ ...options, headers: { 'x-api-key': ADMIN_KEY, ...options.headers } });
  }

  /** Shopper call with a token for userId. */
  async as(userId: string, options: InjectOptions) {
    return this.app.inject({
      ...options,
      headers: { authorization: `Bearer ${await token(userId)}`, ...options.headers },
    });
  }

  async close(): Promise<void> {
    await this.app?.close();
  }
}

export function token(
  userId: string,
  options: { admin?: boolean; ttl?: string; issuer?: string; audience?: string } = {},
): Promise<string> {
  return signUserToken(JWT_SECRET, userId, { issuer: JWT_ISSUER, audience: JWT_AUDIENCE, ...options });
}

export function orderCreated(id: string, userId: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    type: 'ORDER_CREATED',
    occurredAt: new Date().toISOString(),
    userId,
    data: { orderNumber: `A-${id.slice(-4)}`, total: 1499, currency: 'INR' },
    options: { actionUrl: '/profile/orders/9' },
    ...extra,
  };
}

/** A delivered in-app notification written straight to Postgres (feed tests need many, not the pipeline). */
export async function insertDeliveredNotification(
  stack: TestStack,
  recipientId: string,
  fields: { title?: string; createdAt?: Date; readAt?: Date | null; deliveredAt?: Date | null } = {},
): Promise<Notification> {
  const em = stack.orm.em.fork();
  const eventId = stack.uid('evt');
  const createdAt = fields.createdAt ?? new Date();
  const notification = em.create(Notification, {
    eventId,
    eventType: 'ORDER_CREATED',
    recipientId,
    templateCode: 'order_created',
    templateVersions: { in_app: 1 },
    category: 'order_updates',
    priority: 'normal',
    state: 'delivered',
    channels: ['in_app'],
    workflowId: `notification-${eventId}-${recipientId}`,
    title: fields.title ?? `Order ${eventId}`,
    body: 'Thanks for your order.',
    actionUrl: null,
    actionText: null,
    data: {},
    content: {},
    error: null,
    readAt: fields.readAt ?? null,
    deliveredAt: fields.deliveredAt === undefined ? createdAt : fields.deliveredAt,
    createdAt,
    updatedAt: createdAt,
  });
  await em.flush();
  return notification;
}

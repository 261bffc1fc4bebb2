import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type { RedisConnection } from '../redis-connection';
import type { NotificationClient } from '../client/notification-client';
import type { Config } from '../config';
import type { Orm } from '../db/orm';
import type { SendQueues } from '../delivery/send-queues';
import type { Authenticator } from './auth/authenticate';
import type { FeedHub } from './feed-hub';

/** What the API needs from the running service; the caller owns (and closes) every one of them. */
export interface ApiDeps {
  config: Config;
  orm: Orm;
  /** The app's Redis connection; the API duplicates it for its pub/sub subscriber and rate limiter. */
  redis: RedisConnection;
  temporalClient: Client;
  notifications: NotificationClient;
  queues: SendQueues;
  /** Time source for read receipts (tests pin it). */
  clock?: () => Date;
  /** Request log level (pino, JSON lines on stdout); default: no logging. */
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** SSE keep-alive comment interval; default 15 s. */
  sseHeartbeatMs?: number;
  /** Built browser surfaces (tools/build-web.js); default dist/web under the package root. */
  webAssetsDir?: string;
}

/** Shared by the route plugins. */
export interface ApiContext {
  deps: ApiDeps;
  auth: Authenticator;
  hub: FeedHub;
  now: () => Date;
  sseHeartbeatMs: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** This request's own EntityManager (a fork; the global one is never used). */
    em: EntityManager;
  }
}

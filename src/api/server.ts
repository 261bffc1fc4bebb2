import type { FastifyInstance } from 'fastify';
import { NotificationClient } from '../client/notification-client';
import type { Config } from '../config';
import type { RunningService } from '../runtime/service';
import { buildApp } from './app';
import type { ApiDeps } from './context';
import { ADMIN_QUEUES_PATH } from './routes/admin-queues';

export interface RunningApi {
  app: FastifyInstance;
  /** Base URL as a local client reaches it, e.g. http://127.0.0.1:3000 */
  url: string;
  docsUrl: string;
  queuesUrl: string;
  /** Stops accepting requests, ends SSE streams, waits for in-flight requests. */
  close(): Promise<void>;
}

/** An API that nobody can call is a misconfiguration: at least one key or a JWT verifier. */
export function assertApiConfigured(config: Config): void {
  const { serviceKeys, adminKeys, jwt } = config.api;
  if (serviceKeys.length + adminKeys.length === 0 && !jwt) {
    throw new Error(
      'invalid configuration: API_KEYS, ADMIN_API_KEYS, JWT_SECRET, JWT_JWKS_URL: set at least one, or the API answers 401 to everyone',
    );
  }
}

/** Builds the API on a running service's connections and listens on config.port / config.api.host. */
export async function startApi(
  service: Pick<RunningService, 'config' | 'orm' | 'redis' | 'temporalClient' | 'queues'> &
    Partial<Pick<RunningService, 'eagerStart'>>,
  options: Pick<ApiDeps, 'logLevel'> = {},
): Promise<RunningApi> {
  const { config } = service;
  assertApiConfigured(config);
  const app = await buildApp({
    ...service,
    notifications: new NotificationClient(service.temporalClient, config.temporal.taskQueue, {
      campaignTaskQueue: config.temporal.campaignTaskQueue,
      eagerStart: service.eagerStart ?? false,
    }),
    logLevel: options.logLevel,
  });
  try {
    await app.listen({ port: config.port, host: config.api.host });
  } catch (err) {
    await app.close();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new Error(`HTTP API: port ${config.port} on ${config.api.host} is in use (set PORT)`, {
        cause: err,
      });
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = ['0.0.0.0', '::', ''].includes(config.api.host) ? '127.0.0.1' : config.api.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    app,
    url,
    docsUrl: `${url}/docs`,
    queuesUrl: `${url}${ADMIN_QUEUES_PATH}`,
    close: () => app.close(),
  };
}

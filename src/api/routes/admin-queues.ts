import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyPluginAsync } from 'fastify';
import { CHANNELS } from '../../domain/channels';
import type { ApiContext } from '../context';

export const ADMIN_QUEUES_PATH = '/admin/queues';

/** The BullMQ dashboard (bull-board) for every channel queue, behind admin auth (Basic auth with an admin key works in a browser). */
export function adminQueueRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath(ADMIN_QUEUES_PATH);
    createBullBoard({
      queues: CHANNELS.map((channel) => new BullMQAdapter(ctx.deps.queues.queue(channel))),
      serverAdapter,
      options: { uiConfig: { boardTitle: 'Notifications' } },
    });
    // bull-board's own buttons send no CSRF token: on the cookie, its actions need a same-origin request.
    app.addHook('onRequest', ctx.auth.guard('admin', { csrf: 'same-origin' }));
    await app.register(serverAdapter.registerPlugin(), { prefix: ADMIN_QUEUES_PATH });
  };
}

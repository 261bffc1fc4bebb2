/**
 * The default size of a process's Postgres pool (DATABASE_POOL_MAX unset), from what the process runs
 * (docs/production.md, "Postgres connections"). Each part asks for the connections it can use at once:
 * - the workflow worker: its Postgres-touching slots (local activities + activities), capped at
 *   WORKFLOW_WORKER_POOL_CAP: local activities hold a connection for a few milliseconds, so 200 slots
 *   queue briefly on 20 connections rather than each needing one (and 200 would exhaust Postgres);
 * - channel workers: the sum of the consumed channels' SEND_<CHANNEL>_CONCURRENCY (one job, at most one
 *   query at a time) plus PERIODIC_CONNECTIONS for the stuck-work scan and the retention sweep;
 * - the API alone: API_POOL_MAX.
 */
export const WORKFLOW_WORKER_POOL_CAP = 20;
export const PERIODIC_CONNECTIONS = 2;
export const API_POOL_MAX = 10;

export interface PoolParts {
  /** Concurrent local activities + activities of the workflow worker; null: no workflow worker here. */
  workflowWorkerSlots: number | null;
  /** SEND_<CHANNEL>_CONCURRENCY of each channel this process consumes; empty: no channel worker. */
  channelConcurrencies: number[];
}

/** DATABASE_POOL_MAX when set, else the sum of what the process's parts use at once. */
export function poolMaxFor(configured: number | null, parts: PoolParts): number {
  if (configured !== null) return configured;
  const workflow =
    parts.workflowWorkerSlots === null ? 0 : Math.min(parts.workflowWorkerSlots, WORKFLOW_WORKER_POOL_CAP);
  const channels = parts.channelConcurrencies.reduce((sum, n) => sum + n, 0);
  const worker = parts.workflowWorkerSlots !== null || parts.channelConcurrencies.length > 0;
  return worker ? workflow + channels + PERIODIC_CONNECTIONS : API_POOL_MAX;
}

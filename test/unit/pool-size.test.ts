import { loadConfig } from '../../src/config';
import { API_POOL_MAX, poolMaxFor } from '../../src/db/pool-size';
import { poolMaxOf } from '../../src/runtime/service';
import { WORKFLOW_WORKER_DB_SLOTS } from '../../src/runtime/temporal-worker';

/** DATABASE_POOL_MAX and the pool size derived from what a process runs (docs/production.md, "Postgres connections"). */
describe('Postgres pool size', () => {
  const api = { temporalWorker: false, deliveryWorkers: false };
  const workflowsOnly = { temporalWorker: true, deliveryWorkers: false };
  const channelsOnly = { temporalWorker: false, deliveryWorkers: true };
  const everything = { temporalWorker: true, deliveryWorkers: true };

  it('counts the workflow worker slots that may touch Postgres: 200 local activities, 50 + 2 activities', () => {
    expect(WORKFLOW_WORKER_DB_SLOTS).toBe(252);
  });

  it.each([
    ['the API', {}, api, API_POOL_MAX],
    ['the workflow worker (20, capped, + 2 periodic)', {}, workflowsOnly, 22],
    ['an email worker (SEND_EMAIL_CONCURRENCY 5 + 2)', { DELIVERY_CHANNELS: 'email' }, channelsOnly, 7],
    [
      'email and sms with email raised to 30',
      { DELIVERY_CHANNELS: 'email,sms', SEND_EMAIL_CONCURRENCY: '30' },
      channelsOnly,
      37,
    ],
    ['every channel (5+5+10+10+20 + 2)', {}, channelsOnly, 52],
    ['workflow and every channel (npm run dev, worker.js without flags)', {}, everything, 72],
  ])('derives %s', (_name, env, parts, expected) => {
    expect(poolMaxOf(loadConfig(env), parts)).toBe(expected);
  });

  it('takes DATABASE_POOL_MAX as set, whatever the process runs', () => {
    const config = loadConfig({ DATABASE_POOL_MAX: '40' });
    expect(config.databasePoolMax).toBe(40);
    for (const parts of [api, workflowsOnly, channelsOnly, everything])
      expect(poolMaxOf(config, parts)).toBe(40);
    expect(loadConfig({}).databasePoolMax).toBeNull();
    expect(loadConfig({ DATABASE_POOL_MAX: ' ' }).databasePoolMax).toBeNull();
  });

  it.each(['0', '-3', '1001', '2.5', 'lots'])('rejects DATABASE_POOL_MAX=%s naming the variable', (value) => {
    expect(() => loadConfig({ DATABASE_POOL_MAX: value })).toThrow(
      /^invalid configuration: DATABASE_POOL_MAX: /,
    );
  });

  it('caps only the workflow worker, never a configured channel concurrency', () => {
    expect(poolMaxFor(null, { workflowWorkerSlots: 8, channelConcurrencies: [] })).toBe(10);
    expect(poolMaxFor(null, { workflowWorkerSlots: 500, channelConcurrencies: [100] })).toBe(122);
  });
});

import type { Client } from '@temporalio/client';
import { findRelease0Waiting, RELEASE0_OPEN_CHECK_MS } from '../../activities/release-0-lookups';

/**
 * Supersession's look-up of release-0 notification workflows (activities/release-0-lookups.ts) asks
 * Temporal visibility per recipient only while release 0 may still run: not at all with
 * RELEASE0_DRAINED=true, and one count per RELEASE0_OPEN_CHECK_MS otherwise.
 */
describe('findRelease0Waiting', () => {
  const saved = process.env.RELEASE0_DRAINED;
  afterEach(() => {
    if (saved === undefined) delete process.env.RELEASE0_DRAINED;
    else process.env.RELEASE0_DRAINED = saved;
    jest.restoreAllMocks();
  });

  /** A visibility stand-in: `open` running release-0 notification workflows, each with a memo. */
  function fakeTemporal(open: { workflowId: string; correlationKey: string }[]) {
    const counts: string[] = [];
    const lists: string[] = [];
    const client = {
      workflow: {
        count: (query: string) => {
          counts.push(query);
          return Promise.resolve({ count: open.length, groups: [] });
        },
        list: ({ query }: { query: string }) => {
          lists.push(query);
          return (async function* () {
            for (const w of open)
              yield { workflowId: w.workflowId, memo: { correlationKey: w.correlationKey } };
          })();
        },
      },
    } as unknown as Client;
    return { client, counts, lists };
  }

  it('asks nothing when RELEASE0_DRAINED=true', async () => {
    process.env.RELEASE0_DRAINED = 'true';
    const temporal = fakeTemporal([{ workflowId: 'notification-e1-u1', correlationKey: 'o1' }]);
    expect(await findRelease0Waiting(temporal.client, 'ORDER_SHIPPED', 'o1', ['u1'])).toEqual([]);
    expect(temporal.counts).toEqual([]);
    expect(temporal.lists).toEqual([]);
  });

  it('once none runs: one count, then nothing until the answer is RELEASE0_OPEN_CHECK_MS old', async () => {
    delete process.env.RELEASE0_DRAINED;
    const temporal = fakeTemporal([]);
    let now = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    for (let i = 0; i < 3; i++)
      expect(await findRelease0Waiting(temporal.client, 'ORDER_SHIPPED', 'o1', ['u1', 'u2'])).toEqual([]);
    expect(temporal.counts).toHaveLength(1);
    expect(temporal.lists).toEqual([]);
    now += RELEASE0_OPEN_CHECK_MS;
    await findRelease0Waiting(temporal.client, 'ORDER_SHIPPED', 'o1', ['u1']);
    expect(temporal.counts).toHaveLength(2);
    expect(temporal.lists).toEqual([]);
  });

  it('while some run: looks each recipient up and keeps those of the order', async () => {
    delete process.env.RELEASE0_DRAINED;
    const temporal = fakeTemporal([
      { workflowId: 'notification-e1-u1', correlationKey: 'o1' },
      { workflowId: 'notification-e2-u1', correlationKey: 'o2' },
    ]);
    expect(await findRelease0Waiting(temporal.client, 'ORDER_SHIPPED', 'o1', ['u1'])).toEqual([
      'notification-e1-u1',
    ]);
    expect(temporal.counts).toHaveLength(1);
    expect(temporal.lists).toEqual([
      "WorkflowType = 'notificationWorkflow' AND ExecutionStatus = 'Running' AND NotificationEventType = 'ORDER_SHIPPED' AND NotificationUserId = 'u1'",
    ]);
  });
});

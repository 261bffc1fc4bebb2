import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import {
  findWorkflowsWithoutTimer,
  historyOf,
  openWorkOf,
  waitsWithoutDeadline,
  type OpenWork,
} from '../../src/operations/open-work';
import { waitFor } from '../helpers/wait-for';

/**
 * The history analysis behind invariant I2 (docs/contracts.md, "Stuck work") on histories of real
 * workflows run by a real worker on the test Temporal server: one tiny workflow per kind of open work.
 */
describe('open work of a workflow, read from its history', () => {
  const id = randomBytes(4).toString('hex');
  const taskQueue = `open-work-${id}`;
  let connection: Connection;
  let nativeConnection: NativeConnection;
  let client: Client;
  let worker: Worker;
  let workerRun: Promise<void>;
  let releaseActivities!: () => void;
  const activitiesReleased = new Promise<void>((resolve) => (releaseActivities = resolve));
  let localActivityRunning = false;
  const started: string[] = [];

  beforeAll(async () => {
    connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS });
    client = new Client({ connection });
    nativeConnection = await NativeConnection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS });
    worker = await Worker.create({
      connection: nativeConnection,
      taskQueue,
      workflowsPath: require.resolve('./open-work/workflows'),
      activities: {
        async blockUntilReleased() {
          localActivityRunning = true;
          await activitiesReleased;
        },
        async alwaysFails() {
          throw new Error('this activity always fails');
        },
      },
    });
    workerRun = worker.run();
  }, 120_000);

  afterAll(async () => {
    releaseActivities();
    await Promise.all(
      started.map((workflowId) =>
        client.workflow
          .getHandle(workflowId)
          .terminate('test over')
          .catch(() => undefined),
      ),
    );
    worker?.shutdown();
    await workerRun;
    await nativeConnection?.close();
    await connection?.close();
  });

  async function start(workflowType: string, args: unknown[] = [], queue = taskQueue): Promise<string> {
    const workflowId = `${taskQueue}-${workflowType}-${started.length}`;
    await client.workflow.start(workflowType, { taskQueue: queue, workflowId, args });
    started.push(workflowId);
    return workflowId;
  }

  /** Polls the workflow's history until its open work matches `expected`. */
  async function openWorkReaches(
    workflowId: string,
    expected: Partial<OpenWork>,
    timeoutMs = 20_000,
  ): Promise<OpenWork> {
    let last: OpenWork | undefined;
    try {
      return await waitFor(async () => {
        const history = await historyOf(client, workflowId);
        last = history ? openWorkOf(history) : undefined;
        return last && Object.entries(expected).every(([k, v]) => last![k as keyof OpenWork] === v)
          ? last
          : undefined;
      }, timeoutMs);
    } catch (err) {
      throw new Error(
        `${workflowId}: open work ${JSON.stringify(last)} never matched ${JSON.stringify(expected)}: ${String(err)}`,
        { cause: err },
      );
    }
  }

  const nothingPending = { timers: 0, activities: 0, workflowTasks: 0, others: 0 };

  it('tells a workflow waiting for a signal without deadline from every workflow that holds a timer or pending work', async () => {
    const stuck = await start('waitsForSignal');
    const withTimer = await start('waitsWithTimer');
    const withActivity = await start('runsActivity');
    const withLocalActivity = await start('runsLocalActivity');
    const retrying = await start('retriesLocalActivity');
    const withChild = await start('startsChild', [{ childTaskQueue: `${taskQueue}-nobody` }]);
    const unpolled = await start('waitsForSignal', [], `${taskQueue}-nobody-polls`);
    const finished = await start('finishes');
    const failing = await start('failsItsTask');

    expect(waitsWithoutDeadline(await openWorkReaches(stuck, { open: true, ...nothingPending }))).toBe(true);
    await openWorkReaches(withTimer, { open: true, timers: 1, workflowTasks: 0 });
    await openWorkReaches(withActivity, { open: true, activities: 1, workflowTasks: 0 });
    // A running local activity writes no event: the workflow task it runs in stays open (started, not completed).
    await waitFor(() => (localActivityRunning ? true : undefined));
    expect(await openWorkReaches(withLocalActivity, { open: true, workflowTasks: 1 })).toEqual({
      open: true,
      timers: 0,
      activities: 0,
      workflowTasks: 1,
      others: 0,
    });
    // A local activity's backoff beyond localRetryThreshold is a timer in history.
    expect(await openWorkReaches(retrying, { open: true, timers: 1, workflowTasks: 0 })).toEqual({
      open: true,
      timers: 1,
      activities: 0,
      workflowTasks: 0,
      others: 0,
    });
    await openWorkReaches(withChild, { open: true, others: 1, workflowTasks: 0, timers: 0 });
    // No worker ever picked it up: its first workflow task is pending (a worker outage, not a missing deadline).
    await openWorkReaches(unpolled, { open: true, workflowTasks: 1 });
    await openWorkReaches(finished, { open: false });
    // History ends with WorkflowTaskFailed; the server retries the task unrecorded (describe shows it pending).
    await openWorkReaches(failing, { open: true, workflowTasks: 1, timers: 0 });
    expect((await client.workflow.getHandle(failing).describe()).raw.pendingWorkflowTask).toBeTruthy();

    const found = await findWorkflowsWithoutTimer(client, [...started, `${taskQueue}-never-started`]);
    expect(found).toEqual([stuck]);
  });

  it('no longer reports the workflow once a signal ends its wait', async () => {
    const stuck = await start('waitsForSignal');
    await openWorkReaches(stuck, { open: true, ...nothingPending });
    expect(await findWorkflowsWithoutTimer(client, [stuck])).toEqual([stuck]);
    await client.workflow.getHandle(stuck).signal('release');
    await client.workflow.getHandle(stuck).result();
    expect(await findWorkflowsWithoutTimer(client, [stuck])).toEqual([]);
  });
});

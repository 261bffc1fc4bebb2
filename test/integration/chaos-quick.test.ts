import { ChaosEnvironment } from '../../chaos/environment';
import { runScenario } from '../../chaos/run-scenario';
import { profiles, type Fault, type Scenario, type SendKind } from '../../chaos/scenarios';

/**
 * The quick chaos scenarios (docs/chaos.md): real processes (workflow worker, channel workers, a
 * Temporal dev server on a state file, private Postgres and Redis) and real faults of a few seconds,
 * judged as `npm run chaos` judges them: 0 lost, 0 stuck, no duplicate beyond the channel's policy,
 * nothing failed by our own infrastructure. One environment for all of them (its start-up is most of
 * the cost); each scenario has recipients of its own.
 */
const FAULT_MS = 3000;
const QUICK: [Fault, SendKind][] = [
  ['redis-refuse-writes', 'delayed'], // issue 15: a delayed send's wake-up while Redis answers OOM
  ['postgres-restart', 'immediate'], // issue 15: in-app sends while Postgres is down
  ['kill-channel-worker', 'immediate'], // SIGKILL with an email and a webhook in flight
  ['temporal-restart', 'delayed'], // the dev server killed and started again on its state file around the wake-up
];

describe('chaos: quick scenarios', () => {
  // Settling is quick when the service recovers; 20 s bounds a scenario that loses work.
  const short = profiles({
    CHAOS_SHORT_MS: String(FAULT_MS),
    CHAOS_DEADLINE_MS: '8000',
    CHAOS_SETTLE_MS: '20000',
  }).short;
  // Two attempts per channel, so that a fault of 3 s would use up a channel's budget if infrastructure
  // errors counted as delivery attempts (I4): the stand-ins never fail, so any failure is ours.
  const attempts = Object.fromEntries(
    ['IN_APP', 'EMAIL', 'SMS', 'PUSH', 'WEBHOOK'].map((c) => [`SEND_${c}_ATTEMPTS`, '2']),
  );
  // In-app sends paced at 2 a second: the sends published just before a fault are still queued when it
  // strikes (as a backlog is in production), instead of all done within the first few milliseconds.
  const backlog = { SEND_IN_APP_RATE_MAX: '2', SEND_IN_APP_RATE_DURATION_MS: '1000' };
  const profile = { ...short, serviceEnv: { ...short.serviceEnv, ...attempts, ...backlog } };
  let env: ChaosEnvironment;

  beforeAll(async () => {
    env = await ChaosEnvironment.start({
      serviceEnv: profile.serviceEnv,
      workflowBundlePath: process.env.TEST_WORKFLOW_BUNDLE,
      temporalCliPath: process.env.TEST_TEMPORAL_CLI_PATH,
    });
  }, 120_000);
  afterAll(() => env?.close(), 60_000);

  it.each(QUICK)(
    '%s during %s sends: nothing lost, nothing stuck, no duplicate beyond policy',
    async (fault, sendKind) => {
      const scenario: Scenario = {
        name: `${fault}/${sendKind}/short`,
        fault,
        sendKind,
        duration: 'short',
        faultMs: FAULT_MS,
        notifications: 8,
      };
      const result = await runScenario(env, scenario, profile);
      expect(result.sent).toBe(scenario.notifications);
      // The whole result on failure: final states, rows that are not final, history tails, process exits.
      expect({
        reasons: result.reasons,
        states: result.states,
        details: result.details,
        notes: result.notes,
      }).toEqual(expect.objectContaining({ reasons: [] }));
      expect(result).toMatchObject({
        lost: 0,
        stuck: [],
        duplicatesBeyondPolicy: 0,
        infraFailed: 0,
        verdict: 'pass',
      });
      if (fault === 'kill-channel-worker')
        expect(result.notes).toContain('killed with a send in flight at a provider');
    },
    60_000,
  );
});

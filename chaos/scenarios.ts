/**
 * The chaos matrix (docs/chaos.md): a scenario is one fault, held for one duration, while one kind of
 * send is under way. Durations and the service's retry budgets come from env so that "longer than any
 * retry budget" fits in a test run.
 */

export const FAULTS = [
  'redis-refuse-writes',
  'redis-flush',
  'redis-restart',
  'postgres-restart',
  'temporal-restart',
  'kill-workflow-worker',
  'kill-channel-worker',
  'kill-api',
] as const;
export type Fault = (typeof FAULTS)[number];

export const SEND_KINDS = ['immediate', 'delayed', 'quiet-hours', 'campaign'] as const;
export type SendKind = (typeof SEND_KINDS)[number];

export const DURATIONS = ['short', 'minute', 'beyond-budget'] as const;
export type DurationClass = (typeof DURATIONS)[number];

export interface Scenario {
  /** `<fault>/<send kind>/<duration>`, what `--only=` matches against. */
  name: string;
  fault: Fault;
  sendKind: SendKind;
  duration: DurationClass;
  /** How long the fault lasts. */
  faultMs: number;
  /** Notifications the scenario sends (one recipient each). */
  notifications: number;
}

/**
 * The service's env for a group of scenarios: the processes of one ChaosEnvironment share it, so
 * scenarios are grouped by profile (beyond-budget ones need budgets shorter than their fault).
 */
export interface Profile {
  name: DurationClass;
  faultMs: number;
  /** Env for every service process (merged over the environment's own). */
  serviceEnv: Record<string, string>;
  /** After the fault heals: how long every notification may take to reach a final state before the rest count as lost. */
  settleMs: number;
}

type Env = Record<string, string | undefined>;

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${name}: must be a positive integer number of milliseconds or a count, got "${raw}"`);
  return value;
}

/** Budgets shortened for every profile so that recovery (a redispatch, a takeover of a dead worker's send) happens within seconds. */
const FAST_RECOVERY = {
  SEND_LOCK_DURATION_MS: '2000',
  SEND_RECORD_STALE_MS: '4000',
  SMTP_TIMEOUT_MS: '3000',
  HTTP_PROVIDER_TIMEOUT_MS: '3000',
  INFRA_RETRY_MAX_BACKOFF_MS: '2000',
};

/**
 * Profiles from env (defaults in brackets):
 *   CHAOS_SHORT_MS [5000]   CHAOS_MINUTE_MS [60000]   CHAOS_BEYOND_MS [45000]
 *   CHAOS_BEYOND_HORIZON_MS [15000]: INFRA_RETRY_HORIZON_MS of the beyond-budget profile (shorter than its fault)
 *   CHAOS_DEADLINE_MS [10000]: DELIVERY_DEADLINE_MS of every profile
 *   CHAOS_SETTLE_MS [60000]: how long after the fault every notification may take to become final
 */
export function profiles(env: Env = process.env): Record<DurationClass, Profile> {
  const deadline = positiveInt(env, 'CHAOS_DEADLINE_MS', 10_000);
  const settleMs = positiveInt(env, 'CHAOS_SETTLE_MS', 60_000);
  const beyondMs = positiveInt(env, 'CHAOS_BEYOND_MS', 45_000);
  const horizon = positiveInt(env, 'CHAOS_BEYOND_HORIZON_MS', 15_000);
  if (horizon >= beyondMs)
    throw new Error(
      `CHAOS_BEYOND_HORIZON_MS (${horizon}) must be shorter than CHAOS_BEYOND_MS (${beyondMs}): the fault must outlast the budget`,
    );
  const common = { ...FAST_RECOVERY, DELIVERY_DEADLINE_MS: String(deadline) };
  // Short and minute faults stay within the infrastructure horizon: everything must be delivered afterwards.
  const withinBudget = { ...common, INFRA_RETRY_HORIZON_MS: String(3_600_000) };
  return {
    short: {
      name: 'short',
      faultMs: positiveInt(env, 'CHAOS_SHORT_MS', 5_000),
      serviceEnv: withinBudget,
      settleMs,
    },
    minute: {
      name: 'minute',
      faultMs: positiveInt(env, 'CHAOS_MINUTE_MS', 60_000),
      serviceEnv: withinBudget,
      settleMs,
    },
    'beyond-budget': {
      name: 'beyond-budget',
      faultMs: beyondMs,
      // Provider budgets shortened too: with the fault outlasting every budget, what ends must end explicitly (expired), not vanish.
      serviceEnv: {
        ...common,
        INFRA_RETRY_HORIZON_MS: String(horizon),
        SEND_IN_APP_ATTEMPTS: '3',
        SEND_EMAIL_ATTEMPTS: '3',
        SEND_SMS_ATTEMPTS: '3',
        SEND_PUSH_ATTEMPTS: '3',
        SEND_WEBHOOK_ATTEMPTS: '3',
        SEND_IN_APP_BACKOFF_MS: '500',
        SEND_EMAIL_BACKOFF_MS: '500',
        SEND_SMS_BACKOFF_MS: '500',
        SEND_PUSH_BACKOFF_MS: '500',
        SEND_WEBHOOK_BACKOFF_MS: '500',
      },
      settleMs: settleMs + horizon,
    },
  };
}

/** Every scenario of the matrix, optionally filtered: `pattern` is a comma list of substrings or /regex/ of scenario names. */
export function scenarios(
  options: { env?: Env; only?: string; durations?: readonly DurationClass[] } = {},
): Scenario[] {
  const env = options.env ?? process.env;
  const byDuration = profiles(env);
  const notifications = positiveInt(env, 'CHAOS_NOTIFICATIONS', 10);
  const all: Scenario[] = [];
  for (const duration of options.durations ?? DURATIONS) {
    for (const fault of FAULTS) {
      for (const sendKind of SEND_KINDS) {
        all.push({
          name: `${fault}/${sendKind}/${duration}`,
          fault,
          sendKind,
          duration,
          faultMs: byDuration[duration].faultMs,
          notifications,
        });
      }
    }
  }
  if (!options.only) return all;
  const match = nameMatcher(options.only);
  const chosen = all.filter((s) => match(s.name));
  if (chosen.length === 0)
    throw new Error(`--only=${options.only}: matches no scenario (names look like ${all[0].name})`);
  return chosen;
}

function nameMatcher(pattern: string): (name: string) => boolean {
  const regex = /^\/(.+)\/$/.exec(pattern);
  if (regex) {
    let compiled: RegExp;
    try {
      compiled = new RegExp(regex[1]);
    } catch (err) {
      throw new Error(`--only=${pattern}: not a regular expression: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return (name) => compiled.test(name);
  }
  const parts = pattern
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  return (name) => parts.some((part) => name.includes(part));
}

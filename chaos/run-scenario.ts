import type { Channel } from '../src/domain/channels';
import { sleep, type ChaosEnvironment, type Log } from './environment';
import { faultFor } from './faults';
import {
  allowedDeliveries,
  deliveriesPerRecipient,
  describeRow,
  historyTail,
  infrastructureFailures,
  isExpired,
  openAndStuck,
  waitUntilFinal,
  type ScenarioResult,
} from './judge';
import type { Profile, Scenario } from './scenarios';
import { planSends } from './sends';

/** Late deliveries (a job run again after the notification was final) still count as duplicates: listen this long after. */
const LATE_DELIVERY_GRACE_MS = 2000;

/**
 * One scenario: arm the fault, publish the sends lined up with it, hold the fault for its duration,
 * heal it, wait until every notification is final (at most profile.settleMs), then judge: counts by
 * final state, lost, stuck workflows (I2), duplicates against each channel's policy.
 */
export async function runScenario(
  env: ChaosEnvironment,
  scenario: Scenario,
  profile: Profile,
  log: Log = () => undefined,
): Promise<ScenarioResult> {
  const began = Date.now();
  await env.ensureHealthy();
  const eventsBefore = env.processEvents().length;
  const fault = faultFor(env, scenario);
  fault.arm();
  const plan = await planSends(env, scenario);
  await sleep(plan.faultAt - Date.now());

  log(`${scenario.name}: fault for ${scenario.faultMs} ms`);
  const outputSince = env.markOutput();
  await fault.inject();
  const injectedAt = Date.now();
  if (plan.wakeAt)
    fault.notes.push(`wake-up ${plan.wakeAt - injectedAt} ms into the ${scenario.faultMs} ms fault`);
  const during = plan.during();
  await sleep(injectedAt + scenario.faultMs - Date.now());
  await fault.heal();
  const healedAt = Date.now();
  await during;

  const work = plan.work;
  const expected =
    work.eventIds.length === 0
      ? 0
      : scenario.sendKind === 'campaign'
        ? work.recipients.length
        : work.eventIds.length;
  const rows = await waitUntilFinal(env, work, expected, healedAt + profile.settleMs);
  const settleMs = Date.now() - healedAt;
  await sleep(LATE_DELIVERY_GRACE_MS);

  const states: Record<string, number> = {};
  for (const row of rows) states[row.state] = (states[row.state] ?? 0) + 1;
  const finalRows = rows.filter((r) => !['scheduled', 'waiting_quiet_hours', 'sending'].includes(r.state));
  const lost = expected - finalRows.length;

  const workflowIds = [...new Set([...work.workflowIds, ...rows.map((r) => r.workflowId)])];
  const { open, stuck } = await openAndStuck(env.temporalClient, workflowIds).catch((err: Error) => ({
    open: [] as string[],
    stuck: [] as string[],
    error: err,
  }));

  const duplicates: Partial<Record<Channel, number>> = {};
  let duplicatesBeyondPolicy = 0;
  for (const perChannel of deliveriesPerRecipient(env, work).values()) {
    for (const [channel, count] of Object.entries(perChannel) as [Channel, number][]) {
      if (count > 1) duplicates[channel] = (duplicates[channel] ?? 0) + count - 1;
      duplicatesBeyondPolicy += Math.max(0, count - allowedDeliveries(channel, scenario));
    }
  }
  const failedByUs = infrastructureFailures(finalRows, scenario);
  const expired = finalRows.filter(isExpired).length;

  const reasons: string[] = [];
  if (work.unaccepted.length)
    reasons.push(`${work.unaccepted.length} publish(es) never accepted (${work.unaccepted[0]})`);
  if (lost > 0)
    reasons.push(`${lost} lost (not final ${Math.round(profile.settleMs / 1000)} s after the fault)`);
  if (stuck.length) reasons.push(`${stuck.length} stuck workflow(s) (open, no timer, no pending work)`);
  if (duplicatesBeyondPolicy) reasons.push(`${duplicatesBeyondPolicy} duplicate(s) beyond policy`);
  if (failedByUs.length) reasons.push(`${failedByUs.length} failed by our infrastructure (I1)`);
  if (expired && scenario.duration !== 'beyond-budget')
    reasons.push(`${expired} expired within the retry horizon`);

  const details: string[] = [];
  const worth = (r: (typeof rows)[number]) =>
    !finalRows.includes(r) ||
    failedByUs.includes(r) ||
    (isExpired(r) && scenario.duration !== 'beyond-budget');
  for (const row of rows.filter(worth).slice(0, 5)) details.push(describeRow(row));
  if (rows.length < expected) details.push(`${expected - rows.length} notification row(s) never stored`);
  const tailsOf = [...stuck, ...rows.filter((r) => !finalRows.includes(r)).map((r) => r.workflowId)];
  for (const id of [...new Set(tailsOf)].slice(0, 3)) details.push(await historyTail(env.temporalClient, id));

  if (work.refusals.count)
    fault.notes.push(
      `${work.refusals.count} publish tries refused and retried; first: ${work.refusals.first}`,
    );
  const notes = [...fault.notes, ...env.processEvents().slice(eventsBefore), ...errorSummary(outputSince())];
  const result: ScenarioResult = {
    scenario,
    sent: expected,
    states,
    lost,
    stuck,
    open: open.length,
    duplicates,
    duplicatesBeyondPolicy,
    infraFailed: failedByUs.length,
    expired,
    verdict: reasons.length ? 'FAIL' : 'pass',
    reasons,
    notes,
    details,
    settleMs,
    elapsedMs: Date.now() - began,
  };
  log(
    `${scenario.name}: ${result.verdict}${reasons.length ? ` (${reasons.join('; ')})` : ''} in ${Math.round(result.elapsedMs / 1000)} s`,
  );
  return result;
}

/** Evidence that the fault was felt: how many error lines the service processes printed since it began, and the first one. */
function errorSummary(lines: string[]): string[] {
  const errors = lines.filter((line) => /error|fail|refused|OOM|unavailable|ECONN|timed? ?out/i.test(line));
  return errors.length
    ? [
        `service processes printed ${errors.length} error line(s) since the fault began; first: ${errors[0].slice(0, 240)}`,
      ]
    : [];
}

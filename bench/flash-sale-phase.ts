/**
 * Phase 6 of bench/e2e-throughput.ts, the flash sale: an in-app campaign to FLASH_RECIPIENTS recipients scheduled
 * FLASH_LEAD_SECONDS + 5 s ahead, with the service's CAMPAIGN_STAGE_LEAD_MS at FLASH_LEAD_SECONDS, so it stages its
 * notifications (rows stored, jobs in BullMQ's delayed set) and BullMQ releases them at the start.
 *
 * Per notification, lateness = hand-off time - scheduled time, where hand-off is the job becoming ready (leaving the
 * delayed set: the in-app queue's delayed count is read every POLL_MS from 1 s before the start until it is 0; the
 * k-th job's hand-off is the first reading with at least k jobs out of it, so the figures are at most one reading
 * late) and, second, the row becoming visible in the notification center (delivered_at, set by the in-app worker).
 */
import { performance } from 'node:perf_hooks';
import type { Queue } from 'bullmq';
import type { NotificationClient } from '../src/client/notification-client';
import type { Orm } from '../src/db/orm';

export interface FlashSaleSettings {
  recipients: number;
  leadSeconds: number;
  timeoutSeconds: number;
}

interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface FlashSaleResult {
  recipients: number;
  leadSeconds: number;
  /** From the first staged row until every job was in the delayed set. */
  stagingSeconds: number | null;
  /** Jobs in the delayed set at the scheduled time (the rest were staged late, or lost). */
  stagedAtStart: number;
  /** Hand-off (job ready) lateness, ms. */
  handOff: Percentiles;
  /** Longest gap between two readings of the delayed set while jobs left it: the resolution of `handOff`. */
  longestGapMs: number;
  handedOffWithinMinute: number;
  /** Row visible (delivered_at) lateness, ms, and how many got there. */
  visible: Percentiles;
  delivered: number;
  redisGrowth: number;
}

export interface FlashSaleDeps {
  client: NotificationClient;
  orm: Orm;
  inAppQueue: Queue;
  /** Seeds `count` recipients `<prefix><i>` with the role and a marketing opt-in. */
  seed: (prefix: string, count: number, role: string) => Promise<void>;
  redisUsedMemory: () => Promise<number>;
  log: (line: string) => void;
  checkAborted: () => void;
}

const POLL_MS = 20;
/** The campaign is scheduled this much after the lead, so staging starts a little after scheduling. */
const START_MARGIN_MS = 5_000;

export async function flashSalePhase(
  deps: FlashSaleDeps,
  settings: FlashSaleSettings,
  run: string,
): Promise<FlashSaleResult> {
  const { recipients } = settings;
  const role = `flash-${run}`;
  deps.log(`flash sale: seeding ${recipients} recipients with role ${role}`);
  await deps.seed(`bf-${run}-`, recipients, role);
  const redisBefore = await deps.redisUsedMemory();
  const startAtMs = Date.now() + settings.leadSeconds * 1000 + START_MARGIN_MS;
  const { campaignId } = await deps.client.scheduleCampaign({
    name: `flash ${run}`,
    templateCode: 'marketing_announcement',
    segment: { roles: [role] },
    variables: { headline: 'Flash sale', message: 'Starts now.' },
    channels: ['in_app'],
    scheduledAt: new Date(startAtMs).toISOString(),
  });
  deps.log(`flash sale: campaign ${campaignId} starts at ${new Date(startAtMs).toISOString()}`);
  const staging = await watchStaging(deps, recipients, startAtMs);
  // Only the jobs staged by the start are timed here; pages staged after it go out at once (visible lateness).
  const release = await watchRelease(deps, staging.stagedAtStart, startAtMs);
  deps.log(`flash sale: ${release.readyAt.length} jobs ready, waiting for the in-app deliveries`);
  const visible = await watchDeliveries(deps, `campaign_${campaignId}`, recipients, startAtMs, settings);
  const handOffs = release.readyAt.map((t) => t - startAtMs);
  return {
    recipients,
    leadSeconds: settings.leadSeconds,
    stagingSeconds: staging.seconds,
    stagedAtStart: staging.stagedAtStart,
    handOff: percentiles(handOffs),
    longestGapMs: release.longestGapMs,
    handedOffWithinMinute: handOffs.filter((ms) => ms <= 60_000).length,
    visible: visible.lateness,
    delivered: visible.delivered,
    redisGrowth: Math.max(release.redisPeak, staging.redisPeak) - redisBefore,
  };
}

/** Until the start: how long staging took (first delayed job to all of them) and what was staged by the start. */
async function watchStaging(
  deps: FlashSaleDeps,
  recipients: number,
  startAtMs: number,
): Promise<{ seconds: number | null; stagedAtStart: number; redisPeak: number }> {
  let first: number | null = null;
  let seconds: number | null = null;
  let staged = 0;
  let redisPeak = 0;
  let lastLog = 0;
  while (Date.now() < startAtMs - 1000) {
    deps.checkAborted();
    staged = await deps.inAppQueue.getDelayedCount();
    if (staged > 0) first ??= performance.now();
    if (seconds === null && staged >= recipients && first !== null) {
      seconds = (performance.now() - first) / 1000;
      redisPeak = await deps.redisUsedMemory();
      deps.log(`flash sale: ${staged} jobs staged in ${seconds.toFixed(1)} s`);
    }
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      deps.log(`flash sale: ${staged} staged, start in ${((startAtMs - Date.now()) / 1000).toFixed(0)} s`);
    }
    await sleep(Math.min(250, startAtMs - 1000 - Date.now()));
  }
  return { seconds, stagedAtStart: staged, redisPeak };
}

/** From 1 s before the start: the time (epoch ms) each job left the delayed set, in order. */
async function watchRelease(
  deps: FlashSaleDeps,
  staged: number,
  startAtMs: number,
): Promise<{ readyAt: number[]; redisPeak: number; longestGapMs: number }> {
  const readyAt: number[] = [];
  const deadline = startAtMs + 120_000;
  let redisPeak = 0;
  let longestGapMs = 0;
  let lastTick = 0;
  for (;;) {
    deps.checkAborted();
    const tick = Date.now();
    const delayed = await deps.inAppQueue.getDelayedCount();
    if (tick >= startAtMs && delayed < staged) longestGapMs = Math.max(longestGapMs, tick - lastTick);
    lastTick = tick;
    // The reading counts at the start of the round trip that returned it: never earlier than the job was ready.
    while (readyAt.length < staged - delayed) readyAt.push(tick);
    if (delayed === 0 && tick >= startAtMs) break;
    if (tick > deadline) throw new Error(`flash sale: ${delayed} jobs still delayed 120 s after the start`);
    if (readyAt.length === 0) redisPeak = Math.max(redisPeak, await deps.redisUsedMemory());
    await sleep(POLL_MS - (Date.now() - tick));
  }
  return { readyAt, redisPeak, longestGapMs };
}

/** Until every row is delivered: lateness of delivered_at against the start, from Postgres. */
async function watchDeliveries(
  deps: FlashSaleDeps,
  eventId: string,
  recipients: number,
  startAtMs: number,
  settings: FlashSaleSettings,
): Promise<{ lateness: Percentiles; delivered: number }> {
  const conn = deps.orm.em.fork().getConnection();
  const deadline = startAtMs + settings.timeoutSeconds * 1000;
  let delivered = 0;
  while (delivered < recipients && Date.now() < deadline) {
    deps.checkAborted();
    await sleep(1000);
    const [row] = await conn.execute<{ n: number }[]>(
      `select count(*)::int as n from notifications where event_id = ? and delivered_at is not null`,
      [eventId],
    );
    delivered = row.n;
  }
  const [p] = await conn.execute<Record<string, number | null>[]>(
    `select percentile_disc(0.5) within group (order by ms) as p50, percentile_disc(0.95) within group (order by ms) as p95,
            percentile_disc(0.99) within group (order by ms) as p99, max(ms) as max
       from (select extract(epoch from delivered_at) * 1000 - ? as ms from notifications where event_id = ? and delivered_at is not null) x`,
    [startAtMs, eventId],
  );
  const num = (v: number | null) => (v === null ? NaN : Number(v));
  return { lateness: { p50: num(p.p50), p95: num(p.p95), p99: num(p.p99), max: num(p.max) }, delivered };
}

/** The phase's lines of the report. */
export function flashSaleLines(
  f: FlashSaleResult | undefined,
  row: (label: string, value: string, note?: string) => void,
): void {
  if (!f) return row('   flash sale', '-');
  const ms = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(0));
  const pct = (p: Percentiles) => `${ms(p.p50)} / ${ms(p.p95)} / ${ms(p.p99)}`;
  row(
    '   staged: jobs in the delayed set at the start',
    `${f.stagedAtStart} of ${f.recipients}`,
    f.stagingSeconds === null
      ? 'staging not done by the start'
      : `staging took ${f.stagingSeconds.toFixed(1)} s`,
  );
  row(
    '   handed off (job ready) within the minute',
    `${f.handedOffWithinMinute} of ${f.stagedAtStart}`,
    'of the jobs staged by the start',
  );
  row(
    '   hand-off lateness, ms (p50 / p95 / p99)',
    pct(f.handOff),
    `max ${ms(f.handOff.max)}; readings up to ${ms(f.longestGapMs)} ms apart`,
  );
  row('   in-app visible lateness, ms (p50 / p95 / p99)', pct(f.visible), `max ${ms(f.visible.max)}`);
  row('   in-app delivered', `${f.delivered} of ${f.recipients}`);
  row('   Redis used_memory growth with the jobs staged', `${(f.redisGrowth / 2 ** 20).toFixed(0)} MiB`);
}

function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN };
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

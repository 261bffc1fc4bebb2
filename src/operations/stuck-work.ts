import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { RedisConnection } from '../redis-connection';
import { isChannel, sendJobId, type Channel } from '../domain/channels';
import type { Orm } from '../db/orm';
import type { SendQueues } from '../delivery/send-queues';
import { LEAN_ROWS } from '../release-0/notification-owner';
import { forEachLimited, historyOf, openWorkOf, waitsWithoutDeadline } from './open-work';

/**
 * Stuck work, found by reading only (docs/contracts.md, "Stuck work"): notifications whose open channel
 * is past its deadline, channels `queued` without a job in Redis, open workflows without a timer.
 * Every part is bounded per scan (rows, histories), oldest first, so a scan costs the same on a
 * table of a billion rows; a part whose store is unreachable reports its error and the others still answer.
 */

export type StuckKind = 'past_deadline' | 'queued_without_job' | 'workflow_without_timer';

export interface PastDeadline {
  notificationId: string;
  eventId: string;
  workflowId: string;
  channel: Channel;
  /** The channel's deadlineAt (ISO). */
  deadlineAt: string;
}

export interface QueuedWithoutJob {
  notificationId: string;
  eventId: string;
  workflowId: string;
  channel: Channel;
  /** The BullMQ job id the row expects (`<notificationId>.<channel>`). */
  jobId: string;
  /** When the row last changed (ISO). */
  since: string;
}

export interface WorkflowWithoutTimer {
  workflowId: string;
  runId: string;
  workflowType: string;
  startedAt: string;
}

export interface StuckWorkScope {
  /** Open rows (state sending) examined, oldest first; `rowsTruncated`: more open rows exist beyond them. */
  rowsExamined: number;
  rowsTruncated: boolean;
  /** Running workflows listed (older than `workflowMinAgeMs`) and histories read. */
  workflowsListed: number;
  workflowsChecked: number;
  /** Not every listed workflow was checked in this scan (the next scan continues after `nextWorkflowCursor`). */
  workflowsTruncated: boolean;
  nextWorkflowCursor: string | null;
}

export interface StuckWork {
  scannedAt: string;
  eventsPastDeadline: PastDeadline[];
  queuedWithoutJob: QueuedWithoutJob[];
  workflowsWithoutTimer: WorkflowWithoutTimer[];
  /** Notifications in the final state `expired` (our infrastructure failed for longer than the retry horizon), capped at EXPIRED_COUNT_CAP. */
  expired: number | null;
  scope: StuckWorkScope;
  /** A part that could not be read: which, and why (the other parts still answered). */
  errors: { part: StuckKind | 'expired'; message: string }[];
}

export interface StuckWorkDeps {
  orm: Orm;
  queues: SendQueues;
  client: Client;
  /** The task queues of our event and campaign workflows (TEMPORAL_TASK_QUEUE, TEMPORAL_CAMPAIGN_TASK_QUEUE). */
  taskQueues: string[];
}

export interface StuckWorkOptions {
  now?: Date;
  /** An open channel counts past its deadline only this long after deadlineAt (the workflow's reconcile may be running). Default 60 s. */
  deadlineGraceMs?: number;
  /** Rows changed more recently than this are not checked for their job (a hand-off in progress). Default 60 s. */
  handOffGraceMs?: number;
  /** Open rows examined per scan, oldest first. Default 500. */
  maxRows?: number;
  /** Workflows younger than this are not checked (their first steps are still running). Default 60 s. */
  workflowMinAgeMs?: number;
  /** Running workflows listed per scan. Default 10000. */
  maxListedWorkflows?: number;
  /** Histories read per scan. Default 200. */
  maxHistories?: number;
  /** Continue after this workflow (the previous scan's `nextWorkflowCursor`); null: from the oldest. */
  workflowCursor?: string | null;
  /** Runs found stuck before: checked again first (so a count stays right across scans that each see a part). */
  recheckWorkflows?: WorkflowWithoutTimer[];
  /**
   * A part whose store has not answered within this is reported as an error (our connections queue
   * commands while a store is down instead of failing them). Default 20 s.
   */
  partTimeoutMs?: number;
}

export const EXPIRED_COUNT_CAP = 10_000;
const DEFAULTS = {
  deadlineGraceMs: 60_000,
  handOffGraceMs: 60_000,
  maxRows: 500,
  workflowMinAgeMs: 60_000,
  maxListedWorkflows: 10_000,
  maxHistories: 200,
  partTimeoutMs: 20_000,
};

export async function findStuckWork(deps: StuckWorkDeps, options: StuckWorkOptions = {}): Promise<StuckWork> {
  const o = { ...DEFAULTS, ...options };
  const now = options.now ?? new Date();
  const errors: StuckWork['errors'] = [];
  const part = async <T>(
    name: StuckWork['errors'][number]['part'],
    read: () => Promise<T>,
    fallback: T,
  ): Promise<T> => {
    try {
      return await withTimeout(read(), o.partTimeoutMs, `no answer within ${o.partTimeoutMs} ms`);
    } catch (err) {
      errors.push({ part: name, message: err instanceof Error ? err.message : String(err) });
      return fallback;
    }
  };
  const em = deps.orm.em.fork();
  const [rows, workflows, expired] = await Promise.all([
    part('past_deadline', () => openChannelRows(em, o.maxRows), null),
    part('workflow_without_timer', () => findWorkflowsWithoutDeadline(deps, now, o), null),
    part('expired', () => countExpired(em), null),
  ]);
  const eventsPastDeadline = rows ? pastDeadline(rows.channels, now.getTime() - o.deadlineGraceMs) : [];
  const queuedWithoutJob = rows
    ? await part(
        'queued_without_job',
        () => findQueuedWithoutJob(em, deps.queues, rows.channels, now.getTime() - o.handOffGraceMs),
        [],
      )
    : [];
  if (!rows)
    errors.push({
      part: 'queued_without_job',
      message: errors.find((e) => e.part === 'past_deadline')?.message ?? 'rows not read',
    });
  return {
    scannedAt: now.toISOString(),
    eventsPastDeadline,
    queuedWithoutJob,
    workflowsWithoutTimer: workflows?.stuck ?? [],
    expired,
    scope: {
      rowsExamined: rows?.examined ?? 0,
      rowsTruncated: rows?.truncated ?? false,
      workflowsListed: workflows?.listed ?? 0,
      workflowsChecked: workflows?.checked ?? 0,
      workflowsTruncated: workflows?.truncated ?? false,
      nextWorkflowCursor: workflows?.nextCursor ?? null,
    },
    errors,
  };
}

// ---- rows ---------------------------------------------------------------------------------------

interface OpenChannelRow {
  notificationId: string;
  eventId: string;
  workflowId: string;
  version: number;
  updatedAt: string;
  channel: Channel;
  state: 'pending' | 'queued';
  deadlineAt: string | null;
}

const iso = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The open channels of the oldest `limit` rows still sending (lean rows: channel states in the row;
 * release-0 rows are their own workflows' business), and whether more rows are sending than were examined.
 */
async function openChannelRows(
  em: EntityManager,
  limit: number,
): Promise<{ channels: OpenChannelRow[]; examined: number; truncated: boolean }> {
  const conn = em.getConnection();
  const [rows, [count]] = await Promise.all([
    conn.execute<
      {
        id: string;
        event_id: string;
        workflow_id: string;
        version: number;
        updated_at: string;
        channel: string;
        channel_state: string;
        deadline_at: string | null;
      }[]
    >(
      `with oldest as (
         select id, event_id, workflow_id, version, updated_at, channel_states
           from notifications where state = 'sending' and ${LEAN_ROWS}
          order by created_at, id limit ?
       )
       select o.id, o.event_id, o.workflow_id, o.version, ${iso('o.updated_at')} as updated_at,
              c.key as channel, c.value ->> 'state' as channel_state, c.value ->> 'deadlineAt' as deadline_at
         from oldest o cross join lateral jsonb_each(o.channel_states) c
        where c.value ->> 'state' in ('pending', 'queued')`,
      [limit],
    ),
    conn.execute<{ n: number }[]>(
      `select count(*)::int as n from (select 1 from notifications where state = 'sending' and ${LEAN_ROWS} limit ?) s`,
      [limit + 1],
    ),
  ]);
  const channels: OpenChannelRow[] = [];
  for (const r of rows) {
    if (!isChannel(r.channel) || (r.channel_state !== 'pending' && r.channel_state !== 'queued')) continue;
    channels.push({
      notificationId: r.id,
      eventId: r.event_id,
      workflowId: r.workflow_id,
      version: r.version,
      updatedAt: r.updated_at,
      channel: r.channel,
      state: r.channel_state,
      deadlineAt: r.deadline_at,
    });
  }
  const n = count?.n ?? 0;
  return { channels, examined: Math.min(n, limit), truncated: n > limit };
}

/** Open channels whose deadline passed more than the grace ago, oldest deadline first. */
function pastDeadline(channels: OpenChannelRow[], cutoffMs: number): PastDeadline[] {
  return channels
    .filter((c) => c.deadlineAt !== null && Date.parse(c.deadlineAt) < cutoffMs)
    .map((c) => ({
      notificationId: c.notificationId,
      eventId: c.eventId,
      workflowId: c.workflowId,
      channel: c.channel,
      deadlineAt: c.deadlineAt!,
    }))
    .sort((a, b) => Date.parse(a.deadlineAt) - Date.parse(b.deadlineAt));
}

/**
 * Queued channels (of rows unchanged for the hand-off grace) whose job key is absent from Redis; one
 * pipelined EXISTS per channel queue. A row that changed while Redis was read (a worker finished and
 * removed its job) is read again and dropped, so a finishing send is never reported.
 */
async function findQueuedWithoutJob(
  em: EntityManager,
  queues: SendQueues,
  channels: OpenChannelRow[],
  changedBeforeMs: number,
): Promise<QueuedWithoutJob[]> {
  const candidates = channels.filter(
    (c) => c.state === 'queued' && Date.parse(c.updatedAt) < changedBeforeMs,
  );
  const missing: OpenChannelRow[] = [];
  for (const [channel, group] of groupBy(candidates, (c) => c.channel)) {
    const queue = queues.queue(channel);
    // BullMQ's client is an ioredis connection (the one SendQueues was given); on a cluster the pipeline's
    // keys share the queue's hash tag, so one node answers them all.
    const redis = (await queue.client) as unknown as RedisConnection;
    const pipeline = redis.pipeline();
    for (const c of group) pipeline.exists(queue.toKey(sendJobId(c.notificationId, channel)));
    const answers = (await pipeline.exec()) ?? [];
    group.forEach((c, i) => {
      const [err, exists] = answers[i] ?? [new Error('no answer'), null];
      if (err)
        throw new Error(
          `checking job ${sendJobId(c.notificationId, channel)} in Redis failed: ${err.message}`,
        );
      if (exists === 0) missing.push(c);
    });
  }
  const unchanged = await stillQueued(em, missing);
  return missing
    .filter((c) => unchanged.has(`${c.notificationId}.${c.channel}`))
    .map((c) => ({
      notificationId: c.notificationId,
      eventId: c.eventId,
      workflowId: c.workflowId,
      channel: c.channel,
      jobId: sendJobId(c.notificationId, c.channel),
      since: c.updatedAt,
    }));
}

/** `<notificationId>.<channel>` of the given channels whose row has the same version and the channel is still queued. */
async function stillQueued(em: EntityManager, channels: OpenChannelRow[]): Promise<Set<string>> {
  if (channels.length === 0) return new Set();
  const rows: { id: string; version: number; channel_states: Record<string, { state?: string }> | string }[] =
    await em
      .getConnection()
      .execute(
        `select id, version, channel_states from notifications where id in (select (jsonb_array_elements_text(?::jsonb))::uuid)`,
        [JSON.stringify([...new Set(channels.map((c) => c.notificationId))])],
      );
  const byId = new Map(
    rows.map((r) => [
      r.id,
      {
        version: r.version,
        states: typeof r.channel_states === 'string' ? JSON.parse(r.channel_states) : r.channel_states,
      },
    ]),
  );
  const out = new Set<string>();
  for (const c of channels) {
    const row = byId.get(c.notificationId);
    if (row && row.version === c.version && row.states?.[c.channel]?.state === 'queued')
      out.add(`${c.notificationId}.${c.channel}`);
  }
  return out;
}

async function countExpired(em: EntityManager): Promise<number> {
  const [row] = await em
    .getConnection()
    .execute<{ n: number }[]>(
      `select count(*)::int as n from (select 1 from notifications where state = 'expired' limit ?) s`,
      [EXPIRED_COUNT_CAP],
    );
  return row?.n ?? 0;
}

// ---- workflows ----------------------------------------------------------------------------------

interface ListedRun {
  workflowId: string;
  runId: string;
  workflowType: string;
  startedAt: string;
}

/** Orders runs oldest first; the cursor is the last checked run's `<startedAt>|<workflowId>`. */
const cursorOf = (r: ListedRun) => `${r.startedAt}|${r.workflowId}`;

/**
 * Running workflows of our task queues started before now - minAge, oldest first from the cursor
 * (wrapping round), at most maxHistories histories read; runs found stuck before are read first.
 */
async function findWorkflowsWithoutDeadline(
  deps: StuckWorkDeps,
  now: Date,
  o: typeof DEFAULTS & Pick<StuckWorkOptions, 'workflowCursor' | 'recheckWorkflows'>,
): Promise<{
  stuck: WorkflowWithoutTimer[];
  listed: number;
  checked: number;
  truncated: boolean;
  nextCursor: string | null;
}> {
  const startedBefore = new Date(now.getTime() - o.workflowMinAgeMs);
  const listed = await listRunning(deps.client, deps.taskQueues, startedBefore, o.maxListedWorkflows);
  const recheck = (o.recheckWorkflows ?? []).slice(0, o.maxHistories);
  const seen = new Set(recheck.map((r) => r.runId));
  const candidates = listed.filter((r) => !seen.has(r.runId));
  const { window, nextCursor } = rotatingWindow(
    candidates,
    o.workflowCursor ?? null,
    o.maxHistories - recheck.length,
  );
  const toCheck = [...recheck, ...window];
  const stuck: WorkflowWithoutTimer[] = [];
  await forEachLimited(toCheck, 10, async (run) => {
    const history = await historyOf(deps.client, run.workflowId, run.runId);
    if (history && waitsWithoutDeadline(openWorkOf(history))) stuck.push(run);
  });
  stuck.sort((a, b) => cursorOf(a).localeCompare(cursorOf(b)));
  return {
    stuck,
    listed: listed.length,
    checked: toCheck.length,
    truncated: window.length < candidates.length || listed.length >= o.maxListedWorkflows,
    nextCursor,
  };
}

/**
 * Up to `budget` runs after the cursor, oldest first, wrapping round to the oldest; the next cursor is
 * the last run taken, or null when that was the newest (the next scan starts over).
 */
export function rotatingWindow<R extends ListedRun>(
  runs: R[],
  cursor: string | null,
  budget: number,
): { window: R[]; nextCursor: string | null } {
  const sorted = [...runs].sort((a, b) => cursorOf(a).localeCompare(cursorOf(b)));
  const count = Math.min(Math.max(0, budget), sorted.length);
  if (count === 0) return { window: [], nextCursor: cursor };
  const start =
    cursor === null
      ? 0
      : Math.max(
          0,
          sorted.findIndex((r) => cursorOf(r) > cursor),
        );
  const window = Array.from({ length: count }, (_, i) => sorted[(start + i) % sorted.length]);
  const last = (start + count - 1) % sorted.length;
  return { window, nextCursor: last === sorted.length - 1 ? null : cursorOf(sorted[last]) };
}

async function listRunning(
  client: Client,
  taskQueues: string[],
  startedBefore: Date,
  max: number,
): Promise<ListedRun[]> {
  const queues = taskQueues.map((q) => JSON.stringify(q)).join(', ');
  const query = `ExecutionStatus = "Running" AND TaskQueue IN (${queues}) AND StartTime < "${startedBefore.toISOString()}"`;
  const runs: ListedRun[] = [];
  for await (const info of client.workflow.list({
    query,
    pageSize: 1000,
  }) as AsyncIterable<WorkflowExecutionInfo>) {
    runs.push({
      workflowId: info.workflowId,
      runId: info.runId,
      workflowType: info.type,
      startedAt: info.startTime.toISOString(),
    });
    if (runs.length >= max) break;
  }
  return runs;
}

/** The promise's value, or a rejection with `message` once `ms` passed (the promise itself runs on). */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
  });
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function groupBy<T, K>(items: T[], key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

/**
 * Content stored once (docs/data-lifecycle.md, "Content stored once"): bytes per notification and insert time
 * of a campaign email page, content copied into every row (before) against stored once by hash (now), in the
 * same run on the same database:
 *
 *   npm run bench:content                   (BENCH_RECIPIENTS=1000, BENCH_ROUNDS=3, BENCH_VARIABLES_KB=0)
 *   BENCH_VARIABLES_KB=32 npm run bench:content      campaign variables of 32 KB (stored per row before)
 *
 * Each round renders BENCH_RECIPIENTS recipients' `marketing_announcement` email in the shop's MJML layout (as
 * campaign fan-out does: renderNotification) and stores them in pages of 500, once with the statement rows were
 * stored with before (content and data inline, kept here verbatim for the comparison) and once with insertRows
 * (what the service runs now). Sizes are pg_total_relation_size of notifications plus notification_contents
 * (heap, TOAST and indexes) before and after each insert. Then BENCH_EVENTS (300) single-recipient events, each
 * with data of its own, inserted one by one both ways: the case where nothing is shared. A database `notifications_bench_content_<pid>` next
 * to DATABASE_URL's is created, migrated and dropped.
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Orm } from '../src/db/orm';
import { loadAverages, runBench, withBenchDatabase } from './bench-database';
import { DEFAULT_SHOP, loadEmailLayout } from '../src/templates/email-layout';
import { insertRows, type NotificationRowInput } from '../src/state/notification-store';
import { LEAN_LIFECYCLE } from '../src/release-0/notification-owner';
import {
  fetchTemplates,
  renderNotification,
  templatesByLocale,
  type EmailRendering,
  type RecipientRow,
} from '../activities/render-notification';
import type { EventSpec } from '../activities/event-spec';

const RECIPIENTS = Number(process.env.BENCH_RECIPIENTS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const VARIABLES_KB = Number(process.env.BENCH_VARIABLES_KB ?? 0);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 300);
const PAGE = 500;
const DATABASE_PREFIX = 'notifications_bench_content_';

/** The statement admission stored rows with before content was stored once (untracked: campaigns). */
const COLUMNS =
  'event_id text, event_type text, recipient_id text, template_code text, template_versions jsonb, category text, priority text, state text, channels jsonb, workflow_id text, title text, body text, action_url text, action_text text, data jsonb, content jsonb, channel_states jsonb, fallbacks jsonb, send_at timestamptz';
const NAMES = COLUMNS.split(', ')
  .map((c) => c.split(' ')[0])
  .join(', ');
const INLINE_INSERT = `with ins as (
    insert into notifications (${NAMES}, lifecycle)
    select ${NAMES}, ${LEAN_LIFECYCLE} from jsonb_to_recordset(?::jsonb) as x(${COLUMNS})
    on conflict (event_id, recipient_id) do nothing
    returning id, recipient_id, state, channel_states, send_at, error)
  select * from ins
  union all
  select n.id, n.recipient_id, n.state, n.channel_states, n.send_at, n.error
    from notifications n where n.event_id = ? and n.recipient_id in (select jsonb_array_elements_text(?::jsonb))`;

// Random text: campaign variables (product lists, copy) compress far less than a repeated letter would.
const FILLER = VARIABLES_KB > 0 ? { details: randomBytes(VARIABLES_KB * 768).toString('base64') } : {};

function specOf(eventId: string): EventSpec {
  const filler = FILLER;
  return {
    eventId,
    eventType: 'CAMPAIGN',
    workflowId: `campaign-${eventId}`,
    templateCode: 'marketing_announcement',
    category: 'marketing',
    channels: ['email'],
    fallbacks: {},
    data: { headline: 'Winter sale', message: 'Everything 20% off until Sunday.', ...filler },
    options: { priority: 'low', delayMs: 0, sendAt: null, channels: ['email'] },
    deliveryDeadlineMs: 600_000,
    tracked: false,
  };
}

const recipientRow = (i: number): RecipientRow => ({
  id: `u_bench_${i}`,
  email: `u_bench_${i}@example.test`,
  phone: null,
  locale: 'en',
  muted: false,
  quiet_hours: null,
  webhook_url: null,
  disabled_channels: [],
  has_push: false,
  consented: true,
});

/** Every recipient's row as campaign fan-out builds it (rendered content, sending). */
async function renderRows(
  em: EntityManager,
  spec: EventSpec,
  count = RECIPIENTS,
  first = 0,
): Promise<NotificationRowInput[]> {
  const templates = templatesByLocale(await fetchTemplates(em, spec.templateCode), 'en')('en');
  const email: EmailRendering = {
    layout: await loadEmailLayout(),
    shop: { ...DEFAULT_SHOP, name: 'Bench shop' },
  };
  const now = new Date();
  const times = { queuedAt: now.toISOString(), deadlineAt: new Date(now.getTime() + 600_000).toISOString() };
  return Array.from({ length: count }, (_, n) => {
    const i = first + n;
    const r = renderNotification(spec, recipientRow(i), templates, undefined, times, email);
    return {
      event_id: spec.eventId,
      event_type: spec.eventType,
      recipient_id: recipientRow(i).id,
      template_code: spec.templateCode,
      template_versions: r.versions,
      category: spec.category,
      priority: spec.options.priority,
      state: 'sending',
      channels: r.decisions.filter((d) => d.send).map((d) => d.channel),
      workflow_id: spec.workflowId,
      title: null,
      body: null,
      action_url: null,
      action_text: null,
      data: spec.data,
      content: r.content,
      channel_states: r.channelStates,
      fallbacks: r.fallbacks,
      send_at: null,
    };
  });
}

async function storedBytes(em: EntityManager): Promise<number> {
  const [row] = await em
    .getConnection()
    .execute(
      `select pg_total_relation_size('notifications') + pg_total_relation_size('notification_contents') as bytes`,
    );
  return Number(row.bytes);
}

interface Measure {
  bytes: number;
  ms: number;
}

async function measure(
  em: EntityManager,
  store: (page: NotificationRowInput[]) => Promise<unknown>,
  rows: NotificationRowInput[],
): Promise<Measure> {
  const before = await storedBytes(em);
  const started = process.hrtime.bigint();
  for (let i = 0; i < rows.length; i += PAGE) await store(rows.slice(i, i + PAGE));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  return { bytes: (await storedBytes(em)) - before, ms };
}

async function round(orm: Orm, n: number): Promise<{ renderMs: number; inline: Measure; once: Measure }> {
  const em = orm.em.fork();
  const conn = em.getConnection();
  const started = process.hrtime.bigint();
  const inlineRows = await renderRows(em, specOf(`campaign_bench_inline_${n}`));
  const renderMs = Number(process.hrtime.bigint() - started) / 1e6;
  const onceRows = await renderRows(em, specOf(`campaign_bench_once_${n}`));
  const inline = await measure(
    em,
    (page) =>
      conn.execute(INLINE_INSERT, [
        JSON.stringify(page),
        page[0].event_id,
        JSON.stringify(page.map((r) => r.recipient_id)),
      ]),
    inlineRows,
  );
  const owner = { eventId: onceRows[0].event_id, workflowId: onceRows[0].workflow_id, tracked: false };
  const once = await measure(em, (page) => insertRows(em, owner, page), onceRows);
  return { renderMs, inline, once };
}

/**
 * The other end: BENCH_EVENTS single-recipient events, each with its own data (nothing to share), one row per
 * insert: what storing once costs where it saves nothing.
 */
async function singleEvents(orm: Orm): Promise<{ inline: Measure; once: Measure }> {
  const em = orm.em.fork();
  const conn = em.getConnection();
  const rowsOf = async (tag: string) => {
    const rows: NotificationRowInput[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const spec = specOf(`evt_bench_${tag}_${i}`);
      spec.data = { ...spec.data, headline: `Order A-${i} update` };
      const [row] = await renderRows(em, spec, 1, i % RECIPIENTS);
      rows.push(row);
    }
    return rows;
  };
  const inlineRows = await rowsOf('inline');
  const onceRows = await rowsOf('once');
  const each =
    (store: (row: NotificationRowInput) => Promise<unknown>) => async (page: NotificationRowInput[]) => {
      for (const row of page) await store(row);
    };
  const inline = await measure(
    em,
    each((row) =>
      conn.execute(INLINE_INSERT, [JSON.stringify([row]), row.event_id, JSON.stringify([row.recipient_id])]),
    ),
    inlineRows,
  );
  const once = await measure(
    em,
    each((row) =>
      insertRows(em, { eventId: row.event_id, workflowId: row.workflow_id, tracked: false }, [row]),
    ),
    onceRows,
  );
  return { inline, once };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  await withBenchDatabase(DATABASE_PREFIX, async (orm) => {
    await orm.em
      .fork()
      .getConnection()
      .execute(
        `insert into recipients (id, email) select 'u_bench_' || g, 'u_bench_' || g || '@example.test' from generate_series(0, ?) g`,
        [RECIPIENTS - 1],
      );
    console.log(
      `content storage: ${RECIPIENTS} recipients, campaign email (marketing_announcement in the MJML layout), variables ${VARIABLES_KB} KB extra, pages of ${PAGE}, ${ROUNDS} rounds`,
    );
    console.log(
      `machine: ${cpus().length} vCPU (${cpus()[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' / ')}`,
    );
    console.log('round   render ms   inline: bytes/row  insert ms   stored once: bytes/row  insert ms');
    const results = [];
    for (let n = 1; n <= ROUNDS; n++) {
      const r = await round(orm, n);
      results.push(r);
      console.log(
        `${String(n).padStart(5)} ${r.renderMs.toFixed(0).padStart(11)} ${(r.inline.bytes / RECIPIENTS).toFixed(0).padStart(19)} ${r.inline.ms.toFixed(0).padStart(10)} ${(r.once.bytes / RECIPIENTS).toFixed(0).padStart(24)} ${r.once.ms.toFixed(0).padStart(10)}`,
      );
    }
    const inlineBytes = median(results.map((r) => r.inline.bytes)) / RECIPIENTS;
    const onceBytes = median(results.map((r) => r.once.bytes)) / RECIPIENTS;
    console.log(
      `median: render ${median(results.map((r) => r.renderMs)).toFixed(0)} ms; inline ${inlineBytes.toFixed(0)} B/row, insert ${median(results.map((r) => r.inline.ms)).toFixed(0)} ms; stored once ${onceBytes.toFixed(0)} B/row, insert ${median(results.map((r) => r.once.ms)).toFixed(0)} ms; bytes x${(inlineBytes / onceBytes).toFixed(1)} fewer`,
    );
    const single = await singleEvents(orm);
    console.log(
      `${EVENTS} single-recipient events, each its own data (nothing shared), one insert each: inline ${(single.inline.bytes / EVENTS).toFixed(0)} B/row, ${(single.inline.ms / EVENTS).toFixed(2)} ms/insert; stored once ${(single.once.bytes / EVENTS).toFixed(0)} B/row, ${(single.once.ms / EVENTS).toFixed(2)} ms/insert`,
    );
    console.log(`load at the end: ${loadAverages()}`);
  });
}

runBench(main);

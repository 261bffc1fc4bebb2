/**
 * What tracking and the suppression list cost (docs/tracking-and-receipts.md), each against its baseline
 * in the same run:
 *
 *   npm run bench:tracking             (BENCH_EMAILS=20000, BENCH_RECIPIENTS=500, BENCH_SUPPRESSED=100000)
 *
 * 1. Send time, CPU only: an order email in the shop's MJML layout (button, preferences and unsubscribe
 *    links, text part) prepared for sending as the email providers do (outgoingEmailBody), with tracking
 *    off (baseline: the unsubscribe link only) and on (links signed, the pixel), rounds interleaved.
 * 2. Admission: the dispatcher's recipient statement for one page of BENCH_RECIPIENTS recipients with the
 *    suppression lookup (what runs now) and without it (the statement before, kept here verbatim), against
 *    an email_suppressions table of BENCH_SUPPRESSED rows, a tenth of the page suppressed. A database
 *    `notifications_bench_tracking_<pid>` next to DATABASE_URL's is created, migrated and dropped.
 */
import { randomUUID } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import type { EntityManager } from '@mikro-orm/postgresql';
import { runBench, withBenchDatabase } from './bench-database';
import { EMAIL_HASH_SQL, emailAddressHash } from '../src/db/repositories/email-suppressions';
import { outgoingEmailBody } from '../src/delivery/providers/email-body';
import type { OutgoingMessage } from '../src/delivery/providers/provider';
import { layoutEmail, loadEmailLayout } from '../src/templates/email-layout';

const EMAILS = Number(process.env.BENCH_EMAILS ?? 20_000);
const RECIPIENTS = Number(process.env.BENCH_RECIPIENTS ?? 500);
const SUPPRESSED = Number(process.env.BENCH_SUPPRESSED ?? 100_000);
const ROUNDS = 5;
const DATABASE_PREFIX = 'notifications_bench_tracking_';

const unsubscribe = {
  secret: 'bench-unsubscribe-secret-0123456789abcdef',
  publicUrl: 'https://notify.shop.example',
  ttlMs: 400 * 86_400_000,
};
const tracking = {
  secret: 'bench-tracking-secret-0123456789abcdef',
  publicUrl: unsubscribe.publicUrl,
  opens: true,
};

async function orderEmail(): Promise<OutgoingMessage<'email'>> {
  const shop = { name: 'Bench shop', address: '1 Main St', url: 'https://shop.example' };
  const email = layoutEmail(
    await loadEmailLayout(),
    {
      subject: 'Order A-1001 confirmed',
      html: '<p>Thanks for your order <a href="https://shop.example/orders/A-1001">A-1001</a>.</p><p>Total 1,499.00</p>',
      text: 'Thanks for your order A-1001 (https://shop.example/orders/A-1001). Total 1,499.00',
      actionUrl: '/orders/A-1001',
      actionText: 'View your order',
      unsubscribeLink: true,
    },
    shop,
    'en',
  );
  return {
    notificationId: randomUUID(),
    channel: 'email',
    recipient: { id: 'u_bench', email: 'u_bench@example.test' },
    content: { ...email, unsubscribeCategory: 'marketing' },
    idempotencyKey: 'bench',
  };
}

/** Microseconds per email of outgoingEmailBody, best of the rounds. */
function sendTimeCost(message: OutgoingMessage<'email'>): { off: number; on: number } {
  const best = { off: Infinity, on: Infinity };
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of ['off', 'on'] as const) {
      const settings = mode === 'on' ? { unsubscribe, tracking } : { unsubscribe, tracking: null };
      const started = process.hrtime.bigint();
      for (let i = 0; i < EMAILS; i++) outgoingEmailBody(message, settings);
      const us = Number(process.hrtime.bigint() - started) / 1000 / EMAILS;
      best[mode] = Math.min(best[mode], us);
    }
  }
  return best;
}

const RECIPIENT_STATEMENT = (withSuppression: boolean) => `select r.*,
      coalesce((select array_agg(p.channel) from preferences p where p.recipient_id = r.id and p.category = ? and not p.enabled), '{}') as disabled_channels,
      exists (select 1 from push_subscriptions s where s.recipient_id = r.id) as has_push,
      (not ?::boolean or exists (select 1 from consents c where c.recipient_id = r.id and c.category = ? and c.granted)) as consented${
        withSuppression
          ? `,
      (select s.reason from email_suppressions s
        where r.email is not null and s.address_hash = ${EMAIL_HASH_SQL('r.email')} and s.lifted_at is null) as email_suppression`
          : ''
      }
 from recipients r where r.id in (select jsonb_array_elements_text(?::jsonb))`;

async function seed(em: EntityManager): Promise<string[]> {
  const conn = em.getConnection();
  const ids = Array.from({ length: RECIPIENTS }, (_, i) => `u_bench_${i}`);
  await conn.execute(
    `insert into recipients (id, email, timezone, locale, roles, muted, created_at, updated_at)
     select id, id || '@example.test', 'UTC', 'en', '{}', false, now(), now() from jsonb_array_elements_text(?::jsonb) as id`,
    [JSON.stringify(ids)],
  );
  await conn.execute(
    `insert into email_suppressions (address_hash, address_hint, reason, source)
     select encode(sha256(convert_to('other' || g || '@example.test', 'UTF8')), 'hex'), 'o***@example.test', 'bounced', 'bench'
       from generate_series(1, ?) g`,
    [SUPPRESSED],
  );
  const suppressed = ids.filter((_, i) => i % 10 === 0);
  for (const id of suppressed)
    await conn.execute(
      `insert into email_suppressions (address_hash, address_hint, reason, source) values (?, 'u***@example.test', 'bounced', 'bench')`,
      [emailAddressHash(`${id}@example.test`)],
    );
  await conn.execute('analyze');
  return ids;
}

/** Milliseconds per page of the recipient statement, median of 30 runs each, interleaved. */
async function admissionCost(em: EntityManager, ids: string[]): Promise<{ before: number; now: number }> {
  const conn = em.getConnection();
  const params = ['marketing', true, 'marketing', JSON.stringify(ids)];
  const times: { before: number[]; now: number[] } = { before: [], now: [] };
  const [check] = await conn.execute(
    `select count(*) filter (where email_suppression is not null)::int as n from (${RECIPIENT_STATEMENT(true)}) q`,
    params,
  );
  if (Number(check.n) !== Math.ceil(RECIPIENTS / 10))
    throw new Error(`expected suppressed recipients, got ${check.n}`);
  for (let run = 0; run < 32; run++) {
    for (const mode of ['before', 'now'] as const) {
      const started = process.hrtime.bigint();
      await conn.execute(RECIPIENT_STATEMENT(mode === 'now'), params);
      if (run >= 2) times[mode].push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { before: median(times.before), now: median(times.now) };
}

async function main(): Promise<void> {
  console.log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const message = await orderEmail();
  const send = sendTimeCost(message);
  console.log(
    `send time per order email (${EMAILS} x ${ROUNDS} rounds, best): tracking off ${send.off.toFixed(1)} µs, on ${send.on.toFixed(1)} µs (+${(send.on - send.off).toFixed(1)} µs)`,
  );

  await withBenchDatabase(DATABASE_PREFIX, async (orm) => {
    const ids = await seed(orm.em.fork());
    const admission = await admissionCost(orm.em.fork(), ids);
    console.log(
      `admission recipient statement, ${RECIPIENTS} recipients, ${SUPPRESSED} suppressed addresses (median): without the lookup ${admission.before.toFixed(2)} ms, with ${admission.now.toFixed(2)} ms (+${(admission.now - admission.before).toFixed(2)} ms per page)`,
    );
  });
}

runBench(main);

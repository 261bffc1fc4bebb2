import type { Notification } from '../../src/db/entities';
import { Notification as NotificationEntity } from '../../src/db/entities';
import { recordEngagement } from '../../src/state/engagement';
import { rollUpEngagement } from '../../src/operations/analytics-rollup';
import type { AnalyticsView, ExperimentDetailView, ExperimentView } from '../../src/api/contract-types';
import { ApiTestApp, apiTestEnv } from '../helpers/api-app';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/**
 * Issue 17, items 1 and 4 (docs/experiments.md, docs/analytics.md): an experiment with two subject
 * lines (two email template versions) runs through real sends (Temporal, Postgres, Redis, SMTP);
 * recipients keep their variant across a resend and a new event; opens, clicks and conversions count
 * once each in the rollups; the results compare both variants with significance; promote appends
 * the winner as the template's newest version.
 */
describe('experiments on templates', () => {
  const stack = new TestStack({ env: apiTestEnv() });
  const api = new ApiTestApp(stack);
  const code = `exp_${stack.id}`;
  const users: string[] = [];
  let experiment: ExperimentView;

  beforeAll(async () => {
    await stack.start();
    await api.start();
    for (const subject of ['Subject A {{orderNumber}}', 'Subject B {{orderNumber}}']) {
      const saved = await api.admin({
        method: 'POST',
        url: `/api/templates/${code}/versions`,
        payload: {
          channel: 'email',
          category: 'order_updates',
          fields: { subject, html: '<p>Order {{orderNumber}}</p>' },
        },
      });
      expect(saved.statusCode).toBe(201);
    }
    const inApp = await api.admin({
      method: 'POST',
      url: `/api/templates/${code}/versions`,
      payload: { channel: 'in_app', fields: { title: 'Order {{orderNumber}}', body: 'Thanks' } },
    });
    expect(inApp.statusCode).toBe(201);
    for (let i = 0; i < 24; i++) users.push((await stack.createRecipient({ id: stack.uid('shopper') })).id);
  });
  afterAll(async () => {
    await api.close();
    await stack.stop();
  });

  const send = (id: string) =>
    api.service({
      method: 'POST',
      url: '/api/events',
      payload: {
        id,
        templateCode: code,
        occurredAt: new Date().toISOString(),
        userIds: users,
        data: { orderNumber: id },
        options: { channels: ['email', 'in_app'] },
      },
    });

  async function deliveredRows(eventId: string): Promise<Notification[]> {
    return waitFor(async () => {
      const rows = await stack.orm.em.fork().find(NotificationEntity, { eventId });
      return rows.length === users.length && rows.every((r) => r.state === 'delivered') ? rows : undefined;
    }, 60_000);
  }

  /** experiment_id and variant are not entity properties: read them as stored. */
  async function variants(
    eventId: string,
  ): Promise<Record<string, { experiment: string | null; variant: string | null }>> {
    const rows = await stack.orm.em
      .fork()
      .getConnection()
      .execute<{ recipient_id: string; experiment_id: string | null; variant: string | null }[]>(
        `select recipient_id, experiment_id, variant from notifications where event_id = ?`,
        [eventId],
      );
    return Object.fromEntries(
      rows.map((r) => [r.recipient_id, { experiment: r.experiment_id, variant: r.variant }]),
    );
  }

  function subjectTo(userId: string, eventId: string): string | undefined {
    const mail = stack.smtp.messages.find(
      (m) => m.to.includes(`${userId}@example.test`) && m.raw.includes(eventId),
    );
    return mail?.raw.match(/^Subject: (.*)$/m)?.[1].trim();
  }

  it('refuses a bad experiment naming the field', async () => {
    const bad = await api.admin({
      method: 'POST',
      url: '/api/admin/experiments',
      payload: {
        name: 'Subject lines',
        templateCode: code,
        channel: 'email',
        metric: 'opened',
        variants: [
          { key: 'A', templateVersion: 1 },
          { key: 'B', templateVersion: 9 },
        ],
      },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().fields).toEqual(['variants.1.templateVersion']);
    const noMetric = await api.admin({
      method: 'POST',
      url: '/api/admin/experiments',
      payload: {
        name: 'x',
        templateCode: code,
        variants: [
          { key: 'A', templateVersion: 1 },
          { key: 'B', templateVersion: 2 },
        ],
      },
    });
    expect(noMetric.statusCode).toBe(400);
    expect(noMetric.json().fields).toEqual(['metric']);
  });

  it('creates and starts an experiment with two subject lines', async () => {
    const created = await api.admin({
      method: 'POST',
      url: '/api/admin/experiments',
      payload: {
        name: 'Subject lines',
        templateCode: code,
        channel: 'email',
        metric: 'opened',
        variants: [
          { key: 'A', templateVersion: 1 },
          { key: 'B', templateVersion: 2 },
        ],
      },
    });
    expect(created.statusCode).toBe(201);
    experiment = created.json();
    expect(experiment.state).toBe('draft');
    const started = await api.admin({ method: 'POST', url: `/api/admin/experiments/${experiment.id}/start` });
    expect(started.statusCode).toBe(200);
    expect(started.json().state).toBe('running');
    const again = await api.admin({ method: 'POST', url: `/api/admin/experiments/${experiment.id}/start` });
    expect(again.statusCode).toBe(409);
  });

  const first = () => `evt_${stack.id}_first`;
  const second = () => `evt_${stack.id}_second`;

  it('renders each recipient its variant and keeps it across a resend and a new event', async () => {
    expect((await send(first())).statusCode).toBe(202);
    await deliveredRows(first());
    const assigned = await variants(first());
    const keys = users.map((u) => assigned[u].variant);
    expect(new Set(keys)).toEqual(new Set(['A', 'B']));
    for (const user of users) {
      expect(assigned[user].experiment).toBe(experiment.id);
      expect(await waitFor(() => subjectTo(user, first()))).toBe(
        `Subject ${assigned[user].variant} ${first()}`,
      );
    }
    // The same event id again starts nothing and changes no row.
    const resend = await send(first());
    expect(resend.json().started).toBe(false);
    expect(await variants(first())).toEqual(assigned);
    // A new event to the same recipients: the same variant each, and its subject.
    expect((await send(second())).statusCode).toBe(202);
    await deliveredRows(second());
    expect(await variants(second())).toEqual(assigned);
    for (const user of users)
      expect(await waitFor(() => subjectTo(user, second()))).toBe(
        `Subject ${assigned[user].variant} ${second()}`,
      );
  });

  it('counts sends, opens, clicks and conversions once each in the rollups and compares the variants', async () => {
    const em = stack.orm.em.fork();
    const rows = await deliveredRows(first());
    const assigned = await variants(first());
    const ofVariant = (v: string) => rows.filter((r) => assigned[r.recipientId].variant === v);
    for (const row of rows)
      await recordEngagement(em, { notificationId: row.id, channel: 'email', kind: 'sent' });
    // Every B email opened twice (one first open each), none of A; one click and one conversion reported twice.
    for (const row of ofVariant('B')) {
      await recordEngagement(em, { notificationId: row.id, channel: 'email', kind: 'opened' });
      await recordEngagement(em, { notificationId: row.id, channel: 'email', kind: 'opened' });
    }
    const clickedRow = ofVariant('B')[0];
    await recordEngagement(em, { notificationId: clickedRow.id, channel: 'email', kind: 'clicked' });
    await recordEngagement(em, { notificationId: clickedRow.id, channel: 'email', kind: 'clicked' });
    const conversion = { eventId: first(), userId: clickedRow.recipientId, value: 49.5 };
    const converted = await api.service({ method: 'POST', url: '/api/conversions', payload: conversion });
    expect(converted.statusCode).toBe(200);
    expect(converted.json()).toMatchObject({
      notificationId: clickedRow.id,
      channel: 'email',
      first: true,
      count: 1,
    });
    const twice = await api.service({ method: 'POST', url: '/api/conversions', payload: conversion });
    expect(twice.json()).toMatchObject({ first: false, count: 2 });

    // Rolled up on demand and by a second round: nothing counts twice.
    await api.admin({ method: 'POST', url: '/api/admin/analytics/rollup' });
    await rollUpEngagement(stack.orm);
    const analytics = await api.admin({
      method: 'GET',
      url: `/api/admin/analytics?groupBy=variant&experimentId=${experiment.id}&channel=email&bucket=hour`,
    });
    expect(analytics.statusCode).toBe(200);
    const byKey = Object.fromEntries(analytics.json<AnalyticsView>().groups.map((g) => [g.key, g.totals]));
    const nA = ofVariant('A').length;
    const nB = ofVariant('B').length;
    expect(byKey[`${experiment.id}:A`]).toMatchObject({ sent: nA, opened: 0, clicked: 0, converted: 0 });
    expect(byKey[`${experiment.id}:B`]).toMatchObject({ sent: nB, opened: nB, clicked: 1, converted: 1 });

    const detail = (
      await api.admin({ method: 'GET', url: `/api/admin/experiments/${experiment.id}` })
    ).json<ExperimentDetailView>();
    const [a, b] = detail.results.variants;
    expect(a).toMatchObject({ key: 'A', control: true, sent: nA, conversions: 0, rate: 0 });
    expect(b).toMatchObject({
      key: 'B',
      control: false,
      sent: nB,
      conversions: nB,
      rate: 1,
      significant: true,
    });
    expect(b.pValue).toBeLessThan(0.001);
    expect(detail.results.leader).toBe('B');
  });

  it('promotes the winner: its fields become the newest email version and the experiment ends', async () => {
    const promoted = await api.admin({
      method: 'POST',
      url: `/api/admin/experiments/${experiment.id}/promote`,
      payload: { winner: 'B' },
    });
    expect(promoted.statusCode).toBe(200);
    expect(promoted.json()).toMatchObject({
      state: 'promoted',
      winner: 'B',
      promotedVersions: [{ channel: 'email', locale: 'en', version: 3 }],
    });
    const third = `evt_${stack.id}_third`;
    expect((await send(third)).statusCode).toBe(202);
    await deliveredRows(third);
    const after = await variants(third);
    for (const user of users) {
      expect(after[user]).toEqual({ experiment: null, variant: null });
      expect(await waitFor(() => subjectTo(user, third))).toBe(`Subject B ${third}`);
    }
  });
});

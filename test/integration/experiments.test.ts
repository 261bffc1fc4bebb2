import type { Notification } from '../../src/db/entities';
import { Notification as NotificationEntity } from '../../src/db/entities';
import { rollUpEngagement } from '../../src/operations/analytics-rollup';
import type { AnalyticsView, ExperimentDetailView, ExperimentView } from '../../src/api/contract-types';
import { ApiTestApp, apiTestEnv } from '../helpers/api-app';
import { TestStack } from '../helpers/test-stack';
import { grantMarketingConsent } from '../helpers/consent';
import { mimePart } from '../helpers/mime-part';
import { waitFor } from '../helpers/wait-for';

/**
 * Issue 17, items 1 and 4 (docs/experiments.md, docs/analytics.md): an experiment with two subject
 * lines (two email template versions) runs through real sends (Temporal, Postgres, Redis, SMTP);
 * recipients keep their variant across a resend and a new event; sends (recorded by the workers),
 * opens and clicks (the real pixel and redirect) and conversions count once each in the rollups; the results compare both variants with significance; promote appends
 * the winner as the template's newest version.
 */
describe('experiments on templates', () => {
  // Opens and clicks go through the real pixel and redirect (docs/tracking-and-receipts.md).
  const PUBLIC_URL = 'https://notify.shop.test';
  const stack = new TestStack({
    env: apiTestEnv({ TRACKING_SECRET: 'test-tracking-secret-experiments-0123456789', PUBLIC_URL }),
  });
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
          fields: {
            subject,
            html: '<p><a href="https://shop.test/orders/{{orderNumber}}">Order {{orderNumber}}</a></p>',
          },
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

  /** The email's tracked link and open pixel, as paths on the API (the test API is not on PUBLIC_URL). */
  function trackedPaths(userId: string, eventId: string): { click: string; pixel: string } {
    const mail = stack.smtp.messages.find(
      (m) => m.to.includes(`${userId}@example.test`) && m.raw.includes(eventId),
    )!;
    const html = mimePart(mail.raw, 'text/html');
    const click = new RegExp(`href="${PUBLIC_URL}(/r/[^"]+)"`).exec(html)![1];
    const pixel = new RegExp(`<img src="${PUBLIC_URL}(/o/[^"]+)"`).exec(html)![1];
    return { click, pixel };
  }

  /** The experiment's email counts per variant after a rollup, once they include `sent` of every email of both events. */
  async function variantCounts(
    expectedSent: number,
  ): Promise<Record<string, AnalyticsView['groups'][number]['totals']>> {
    return waitFor(async () => {
      await api.admin({ method: 'POST', url: '/api/admin/analytics/rollup' });
      const analytics = await api.admin({
        method: 'GET',
        url: `/api/admin/analytics?groupBy=variant&experimentId=${experiment.id}&channel=email&bucket=hour`,
      });
      expect(analytics.statusCode).toBe(200);
      const groups = analytics.json<AnalyticsView>().groups;
      const sent = groups.reduce((sum, g) => sum + g.totals.sent, 0);
      return sent === expectedSent ? Object.fromEntries(groups.map((g) => [g.key, g.totals])) : undefined;
    }, 30_000);
  }

  it('counts sends, opens, clicks and conversions once each in the rollups and compares the variants', async () => {
    const rows = await deliveredRows(first());
    const assigned = await variants(first());
    const ofVariant = (v: string) => rows.filter((r) => assigned[r.recipientId].variant === v);
    // Every B email of the first event opened twice (one first open each), none of A; one link clicked twice.
    for (const row of ofVariant('B')) {
      const { pixel } = trackedPaths(row.recipientId, first());
      for (let i = 0; i < 2; i++)
        expect((await api.inject({ method: 'GET', url: pixel })).statusCode).toBe(200);
    }
    const clickedRow = ofVariant('B')[0];
    const { click } = trackedPaths(clickedRow.recipientId, first());
    for (let i = 0; i < 2; i++)
      expect((await api.inject({ method: 'GET', url: click })).statusCode).toBe(302);
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

    // Rolled up on demand until the workers' `sent` of both events are in, then by another round: nothing counts twice.
    const nA = ofVariant('A').length;
    const nB = ofVariant('B').length;
    await variantCounts(2 * users.length);
    await rollUpEngagement(stack.orm);
    const byKey = await variantCounts(2 * users.length);
    expect(byKey[`${experiment.id}:A`]).toMatchObject({ sent: 2 * nA, opened: 0, clicked: 0, converted: 0 });
    expect(byKey[`${experiment.id}:B`]).toMatchObject({ sent: 2 * nB, opened: nB, clicked: 1, converted: 1 });

    const detail = (
      await api.admin({ method: 'GET', url: `/api/admin/experiments/${experiment.id}` })
    ).json<ExperimentDetailView>();
    const [a, b] = detail.results.variants;
    expect(a).toMatchObject({ key: 'A', control: true, sent: 2 * nA, conversions: 0, rate: 0 });
    expect(b).toMatchObject({
      key: 'B',
      control: false,
      sent: 2 * nB,
      conversions: nB,
      rate: 0.5,
      significant: true,
    });
    expect(b.pValue).toBeLessThan(0.01);
    expect(b.sampleSizeNeeded).toBeGreaterThan(0);
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

  it('documents its routes in the OpenAPI document', async () => {
    const doc = (await api.inject({ method: 'GET', url: '/docs/json' })).json<{
      paths: Record<string, unknown>;
    }>();
    for (const path of [
      '/api/admin/experiments',
      '/api/admin/experiments/{id}',
      '/api/admin/experiments/{id}/start',
      '/api/admin/experiments/{id}/stop',
      '/api/admin/experiments/{id}/promote',
      '/api/admin/analytics',
      '/api/admin/analytics/rollup',
      '/api/conversions',
    ])
      expect(Object.keys(doc.paths)).toContain(path);
  });

  it("assigns a campaign's notifications when the experiment names the campaign, and nobody else", async () => {
    const marketing = `expm_${stack.id}`;
    for (const title of ['Sale A {{headline}}', 'Sale B {{headline}}']) {
      const saved = await api.admin({
        method: 'POST',
        url: `/api/templates/${marketing}/versions`,
        payload: { channel: 'in_app', category: 'marketing', fields: { title, body: '{{message}}' } },
      });
      expect(saved.statusCode).toBe(201);
    }
    await grantMarketingConsent(stack, users);
    const scheduled = await api.admin({
      method: 'POST',
      url: '/api/campaigns',
      payload: {
        name: `Experiment campaign ${stack.id}`,
        templateCode: marketing,
        segment: { userIds: users },
        variables: { headline: 'Winter', message: 'Everything 20% off.' },
        scheduledAt: new Date(Date.now() + 4000).toISOString(),
      },
    });
    expect(scheduled.statusCode).toBe(201);
    const campaignId = scheduled.json<{ id: string }>().id;
    const created = await api.admin({
      method: 'POST',
      url: '/api/admin/experiments',
      payload: {
        name: 'Campaign titles',
        templateCode: marketing,
        channel: 'in_app',
        campaignId,
        metric: 'clicked',
        variants: [
          { key: 'A', templateVersion: 1 },
          { key: 'B', templateVersion: 2 },
        ],
      },
    });
    expect(created.statusCode).toBe(201);
    const campaignExperiment = created.json<ExperimentView>();
    expect(
      (await api.admin({ method: 'POST', url: `/api/admin/experiments/${campaignExperiment.id}/start` }))
        .statusCode,
    ).toBe(200);
    const eventId = `campaign_${campaignId}`;
    const rows = await waitFor(async () => {
      const found = await stack.orm.em.fork().find(NotificationEntity, { eventId });
      return found.length === users.length && found.every((r) => r.state === 'delivered') ? found : undefined;
    }, 60_000);
    const assigned = await variants(eventId);
    for (const row of rows) {
      expect(assigned[row.recipientId].experiment).toBe(campaignExperiment.id);
      expect(row.title).toBe(`Sale ${assigned[row.recipientId].variant} Winter`);
    }
    // A direct send of the same template is no part of the campaign's experiment.
    const direct = `evt_${stack.id}_direct`;
    const sent = await api.service({
      method: 'POST',
      url: '/api/notifications',
      payload: {
        id: direct,
        userId: users[0],
        templateCode: marketing,
        variables: { headline: 'Solo', message: 'x' },
      },
    });
    expect(sent.statusCode).toBe(202);
    await waitFor(async () => {
      const row = await stack.orm.em.fork().findOne(NotificationEntity, { eventId: direct });
      return row && row.state !== 'sending' ? row : undefined;
    });
    expect((await variants(direct))[users[0]]).toEqual({ experiment: null, variant: null });
  });
});

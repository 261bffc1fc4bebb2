import type { Browser, Page } from 'playwright-core';
import type { ExperimentView } from '../../src/api/contract-types';
import { Notification } from '../../src/db/entities';
import { ADMIN_KEY, ApiTestApp, apiTestEnv } from '../helpers/api-app';
import { accessibilityViolations, launchChromium, screenshotForReadme } from '../helpers/browser';
import { mimePart } from '../helpers/mime-part';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/**
 * The dashboard's Analytics and Experiments pages (docs/browser.md, docs/experiments.md) in Chromium
 * against the real API, workers, Temporal and queues: an experiment with two subject lines after real
 * sends and opens shows its comparison with significance beside the promote buttons; create, start,
 * stop and promote from the page, by keyboard; axe finds nothing.
 */
describe('analytics and experiments pages in a browser', () => {
  const PUBLIC_URL = 'https://notify.shop.test';
  const stack = new TestStack({
    env: apiTestEnv({ TRACKING_SECRET: 'test-tracking-secret-web-experiments-0123456789', PUBLIC_URL }),
  });
  const api = new ApiTestApp(stack);
  const code = `webexp_${stack.id}`;
  const eventId = `evt_${stack.id}_web`;
  let browser: Browser;
  let page: Page;
  let experiment: ExperimentView;
  const UI_TIMEOUT = 15_000;

  async function adminPost(url: string, payload: unknown = {}) {
    const res = await api.admin({ method: 'POST', url, payload: payload as Record<string, unknown> });
    expect(res.statusCode).toBeLessThan(300);
    return res.json<Record<string, unknown>>();
  }

  /** Two subject lines, 16 shoppers, a running experiment, one event sent, every B email opened. */
  async function runExperiment(): Promise<void> {
    for (const subject of ['Your order {{orderNumber}}', 'Good news: order {{orderNumber}} is in']) {
      const html = '<p><a href="https://shop.test/o/{{orderNumber}}">Order {{orderNumber}}</a></p>';
      await adminPost(`/api/templates/${code}/versions`, {
        channel: 'email',
        category: 'order_updates',
        fields: { subject, html },
      });
    }
    const users: string[] = [];
    for (let i = 0; i < 16; i++) users.push((await stack.createRecipient({ id: stack.uid('shopper') })).id);
    experiment = (await adminPost('/api/admin/experiments', {
      name: `Subject lines ${stack.id}`,
      templateCode: code,
      channel: 'email',
      metric: 'opened',
      variants: [
        { key: 'A', templateVersion: 1 },
        { key: 'B', templateVersion: 2 },
      ],
    })) as unknown as ExperimentView;
    await adminPost(`/api/admin/experiments/${experiment.id}/start`);
    const sent = await api.service({
      method: 'POST',
      url: '/api/events',
      payload: {
        id: eventId,
        templateCode: code,
        occurredAt: new Date().toISOString(),
        userIds: users,
        data: { orderNumber: eventId },
      },
    });
    expect(sent.statusCode).toBe(202);
    const rows = await waitFor(async () => {
      const found = await stack.orm.em.fork().find(Notification, { eventId });
      return found.length === users.length && found.every((r) => r.state === 'delivered') ? found : undefined;
    }, 60_000);
    const variants = await stack.orm.em
      .fork()
      .getConnection()
      .execute<{ recipient_id: string; variant: string }[]>(
        `select recipient_id, variant from notifications where event_id = ?`,
        [eventId],
      );
    for (const { recipient_id, variant } of variants) {
      if (variant !== 'B') continue;
      const mail = await waitFor(() =>
        stack.smtp.messages.find((m) => m.to.includes(`${recipient_id}@example.test`)),
      );
      const pixel = new RegExp(`<img src="${PUBLIC_URL}(/o/[^"]+)"`).exec(
        mimePart(mail.raw, 'text/html'),
      )![1];
      expect((await api.inject({ method: 'GET', url: pixel })).statusCode).toBe(200);
    }
    expect(rows).toHaveLength(users.length);
    await adminPost('/api/admin/analytics/rollup');
  }

  beforeAll(async () => {
    await stack.start();
    await api.start({ listen: true });
    await runExperiment();
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await page.goto(`${api.url}/admin/#/analytics`);
    await page.getByLabel('Admin API key').fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Analytics' }).waitFor({ timeout: UI_TIMEOUT });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await api.close();
    await stack.stop();
  });

  async function expectAccessible(): Promise<void> {
    expect(await accessibilityViolations(page)).toEqual([]);
  }

  it('shows the funnel, the series and the counts per template', async () => {
    const funnel = page.getByRole('region', { name: 'Funnel' });
    await funnel.getByText(/^Sent$/).waitFor({ timeout: UI_TIMEOUT });
    await page.locator('engagement-chart canvas').first().waitFor({ timeout: UI_TIMEOUT });
    const row = page.getByRole('row', { name: new RegExp(code) });
    await row.waitFor({ timeout: UI_TIMEOUT });
    // 16 sent and delivered, 8-ish opened: the row's first cells are the funnel's counts.
    const cells = await row.getByRole('cell').allTextContents();
    expect(cells.slice(0, 2)).toEqual(['16', '16']);
    expect(Number(cells[2])).toBeGreaterThan(0);
    await page.getByLabel('Group by').selectOption('variant');
    await page.getByRole('row', { name: new RegExp(`${experiment.id}:B`) }).waitFor({ timeout: UI_TIMEOUT });
    await expectAccessible();
    await screenshotForReadme(page, 'admin-analytics');
  });

  it('shows both variants with significance beside the promote buttons', async () => {
    await page.goto(`${api.url}/admin/#/experiments?id=${experiment.id}`);
    const results = page.getByRole('region', { name: `Results: ${experiment.name}` });
    await results.getByRole('button', { name: 'Promote B' }).waitFor({ timeout: UI_TIMEOUT });
    const b = results.getByRole('row', { name: /^B/ });
    await b.getByText(/significant at 95%/).waitFor({ timeout: UI_TIMEOUT });
    expect(await results.getByRole('row', { name: /^A/ }).getByText('control').count()).toBe(1);
    await results.getByRole('button', { name: 'Count new engagement now' }).click();
    await page
      .getByRole('status')
      .getByText(/^Counted \d+ new engagement/)
      .waitFor({ timeout: UI_TIMEOUT });
    await expectAccessible();
    await screenshotForReadme(page, 'admin-experiments');
  });

  it('creates an experiment with the API error at the field, and refuses to start a second one of the template', async () => {
    await page.getByLabel('Name', { exact: true }).fill(`Second ${stack.id}`);
    await page.getByLabel('Template', { exact: true }).selectOption(code);
    await page.getByLabel(/^Variants/).fill('A 1\nB 7');
    await page.getByRole('button', { name: 'Create experiment' }).click();
    const variants = page.getByLabel(/^Variants/);
    await page.locator('#experiment-variants[aria-invalid="true"]').waitFor({ timeout: UI_TIMEOUT });
    expect(await variants.getAttribute('aria-describedby')).toBe('experiment-variants-error');
    await variants.fill('A 1\nB 2');
    await page.getByRole('button', { name: 'Create experiment' }).click();
    await page.getByRole('heading', { name: `Results: Second ${stack.id}` }).waitFor({ timeout: UI_TIMEOUT });
    await page.getByRole('button', { name: 'Start' }).click();
    await page
      .getByRole('alert')
      .getByText(/another experiment of template .* is running/)
      .waitFor({ timeout: UI_TIMEOUT });
    await expectAccessible();
  });

  it('stops and promotes by keyboard: the winner becomes the newest template version', async () => {
    await page.goto(`${api.url}/admin/#/experiments?id=${experiment.id}`);
    const stop = page.getByRole('button', { name: 'Stop' });
    await stop.waitFor({ timeout: UI_TIMEOUT });
    await stop.focus();
    await page.keyboard.press('Enter');
    await page
      .getByRole('status')
      .getByText(/is stopped/)
      .waitFor({ timeout: UI_TIMEOUT });
    const promote = page.getByRole('button', { name: 'Promote B' });
    await promote.focus();
    await page.keyboard.press('Enter');
    await page
      .getByRole('status')
      .getByText('Variant B promoted', { exact: false })
      .waitFor({ timeout: UI_TIMEOUT });
    const templates = await api.admin({ method: 'GET', url: `/api/templates?code=${code}` });
    const email = templates.json<{
      items: { channel: string; version: number; fields: Record<string, string> }[];
    }>().items;
    expect(email.find((t) => t.channel === 'email')).toMatchObject({
      version: 3,
      fields: { subject: 'Good news: order {{orderNumber}} is in' },
    });
  });
});

import type { Browser } from 'playwright-core';
import { CHANNELS, queueNameFor } from '../../src/domain/channels';
import { ADMIN_KEY, ApiTestApp, apiTestEnv } from '../helpers/api-app';
import { launchChromium } from '../helpers/browser';
import { TestStack } from '../helpers/test-stack';

describe('HTTP API in a browser', () => {
  const stack = new TestStack({ env: apiTestEnv(), deliveryWorkers: false });
  const api = new ApiTestApp(stack);
  let browser: Browser;
  beforeAll(async () => {
    await stack.start();
    await api.start({ listen: true });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await api.close();
    await stack.stop();
  });

  it('renders the BullMQ dashboard with every channel queue after Basic auth with an admin key', async () => {
    const context = await browser.newContext({ httpCredentials: { username: 'ops', password: ADMIN_KEY } });
    try {
      const page = await context.newPage();
      const response = await page.goto(`${api.url}/admin/queues`);
      expect(response?.status()).toBe(200);
      for (const channel of CHANNELS) {
        await page.getByText(queueNameFor(channel), { exact: true }).first().waitFor({ timeout: 15_000 });
      }
      expect(await page.title()).toMatch(/Notifications|Bull/i);
    } finally {
      await context.close();
    }
  });

  it('refuses the dashboard to a browser with a wrong admin password', async () => {
    const context = await browser.newContext({
      httpCredentials: { username: 'ops', password: 'not-the-admin-key' },
    });
    try {
      const page = await context.newPage();
      const response = await page.goto(`${api.url}/admin/queues`);
      expect(response?.status()).toBe(401);
      expect(await page.textContent('body')).toContain('invalid API key');
      expect(await page.getByText(queueNameFor('email')).count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  it('renders the API documentation at /docs', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${api.url}/docs`);
      await page
        .locator('.swagger-ui .info .title')
        .getByText('Notification service')
        .waitFor({ timeout: 15_000 });
      await page.getByText('/api/events', { exact: true }).first().waitFor({ timeout: 15_000 });
      await page
        .getByText('/api/notifications/{id}/trace', { exact: true })
        .first()
        .waitFor({ timeout: 15_000 });
      expect(await page.locator('.opblock').count()).toBeGreaterThanOrEqual(18);
    } finally {
      await context.close();
    }
  });
});

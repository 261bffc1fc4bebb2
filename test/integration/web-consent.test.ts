import type { Browser } from 'playwright-core';
import { ApiTestApp, apiTestEnv, token } from '../helpers/api-app';
import { accessibilityViolations, launchChromium } from '../helpers/browser';
import { TestStack } from '../helpers/test-stack';

/** The marketing opt-in in the shopper's notification center (/inbox/, Preferences tab), in Chromium against the real API. */
describe('marketing opt-in in the notification center', () => {
  const stack = new TestStack({ env: apiTestEnv() });
  const api = new ApiTestApp(stack);
  let browser: Browser;
  const UI_TIMEOUT = 15_000;

  beforeAll(async () => {
    await stack.start();
    await api.start({ listen: true });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await api.close();
    await stack.stop();
  });

  it('shows the opt-in off, records it with source inbox when checked, and saving other settings records nothing more', async () => {
    const userId = stack.uid('shopper');
    await stack.createRecipient({ id: userId });
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${api.url}/inbox/`);
      await page.getByLabel('Access token (JWT)').fill(await token(userId));
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('tab', { name: 'Preferences' }).click();
      const optIn = page.getByRole('checkbox', { name: 'Yes, send me marketing messages' });
      await optIn.waitFor({ timeout: UI_TIMEOUT });
      expect(await optIn.isChecked()).toBe(false);
      await optIn.check();
      await page.getByRole('button', { name: 'Save preferences' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: 'Preferences saved.' })
        .waitFor({ timeout: UI_TIMEOUT });
      const stored = (await api.as(userId, { method: 'GET', url: '/api/preferences' })).json();
      expect(stored.consent.marketing).toMatchObject({ granted: true, source: 'inbox' });

      await page.getByRole('checkbox', { name: 'Account: Email' }).uncheck();
      await page.getByRole('button', { name: 'Save preferences' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: 'Preferences saved.' })
        .waitFor({ timeout: UI_TIMEOUT });
      const after = (await api.as(userId, { method: 'GET', url: '/api/preferences' })).json();
      expect(after.channels.account.email).toBe(false);
      expect(after.consent.marketing.at).toBe(stored.consent.marketing.at);
      expect(after.consentHistory).toEqual([
        expect.objectContaining({ action: 'opt-in', category: 'marketing', source: 'inbox' }),
      ]);
      expect(await accessibilityViolations(page)).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);
});

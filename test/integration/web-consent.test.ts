import type { Browser } from 'playwright-core';
import { ApiTestApp, apiTestEnv, token } from '../helpers/api-app';
import { accessibilityViolations, launchChromium } from '../helpers/browser';
import { TestStack } from '../helpers/test-stack';

/** The marketing opt-in and daily digests in the shopper's notification center (/inbox/, Preferences tab), in Chromium against the real API. */
describe('marketing opt-in and daily digests in the notification center', () => {
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

  it('shows each digestible category off, saves a daily digest with its hour through the API (mouse and keyboard), and shows it after a reload', async () => {
    const userId = stack.uid('shopper');
    await stack.createRecipient({ id: userId });
    const context = await browser.newContext();
    const page = await context.newPage();
    const saved = async () => {
      await page.getByRole('button', { name: 'Save preferences' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: 'Preferences saved.' })
        .waitFor({ timeout: UI_TIMEOUT });
    };
    const openPreferences = async () => {
      await page.getByRole('tab', { name: 'Preferences' }).click();
      await page.getByRole('group', { name: 'Daily digests' }).waitFor({ timeout: UI_TIMEOUT });
    };
    try {
      await page.goto(`${api.url}/inbox/`);
      await page.getByLabel('Access token (JWT)').fill(await token(userId));
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await openPreferences();
      const marketing = page.getByRole('checkbox', { name: 'Marketing: daily digest' });
      const marketingHour = page.getByRole('combobox', { name: 'Marketing: digest hour' });
      const inventory = page.getByRole('checkbox', { name: 'Inventory alerts: daily digest' });
      expect(await marketing.isChecked()).toBe(false);
      expect(await inventory.isChecked()).toBe(false);
      expect(await marketingHour.isDisabled()).toBe(true);

      await marketing.check();
      await marketingHour.selectOption({ label: '08:00' });
      // Keyboard only: Space switches the inventory digest on, Tab reaches its hour.
      await inventory.focus();
      await page.keyboard.press('Space');
      expect(await inventory.isChecked()).toBe(true);
      await page.keyboard.press('Tab');
      expect(await page.evaluate(DEEP_ACTIVE_LABEL)).toBe('Inventory alerts: digest hour');
      await saved();
      const stored = (await api.as(userId, { method: 'GET', url: '/api/preferences/digests' })).json();
      expect(stored).toEqual({
        marketing: { digest: 'daily', hour: 8 },
        inventory_alerts: { digest: 'daily', hour: 9 },
      });

      await page.reload();
      await openPreferences();
      expect(await marketing.isChecked()).toBe(true);
      expect(await marketingHour.inputValue()).toBe('8');
      await inventory.uncheck();
      await saved();
      const after = (await api.as(userId, { method: 'GET', url: '/api/preferences/digests' })).json();
      expect(after.inventory_alerts).toEqual({ digest: 'off' });
      expect(after.marketing).toEqual({ digest: 'daily', hour: 8 });
      expect(await accessibilityViolations(page)).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);
});

/** The aria-label of the focused element, through open shadow roots (the widget's elements). */
const DEEP_ACTIVE_LABEL = `(() => {
  let active = document.activeElement;
  while (active?.shadowRoot?.activeElement) active = active.shadowRoot.activeElement;
  return active?.getAttribute('aria-label') ?? null;
})()`;

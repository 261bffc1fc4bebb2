import type { Browser, BrowserContext, Page } from 'playwright-core';
import { WebhookProvider } from '../../src/delivery/providers/webhook-provider';
import { ADMIN_KEY, ApiTestApp, apiTestEnv, token } from '../helpers/api-app';
import { accessibilityViolations, launchChromium, screenshotForReadme } from '../helpers/browser';
import {
  LOCAL_STAND_IN_ENV,
  LOCAL_STAND_IN_POLICY,
  startWebhookReceiver,
  type HttpStandIn,
} from '../helpers/provider-stand-ins';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/** The operators' dashboard at /admin/ in Chromium against the real API, workers, Temporal and queues. */
describe('admin dashboard in a browser', () => {
  let receiver: HttpStandIn;
  const stack = new TestStack({
    // A refused webhook fails at once (one attempt): a failed job to list and retry.
    env: apiTestEnv({ ...LOCAL_STAND_IN_ENV, SEND_WEBHOOK_ATTEMPTS: '1' }),
    providers: () => ({
      webhook: new WebhookProvider({ secret: 'whsec_web_admin_test', policy: LOCAL_STAND_IN_POLICY }),
    }),
  });
  const api = new ApiTestApp(stack);
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** A recipient with a delivered email (trace, recipients) and one whose webhook was refused (failed jobs). */
  let shopper: string;
  let emailEventId: string;
  let hookUser: string;
  let hookEventId: string;
  const UI_TIMEOUT = 15_000;

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    await stack.start();
    await api.start({ listen: true });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await context.newPage();

    shopper = stack.uid('shopper');
    hookUser = stack.uid('hooked');
    await stack.createRecipient({ id: shopper });
    await stack.createRecipient({ id: hookUser, webhookUrl: `${receiver.url}/hooks/${hookUser}` });
    receiver.respondTo(`/hooks/${hookUser}`, 400, 'no such endpoint');
    emailEventId = await stack.publishEmail(shopper);
    hookEventId = stack.uid('evt');
    await stack.client.publishNotification({
      id: hookEventId,
      userId: hookUser,
      templateCode: 'order_shipped',
      variables: { orderNumber: hookEventId },
      options: { channels: ['webhook'] },
    });
    await Promise.all([stack.client.eventResult(emailEventId), stack.client.eventResult(hookEventId)]);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await api.close();
    await stack.stop();
    await receiver?.close();
  });

  async function expectAccessible(): Promise<void> {
    expect(await accessibilityViolations(page)).toEqual([]);
  }

  async function openPage(hash: string, heading: string): Promise<void> {
    await page.goto(`${api.url}/admin/${hash}`);
    await page.getByRole('heading', { level: 1, name: heading }).waitFor({ timeout: UI_TIMEOUT });
  }

  it('refuses a wrong admin key with the API message and shows no dashboard', async () => {
    await page.goto(`${api.url}/admin/`);
    await page.getByLabel('Admin API key').fill('not-the-admin-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: /invalid|key/i })
      .waitFor({ timeout: UI_TIMEOUT });
    expect(await page.getByRole('navigation', { name: 'Dashboard' }).count()).toBe(0);
    await expectAccessible();
  });

  it("refuses a shopper's token: it opens no operator session", async () => {
    await page.goto(`${api.url}/admin/`);
    await page.getByRole('radio', { name: 'Token (JWT)' }).check();
    await page.getByLabel('Admin token (JWT)').fill(await token(shopper));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page
      .getByRole('alert')
      .getByText('This credential has no operator rights.')
      .waitFor({ timeout: UI_TIMEOUT });
    expect(await page.getByRole('navigation', { name: 'Dashboard' }).count()).toBe(0);
    expect(
      await page.evaluate(
        "fetch('/api/session', { headers: { 'x-requested-with': 'fetch' } }).then((r) => r.status)",
      ),
    ).toBe(401);
  });

  it('signs in with the admin key and shows traffic, queue depths and recent failures on the overview', async () => {
    await page.goto(`${api.url}/admin/#/overview`);
    // The same document as before (only the hash changed): the token choice is still ticked.
    await page.getByRole('radio', { name: 'API key' }).check();
    await page.getByLabel('Admin API key').fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Dashboard' }).waitFor({ timeout: UI_TIMEOUT });
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor({ timeout: UI_TIMEOUT });
    await page.locator('rate-chart canvas').first().waitFor({ timeout: UI_TIMEOUT });
    const queues = page.getByRole('region', { name: 'Delivery queues' });
    await queues.getByRole('link', { name: 'send-email' }).waitFor({ timeout: UI_TIMEOUT });
    expect(await queues.getByRole('link', { name: 'send-webhook' }).getAttribute('href')).toBe(
      '/admin/queues/queue/send-webhook',
    );
    // The refused webhook is a recent failure that links to its trace.
    await page
      .getByRole('region', { name: 'Recent failures' })
      .getByRole('link')
      .first()
      .waitFor({ timeout: UI_TIMEOUT });
    // The latest stuck-work scan (run by the API itself: no worker of this stack publishes one): its four counts, read.
    const stuck = page.getByRole('region', { name: 'Stuck work' });
    for (const label of ['Past deadline', 'Queued without job', 'Workflows without timer', 'Expired']) {
      await expect(
        stuck
          .locator('dt', { hasText: label })
          .locator('xpath=following-sibling::dd')
          .textContent({ timeout: UI_TIMEOUT }),
      ).resolves.toMatch(/^\d+$/);
    }
    await stuck.getByText(/Scanned /).waitFor({ timeout: UI_TIMEOUT });
    await expectAccessible();
    await screenshotForReadme(page, 'admin-overview');
  });

  it('edits a template with a live preview, shows a syntax error inline and saves a new version', async () => {
    const code = `ui_${stack.id}`;
    const created = await api.admin({
      method: 'POST',
      url: `/api/templates/${code}/versions`,
      payload: {
        channel: 'in_app',
        category: 'account',
        fields: { title: 'Hello {{name}}', body: 'Your account {{name}} is ready.' },
      },
    });
    expect(created.statusCode).toBe(201);

    // From the overview by keyboard: the nav link, then focus lands on the new page's heading.
    await page
      .getByRole('navigation', { name: 'Dashboard' })
      .getByRole('link', { name: 'Templates' })
      .focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Templates' }).waitFor({ timeout: UI_TIMEOUT });
    await waitFor(
      async () =>
        (await page.evaluate(
          'document.activeElement?.tagName + " " + document.activeElement?.textContent',
        )) === 'H1 Templates'
          ? true
          : undefined,
      UI_TIMEOUT,
    );
    await page.getByLabel('Filter templates').fill(code);
    await page.getByRole('link', { name: new RegExp(`^${code}`) }).click();
    await page.getByRole('heading', { level: 1, name: `Template ${code}` }).waitFor({ timeout: UI_TIMEOUT });
    const preview = page.getByRole('region', { name: 'Preview' });
    // Sample variables come from the template: {{name}} renders as "sample name".
    await preview.getByText('Hello sample name').waitFor({ timeout: UI_TIMEOUT });

    const title = page.getByLabel('title', { exact: true });
    await title.fill('Welcome aboard, {{name}}!');
    await preview.getByText('Welcome aboard, sample name!').waitFor({ timeout: UI_TIMEOUT });
    await page.getByLabel('Sample variables (JSON)').fill('{"name": "Ada"}');
    await preview.getByText('Welcome aboard, Ada!').waitFor({ timeout: UI_TIMEOUT });

    // Broken Handlebars: the API's 400 names fields.title, shown next to that textarea.
    await title.fill('Welcome {{#if name}}aboard');
    const titleError = page.locator('#tpl-title-error');
    await titleError.waitFor({ timeout: UI_TIMEOUT });
    expect(await title.getAttribute('aria-invalid')).toBe('true');
    expect(await title.getAttribute('aria-describedby')).toBe('tpl-title-error');
    await expectAccessible();

    await title.fill('Welcome aboard, {{name}}!');
    await titleError.waitFor({ state: 'detached', timeout: UI_TIMEOUT });
    await page.getByRole('button', { name: 'Save as new version' }).click();
    await page.getByText('Saved as version 2.').waitFor({ timeout: UI_TIMEOUT });
    await page
      .getByRole('region', { name: 'Version history' })
      .getByRole('rowheader', { name: 'v2' })
      .waitFor({ timeout: UI_TIMEOUT });
    const stored = await api.admin({ method: 'GET', url: `/api/templates?code=${code}&channel=in_app` });
    expect(stored.json().items[0]).toMatchObject({
      version: 2,
      fields: { title: 'Welcome aboard, {{name}}!' },
    });

    // Someone else saves version 3 meanwhile: this editor's next save is refused, not stacked on it.
    const meanwhile = await api.admin({
      method: 'POST',
      url: `/api/templates/${code}/versions`,
      payload: { channel: 'in_app', fields: { title: 'Theirs', body: 'Theirs' } },
    });
    expect(meanwhile.json()).toMatchObject({ version: 3 });
    await title.fill('Mine, {{name}}');
    await page.getByRole('button', { name: 'Save as new version' }).click();
    await page
      .getByRole('alert')
      .getByText(/is at version 3, this change was made on version 2/)
      .waitFor({ timeout: UI_TIMEOUT });
    const after = await api.admin({ method: 'GET', url: `/api/templates?code=${code}&channel=in_app` });
    expect(after.json().items[0]).toMatchObject({ version: 3, fields: { title: 'Theirs' } });
    await title.fill('Welcome aboard, {{name}}!');
    await expectAccessible();
    await screenshotForReadme(page, 'admin-templates');
  });

  it("draws an email template's HTML in a sandboxed frame, where its scripts do not run", async () => {
    const code = `ui_mail_${stack.id}`;
    const created = await api.admin({
      method: 'POST',
      url: `/api/templates/${code}/versions`,
      payload: {
        channel: 'email',
        category: 'account',
        fields: {
          subject: 'Hi {{name}}',
          html: '<h2>Hello {{name}}</h2><script>parent.document.title = "owned"</script>',
          text: 'Hello {{name}}',
        },
      },
    });
    expect(created.statusCode).toBe(201);
    await openPage(`#/templates`, 'Templates');
    await page.getByLabel('Filter templates').fill(code);
    await page.getByRole('link', { name: new RegExp(`^${code}`) }).click();
    await page.getByRole('heading', { level: 1, name: `Template ${code}` }).waitFor({ timeout: UI_TIMEOUT });
    const frame = page.frameLocator('iframe[title="Email HTML as rendered"]');
    await frame.getByRole('heading', { name: 'Hello sample name' }).waitFor({ timeout: UI_TIMEOUT });
    await page.getByLabel('html', { exact: true }).fill('<h2>Welcome {{name}}</h2>');
    await frame.getByRole('heading', { name: 'Welcome sample name' }).waitFor({ timeout: UI_TIMEOUT });
    expect(
      await page.getByRole('region', { name: 'Preview' }).locator('iframe').getAttribute('sandbox'),
    ).toBe('');
    expect(await page.title()).not.toBe('owned');
  });

  it('creates a template with a preview, then its de variant from its editor; a bad code shows the API error inline', async () => {
    const code = `ui_new_${stack.id}`.toLowerCase();
    await openPage('#/templates', 'Templates');
    await page.getByRole('link', { name: 'New template' }).click();
    await page.getByRole('heading', { level: 1, name: 'New template' }).waitFor({ timeout: UI_TIMEOUT });
    // in_app's required fields are there, empty, before anything is typed.
    expect(await page.getByLabel('title', { exact: true }).inputValue()).toBe('');
    expect(await page.getByLabel('body', { exact: true }).inputValue()).toBe('');

    const codeInput = page.getByLabel('Code', { exact: true });
    await codeInput.fill('bad code');
    const codeError = page.locator('#tpl-id-code-error');
    await codeError.getByText('must be 1-100 chars of [A-Za-z0-9_.-]').waitFor({ timeout: UI_TIMEOUT });
    expect(await codeInput.getAttribute('aria-invalid')).toBe('true');
    expect(await codeInput.getAttribute('aria-describedby')).toBe('tpl-id-code-error');
    await expectAccessible();

    await codeInput.fill(code);
    await codeError.waitFor({ state: 'detached', timeout: UI_TIMEOUT });
    await page.getByLabel('Category').selectOption('account');
    await page.getByLabel('title', { exact: true }).fill('Hi {{name}}');
    await page.getByLabel('body', { exact: true }).fill('Your account {{name}} is ready.');
    await page.getByRole('button', { name: 'Add actionUrl' }).click();
    expect(await page.evaluate('document.activeElement?.id')).toBe('tpl-actionUrl');
    await page.keyboard.type('/account');
    const preview = page.getByRole('region', { name: 'Preview' });
    // Sample variables follow the tags typed: {{name}} renders as "sample name".
    await preview.getByText('Hi sample name').waitFor({ timeout: UI_TIMEOUT });
    await preview.getByText('/account').waitFor({ timeout: UI_TIMEOUT });
    await expectAccessible();

    await page.getByRole('button', { name: 'Create template' }).click();
    await page.getByRole('heading', { level: 1, name: `Template ${code}` }).waitFor({ timeout: UI_TIMEOUT });
    await page
      .getByRole('status')
      .getByText(`Created ${code} (in_app, en), version 1.`)
      .waitFor({ timeout: UI_TIMEOUT });
    const stored = await api.admin({ method: 'GET', url: `/api/templates?code=${code}` });
    expect(stored.json().items).toEqual([
      expect.objectContaining({
        channel: 'in_app',
        locale: 'en',
        version: 1,
        category: 'account',
        fields: { title: 'Hi {{name}}', body: 'Your account {{name}} is ready.', actionUrl: '/account' },
      }),
    ]);

    await page.getByRole('link', { name: 'Add a channel or locale' }).click();
    await page
      .getByRole('heading', { level: 1, name: `New variant of ${code}` })
      .waitFor({ timeout: UI_TIMEOUT });
    // The draft starts from the en template; unchanged, it would only append a version to it.
    await preview.getByText('Hi sample name').waitFor({ timeout: UI_TIMEOUT });
    await page.getByRole('button', { name: 'Create variant' }).click();
    await page
      .getByRole('alert')
      .getByText(/exists already/)
      .waitFor({ timeout: UI_TIMEOUT });
    await page.getByLabel('Locale', { exact: true }).fill('de');
    await page.getByLabel('title', { exact: true }).fill('Hallo {{name}}');
    await preview.getByText('Hallo sample name').waitFor({ timeout: UI_TIMEOUT });
    await expectAccessible();
    await page.getByRole('button', { name: 'Create variant' }).click();
    await page.getByRole('heading', { level: 1, name: `Template ${code}` }).waitFor({ timeout: UI_TIMEOUT });
    await page
      .getByRole('status')
      .getByText(`Created ${code} (in_app, de), version 1.`)
      .waitFor({ timeout: UI_TIMEOUT });
    const de = await api.admin({ method: 'GET', url: `/api/templates?code=${code}&locale=de` });
    expect(de.json().items).toEqual([
      expect.objectContaining({
        channel: 'in_app',
        locale: 'de',
        version: 1,
        category: 'account',
        fields: { title: 'Hallo {{name}}', body: 'Your account {{name}} is ready.', actionUrl: '/account' },
      }),
    ]);
    // The editor lists the template's locales, marks the one shown, and opens another.
    const locales = page.getByRole('navigation', { name: 'Locales of this template' });
    await locales.locator('a[aria-current="page"]', { hasText: 'de' }).waitFor({ timeout: UI_TIMEOUT });
    await locales.getByRole('link', { name: 'en', exact: true }).click();
    await locales.locator('a[aria-current="page"]', { hasText: /^en$/ }).waitFor({ timeout: UI_TIMEOUT });
    const title = page.getByLabel('title', { exact: true });
    expect(await waitFor(async () => ((await title.inputValue()) === 'Hi {{name}}' ? true : undefined))).toBe(
      true,
    );
    expect(await locales.locator('a[aria-current="page"]').textContent()).toBe('en');
  });

  it('finds a notification by its event id and shows its timeline with a Temporal Web UI link', async () => {
    await openPage('#/trace', 'Trace');
    await page.getByLabel('Event, notification, workflow or user id').fill(emailEventId);
    await page.getByRole('button', { name: 'Search' }).click();
    const results = page.getByRole('region', { name: 'Results' });
    await results.getByRole('link').first().click();
    await page.getByRole('heading', { name: 'Timeline' }).waitFor({ timeout: UI_TIMEOUT });
    expect(await page.locator('.timeline li').count()).toBeGreaterThan(3);
    const temporalLink = page.getByRole('link', { name: /in Temporal Web UI/ }).first();
    expect(await temporalLink.getAttribute('href')).toMatch(/^http:\/\/temporal-ui\.test:8233\//);
    const queueLink = page.getByRole('region', { name: 'Channels' }).getByRole('link').first();
    expect(await queueLink.getAttribute('href')).toMatch(/^\/admin\/queues\/queue\/send-email/);
    await expectAccessible();
    await screenshotForReadme(page, 'admin-trace');
  });

  it('creates a campaign for two recipients and follows it to completed; cancels a scheduled one', async () => {
    await openPage('#/campaigns', 'Campaigns');
    await page.getByLabel('Name', { exact: true }).fill(`Spring ${stack.id}`);
    await page.getByLabel('Template (marketing)').selectOption('marketing_announcement');
    await page
      .getByLabel('Variables (JSON)')
      .fill('{"headline": "Spring sale", "message": "Everything 20% off."}');
    await page.getByLabel('User ids (comma separated)').fill(`${shopper}, ${hookUser}`);
    await page.getByRole('button', { name: 'Create campaign' }).click();
    const row = page.getByRole('row', { name: new RegExp(`Spring ${stack.id}`) });
    await row.getByText('completed', { exact: true }).waitFor({ timeout: 30_000 });
    expect(await row.getByText('2 of 2 started').count()).toBe(1);

    await page.getByLabel('Name', { exact: true }).fill(`Later ${stack.id}`);
    await page.getByLabel('User ids (comma separated)').fill(shopper);
    await page.getByLabel('Send at (empty: now)').fill('2099-01-01T10:00');
    await page.getByRole('button', { name: 'Create campaign' }).click();
    const later = page.getByRole('row', { name: new RegExp(`Later ${stack.id}`) });
    await later.getByText('scheduled', { exact: true }).waitFor({ timeout: UI_TIMEOUT });
    await expectAccessible();
    await later.getByRole('button', { name: /Cancel/ }).click();
    await later.getByText('cancelled', { exact: true }).waitFor({ timeout: UI_TIMEOUT });
  }, 45_000);

  it('lists the webhook job that failed for real and retries it', async () => {
    const { notification } = await stack.deliveryAttempts(hookEventId, hookUser);
    const jobId = `${notification.id}.webhook`;
    await openPage('#/failed?channel=webhook', 'Failed jobs');
    const row = page
      .getByRole('region', { name: 'Failed jobs' })
      .getByRole('row', { name: new RegExp(jobId) });
    await row.getByText('http-webhook responded 400').waitFor({ timeout: UI_TIMEOUT });
    expect(await row.getByRole('link', { name: jobId }).getAttribute('href')).toBe(
      `/admin/queues/queue/send-webhook/${jobId}`,
    );
    await expectAccessible();
    const hooks = () => receiver.requests.filter((r) => r.path === `/hooks/${hookUser}`).length;
    const before = hooks();
    await row.getByRole('button', { name: `Retry ${jobId}` }).click();
    await page
      .getByRole('status')
      .getByText('1 job moved back to the queue.')
      .waitFor({ timeout: UI_TIMEOUT });
    // The receiver answers 200 this time: the job is sent again and leaves the failed set.
    await waitFor(() => (hooks() > before ? true : undefined), UI_TIMEOUT);
    await waitFor(
      async () =>
        (await stack.queues.queue('webhook').getJobState(jobId)) === 'completed' ? true : undefined,
      UI_TIMEOUT,
    );
  });

  it('finds a recipient and switches off a preference that is not mandatory', async () => {
    await openPage('#/recipients', 'Recipients');
    await page.getByLabel('User id, name or email').fill(shopper);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: shopper, exact: true }).click();
    const marketingEmail = page.getByRole('checkbox', { name: 'marketing by email', exact: true });
    await marketingEmail.waitFor({ timeout: UI_TIMEOUT });
    expect(
      await page.getByRole('checkbox', { name: 'order_updates by email (mandatory)' }).isDisabled(),
    ).toBe(true);
    await expectAccessible();
    expect(await marketingEmail.isChecked()).toBe(true);
    await marketingEmail.uncheck();
    await page.getByText('Saved: marketing by email off.').waitFor({ timeout: UI_TIMEOUT });
    const stored = await api.as(shopper, { method: 'GET', url: '/api/preferences' });
    expect(stored.json().channels.marketing.email).toBe(false);
  });

  it('fits a phone-sized screen: the nav becomes a top bar and nothing scrolls sideways', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await openPage('#/overview', 'Overview');
      await page.locator('rate-chart canvas').first().waitFor({ timeout: UI_TIMEOUT });
      const nav = await page.getByRole('navigation', { name: 'Dashboard' }).boundingBox();
      const heading = await page.getByRole('heading', { level: 1, name: 'Overview' }).boundingBox();
      expect(nav!.y + nav!.height).toBeLessThanOrEqual(heading!.y);
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      await expectAccessible();
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
  });

  it('signs out back to the sign-in form', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin API key').waitFor({ timeout: UI_TIMEOUT });
    expect(
      await page.evaluate(
        "fetch('/api/session', { headers: { 'x-requested-with': 'fetch' } }).then((r) => r.status)",
      ),
    ).toBe(401);
  });
});

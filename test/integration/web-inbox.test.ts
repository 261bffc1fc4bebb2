import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { Notification } from '../../src/db/entities';
import { ApiTestApp, apiTestEnv, insertDeliveredNotification, orderCreated, token } from '../helpers/api-app';
import { accessibilityViolations, launchChromium, screenshotForReadme } from '../helpers/browser';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/**
 * The shopper's notification center: /inbox/ (cookie session) and the <notification-bell> widget
 * embedded in a shop page on another origin (bearer token, CORS), in Chromium against the real API,
 * Temporal workflows and delivery workers: notifications arrive over the live stream.
 */
describe('shopper notification center in a browser', () => {
  // The shop's origin is known once its server listens: filled in before the stack reads its env.
  const env = apiTestEnv();
  const stack = new TestStack({ env });
  const api = new ApiTestApp(stack);
  let browser: Browser;
  let shop: Server;
  let shopOrigin: string;
  /** Shop pages by path, written by the tests. */
  const shopPages = new Map<string, string>();
  const contexts: BrowserContext[] = [];
  const UI_TIMEOUT = 15_000;
  /** The browser's time zone: the preferences offer it for quiet hours. */
  const SHOPPER_TIME_ZONE = 'Europe/Berlin';

  beforeAll(async () => {
    shop = createServer((request, response) => {
      const page = shopPages.get(request.url ?? '');
      response
        .writeHead(page ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' })
        .end(page ?? 'not found');
    });
    await new Promise<void>((resolve) => shop.listen(0, '127.0.0.1', resolve));
    // localhost vs the API's 127.0.0.1: another origin, as a shop's own site is.
    shopOrigin = `http://localhost:${(shop.address() as AddressInfo).port}`;
    env.WIDGET_ORIGINS = shopOrigin;
    await stack.start();
    await api.start({ listen: true });
    browser = await launchChromium();
  }, 60_000);

  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
  });

  afterAll(async () => {
    await browser?.close();
    await api.close();
    await stack.stop();
    await new Promise((resolve) => shop?.close(resolve));
  });

  async function newPage(viewport = { width: 1280, height: 860 }): Promise<Page> {
    const context = await browser.newContext({ viewport, timezoneId: SHOPPER_TIME_ZONE });
    contexts.push(context);
    return context.newPage();
  }

  /** A shopper created the way a shop does it: the service API. */
  async function createShopper(roles: string[] = []): Promise<string> {
    const id = stack.uid('shopper');
    const res = await api.service({
      method: 'PUT',
      url: `/api/recipients/${id}`,
      payload: { name: 'Asha Rao', email: `${id}@example.test`, roles },
    });
    expect(res.statusCode).toBe(201);
    return id;
  }

  async function publish(event: { id: string }): Promise<void> {
    const res = await api.service({ method: 'POST', url: '/api/events', payload: event });
    expect(res.statusCode).toBe(202);
  }

  /** An order event with an order number of its own, which its in-app title shows (`title`). */
  async function publishOrder(userId: string): Promise<{ eventId: string; title: string }> {
    const eventId = stack.uid('evt');
    const orderNumber = stack.uid('A');
    await publish(orderCreated(eventId, userId, { data: { orderNumber, total: 1499, currency: 'INR' } }));
    return { eventId, title: orderNumber };
  }

  async function unreadCount(userId: string): Promise<number> {
    return (await api.as(userId, { method: 'GET', url: '/api/notifications/unread-count' })).json().count;
  }

  async function signInToInbox(page: Page, userId: string): Promise<void> {
    await page.goto(`${api.url}/inbox/`);
    await page.getByLabel('Access token (JWT)').fill(await token(userId));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page
      .getByRole('heading', { level: 1, name: 'Your notifications' })
      .waitFor({ timeout: UI_TIMEOUT });
  }

  const item = (page: Page, title: string) => page.getByRole('listitem').filter({ hasText: title });
  const bell = (page: Page, unread: number) =>
    page.getByRole('button', { name: `Notifications, ${unread} unread`, exact: true });
  const unreadSummary = (page: Page, text: string) =>
    page.locator('notification-list .toolbar').getByText(text, { exact: true });

  /** The element has focus in its own document or shadow root. */
  function isFocused(locator: Locator): Promise<boolean> {
    return locator.evaluate(
      (element) => (element.getRootNode() as unknown as { activeElement: unknown }).activeElement === element,
    );
  }

  /** A shop page on the shop's origin embedding the widget with a token for userId. */
  async function shopPageFor(userId: string, tokenTtl = '1h'): Promise<string> {
    const path = `/shop/${userId}`;
    shopPages.set(
      path,
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
      <title>Demo shop</title></head><body><header style="display:flex;justify-content:space-between;align-items:center;padding:0 1rem">
      <p>Demo shop</p><script src="${api.url}/widget/notification-center.js"></script>
      <notification-bell token="${await token(userId, { ttl: tokenTtl })}"></notification-bell></header><main><h1>Welcome back</h1></main></body></html>`,
    );
    return `${shopOrigin}${path}`;
  }

  it('signs in with a pasted token, shows a published event live, marks one and then all read', async () => {
    const userId = await createShopper();
    const page = await newPage();
    await signInToInbox(page, userId);
    await page.getByText('No notifications yet.').waitFor({ timeout: UI_TIMEOUT });

    // Live: the event goes through the workflow and the in-app worker, the stream brings it in.
    const first = await publishOrder(userId);
    await item(page, first.title).waitFor({ timeout: UI_TIMEOUT });
    await unreadSummary(page, '1 unread').waitFor({ timeout: UI_TIMEOUT });
    await page.getByRole('tab', { name: /Notifications.*1 unread/ }).waitFor({ timeout: UI_TIMEOUT });
    expect(await unreadCount(userId)).toBe(1);

    await page.getByRole('button', { name: new RegExp(`^Mark as read: .*${first.title}`) }).click();
    await unreadSummary(page, 'no unread').waitFor({ timeout: UI_TIMEOUT });
    expect(await unreadCount(userId)).toBe(0);

    const second = await publishOrder(userId);
    const third = await publishOrder(userId);
    await item(page, second.title).waitFor({ timeout: UI_TIMEOUT });
    await item(page, third.title).waitFor({ timeout: UI_TIMEOUT });
    await unreadSummary(page, '2 unread').waitFor({ timeout: UI_TIMEOUT });
    expect(await unreadCount(userId)).toBe(2);
    await screenshotForReadme(page, 'inbox');
    expect(await accessibilityViolations(page)).toEqual([]);

    await page.getByRole('button', { name: 'Mark all as read' }).click();
    await unreadSummary(page, 'no unread').waitFor({ timeout: UI_TIMEOUT });
    expect(await unreadCount(userId)).toBe(0);

    // Signed out, the page offers the sign-in form again (and the cookie no longer opens the feed).
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Access token (JWT)').waitFor({ timeout: UI_TIMEOUT });
    await page.reload();
    await page.getByLabel('Access token (JWT)').waitFor({ timeout: UI_TIMEOUT });
  });

  it('switches a category off in the preferences, and its next event never arrives in the app', async () => {
    const userId = await createShopper(['admin']);
    const page = await newPage();
    await signInToInbox(page, userId);
    await page.getByRole('tab', { name: 'Preferences' }).click();

    const mandatory = page.getByRole('checkbox', { name: 'Order updates: In app' });
    await mandatory.waitFor({ timeout: UI_TIMEOUT });
    expect(await mandatory.isChecked()).toBe(true);
    expect(await mandatory.isDisabled()).toBe(true);
    const inventoryInApp = page.getByRole('checkbox', { name: 'Inventory alerts: In app' });
    expect(await inventoryInApp.isChecked()).toBe(true);
    await inventoryInApp.uncheck();
    // Quiet hours in the browser's time zone, placed hours away from now so that nothing below waits.
    await page.getByRole('button', { name: 'Add quiet hours' }).click();
    const localTime = (hoursFromNow: number) =>
      `${new Date(Date.now() + hoursFromNow * 3600_000).toLocaleTimeString('en-GB', { timeZone: SHOPPER_TIME_ZONE, hour: '2-digit', hourCycle: 'h23' })}:00`;
    const quietHours = { start: localTime(6), end: localTime(7), timezone: SHOPPER_TIME_ZONE };
    await page.getByLabel('From').fill(quietHours.start);
    await page.getByLabel('Until').fill(quietHours.end);
    expect(await page.getByLabel('Time zone').inputValue()).toBe(SHOPPER_TIME_ZONE);
    await page.getByRole('button', { name: 'Save preferences' }).click();
    await page.getByRole('status').filter({ hasText: 'Preferences saved.' }).waitFor({ timeout: UI_TIMEOUT });
    const stored = await api.as(userId, { method: 'GET', url: '/api/preferences' });
    expect(stored.json().channels.inventory_alerts).toMatchObject({ in_app: false, email: true });
    expect(stored.json().channels.order_updates.in_app).toBe(true);
    expect(stored.json().quietHours).toEqual(quietHours);
    await screenshotForReadme(page, 'inbox-preferences');
    expect(await accessibilityViolations(page)).toEqual([]);

    await page.getByRole('tab', { name: /^Notifications/ }).click();
    const muted = {
      id: stack.uid('evt'),
      type: 'INVENTORY_LOW_STOCK',
      occurredAt: new Date().toISOString(),
      userIds: [userId],
      data: { sku: 'TSHIRT-RED', productName: 'Red T-shirt', currentStock: 2 },
    };
    await publish(muted);
    // An event of a category still on, published after: once it shows, the stream has had its chance.
    const after = await publishOrder(userId);
    await item(page, after.title).waitFor({ timeout: UI_TIMEOUT });
    await stack.client.eventResult(muted.id);
    const status = await stack.client.status(muted.id, userId);
    expect(status.channels.in_app).toMatchObject({
      state: 'suppressed',
      reason: expect.stringContaining('inventory_alerts'),
    });
    expect(status.channels.email?.state).toBe('delivered');
    const notification = await stack.orm.em.fork().findOneOrFail(Notification, { eventId: muted.id });
    const feed = (await api.as(userId, { method: 'GET', url: '/api/notifications' })).json();
    expect(feed.items.map((n: { id: string }) => n.id)).not.toContain(notification.id);
    expect(await item(page, 'Red T-shirt').count()).toBe(0);
    expect(await page.locator('notification-list li').count()).toBe(1);
  });

  it('embeds the bell on a shop page on another origin: unread badge, live event, keyboard, accessible', async () => {
    const userId = await createShopper();
    const earlier = await publishOrder(userId);
    await stack.client.eventResult(earlier.eventId);
    await waitFor(async () => ((await unreadCount(userId)) === 1 ? true : undefined), 10_000);

    const page = await newPage();
    await page.goto(await shopPageFor(userId));
    await bell(page, 1).waitFor({ timeout: UI_TIMEOUT });
    expect(new URL(page.url()).origin).not.toBe(new URL(api.url).origin);

    const live = await publishOrder(userId);
    await bell(page, 2).waitFor({ timeout: UI_TIMEOUT });

    // Keyboard: Enter opens the panel and moves focus in; Escape closes it and focus returns to the bell.
    await bell(page, 2).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Notifications' });
    await dialog.waitFor({ timeout: UI_TIMEOUT });
    expect(await bell(page, 2).getAttribute('aria-expanded')).toBe('true');
    expect(await isFocused(page.locator('notification-bell #panel'))).toBe(true);
    await item(page, live.title).waitFor({ timeout: UI_TIMEOUT });
    await item(page, earlier.title).waitFor({ timeout: UI_TIMEOUT });
    // The event's relative action link is the shop's: on the shop's page it stays on the shop.
    const action = item(page, live.title).getByRole('link', { name: 'View order' });
    expect(await action.evaluate((link) => (link as unknown as { href: string }).href)).toBe(
      `${shopOrigin}/profile/orders/9`,
    );
    await screenshotForReadme(page, 'widget-open');
    expect(await accessibilityViolations(page)).toEqual([]);

    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden', timeout: UI_TIMEOUT });
    expect(await bell(page, 2).getAttribute('aria-expanded')).toBe('false');
    expect(await isFocused(page.locator('notification-bell .bell'))).toBe(true);

    // Marking read through the widget goes cross-origin too.
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Mark all as read' }).click();
    await bell(page, 0).waitFor({ timeout: UI_TIMEOUT });
    expect(await unreadCount(userId)).toBe(0);
  });

  it('fits a phone: the bell panel takes the full width and the inbox stays usable', async () => {
    const userId = await createShopper();
    const { eventId, title } = await publishOrder(userId);
    await stack.client.eventResult(eventId);
    const phone = { width: 390, height: 844 };

    const shopPage = await newPage(phone);
    await shopPage.goto(await shopPageFor(userId));
    await bell(shopPage, 1).click();
    const dialog = shopPage.getByRole('dialog', { name: 'Notifications' });
    await item(shopPage, title).waitFor({ timeout: UI_TIMEOUT });
    const box = await dialog.boundingBox();
    expect(box).toMatchObject({ x: 0, width: phone.width });
    await shopPage.getByRole('button', { name: 'Close notifications' }).click();
    await dialog.waitFor({ state: 'hidden', timeout: UI_TIMEOUT });

    const page = await newPage(phone);
    await signInToInbox(page, userId);
    await item(page, title).waitFor({ timeout: UI_TIMEOUT });
    const markRead = page.getByRole('button', { name: new RegExp(`^Mark as read: .*${title}`) });
    const button = await markRead.boundingBox();
    expect(button!.x + button!.width).toBeLessThanOrEqual(phone.width);
    // Nothing wider than the screen: no sideways scrolling.
    expect(
      await page.evaluate(
        () =>
          (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document
            .documentElement.scrollWidth,
      ),
    ).toBeLessThanOrEqual(phone.width);
    await screenshotForReadme(page, 'inbox-phone');
    await markRead.click();
    await unreadSummary(page, 'no unread').waitFor({ timeout: UI_TIMEOUT });
  });

  it("opens relative action links on the shop's site (SHOP_URL), not on the notification service", async () => {
    const shopApi = await new ApiTestApp(stack).start({
      listen: true,
      configure: (config) => ({ ...config, api: { ...config.api, shopUrl: 'https://shop.example.test' } }),
    });
    try {
      const userId = await createShopper();
      const page = await newPage();
      await page.goto(`${shopApi.url}/inbox/`);
      await page.getByLabel('Access token (JWT)').fill(await token(userId));
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page
        .getByRole('heading', { level: 1, name: 'Your notifications' })
        .waitFor({ timeout: UI_TIMEOUT });
      const order = await publishOrder(userId);
      const action = item(page, order.title).getByRole('link', { name: 'View order' });
      await action.waitFor({ timeout: UI_TIMEOUT });
      expect(await action.getAttribute('href')).toBe('https://shop.example.test/profile/orders/9');
    } finally {
      await shopApi.close();
    }
  });

  it('offers the demo users when dev sign-in is on, and signs in as one', async () => {
    const devApi = await new ApiTestApp(stack).start({
      listen: true,
      configure: (config) => ({ ...config, api: { ...config.api, devLogin: true } }),
    });
    try {
      const page = await newPage();
      await page.goto(`${devApi.url}/inbox/`);
      await page.getByRole('heading', { name: 'Demo users' }).waitFor({ timeout: UI_TIMEOUT });
      await page.getByRole('button', { name: 'Sign in as Ben' }).click();
      await page
        .getByRole('heading', { level: 1, name: 'Your notifications' })
        .waitFor({ timeout: UI_TIMEOUT });
      await page.getByText('Signed in as u_43', { exact: false }).waitFor({ timeout: UI_TIMEOUT });
      expect(await accessibilityViolations(page)).toEqual([]);
    } finally {
      await devApi.close();
    }
    // Without DEV_LOGIN the routes do not exist, so the sign-in page offers only the token.
    const page = await newPage();
    await page.goto(`${api.url}/inbox/`);
    await page.getByLabel('Access token (JWT)').waitFor({ timeout: UI_TIMEOUT });
    expect(await page.getByRole('heading', { name: 'Demo users' }).count()).toBe(0);
    expect(await accessibilityViolations(page)).toEqual([]);
  });

  it('pages older notifications with Load more', async () => {
    const userId = await createShopper();
    const base = Date.now() - 3600_000;
    for (let i = 1; i <= 25; i++) {
      await insertDeliveredNotification(stack, userId, {
        title: `Older notice ${String(i).padStart(2, '0')}`,
        createdAt: new Date(base + i * 1000),
      });
    }
    const page = await newPage();
    await signInToInbox(page, userId);
    await item(page, 'Older notice 25').waitFor({ timeout: UI_TIMEOUT });
    const items = page.locator('notification-list li');
    expect(await items.count()).toBe(20);
    expect(await item(page, 'Older notice 05').count()).toBe(0);
    await page.getByRole('button', { name: 'Load more' }).click();
    await item(page, 'Older notice 01').waitFor({ timeout: UI_TIMEOUT });
    expect(await items.count()).toBe(25);
    await page.getByRole('button', { name: 'Load more' }).waitFor({ state: 'detached', timeout: UI_TIMEOUT });
    await unreadSummary(page, '25 unread').waitFor({ timeout: UI_TIMEOUT });
  });

  it('stops the live feed when the token expires and says so, with a session-expired event for the shop', async () => {
    const userId = await createShopper();
    const page = await newPage();
    await page.goto(await shopPageFor(userId, '4s'));
    await bell(page, 0).waitFor({ timeout: UI_TIMEOUT });
    const expiredEvent = page.evaluate(
      () =>
        new Promise<boolean>((resolve) => {
          const bellElement = (
            globalThis as unknown as {
              document: { querySelector(s: string): { addEventListener(t: string, l: () => void): void } };
            }
          ).document.querySelector('notification-bell');
          bellElement.addEventListener('session-expired', () => resolve(true));
        }),
    );
    await bell(page, 0).click();
    // The server ends the stream at the token's exp with `event: token_expired`.
    await page
      .getByRole('alert')
      .filter({ hasText: 'Your session has expired' })
      .waitFor({ timeout: UI_TIMEOUT });
    expect(await expiredEvent).toBe(true);
  });
});

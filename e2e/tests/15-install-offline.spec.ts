import { test, expect } from '../fixtures';

// Installing the page and starting it offline, and a private window, in
// Chromium only: the install criteria, beforeinstallprompt and
// Page.getInstallabilityErrors are Chromium's, and so is the Incognito
// refusal of push.
test.describe('install, offline start and private windows', () => {
  test.skip(({ browserName }) => browserName !== 'chromium', 'Chromium only');
  test.describe.configure({ mode: 'parallel' });

  test('installable; starts offline from the service worker cache, says so, and recovers online', async ({ profile }) => {
    const { page, context, home } = profile;

    await test.step('Chromium finds nothing against installing the page', async () => {
      // The profile is a persistent one: in an incognito context (what
      // browser.newContext() makes) the only error is "in-incognito".
      await page.evaluate(() => navigator.serviceWorker.ready);
      const cdp = await context.newCDPSession(page);
      try {
        await expect
          .poll(async () => (await cdp.send('Page.getInstallabilityErrors')).installabilityErrors.map((e) => e.errorId), {
            message: 'Page.getInstallabilityErrors lists no error',
          })
          .toEqual([]);
      } finally {
        await cdp.detach().catch(() => {});
      }
    });

    await test.step('Chromium offers its install prompt: "Install app" shows it', async () => {
      // Chromium fires beforeinstallprompt for an installable page; go-app
      // keeps the event and tells the page, which shows the button.
      const install = page.getByRole('button', { name: 'Install app' });
      await expect(install).toBeVisible();
      // The browser's install dialog is one no automation can answer: the
      // event's prompt() is counted instead of shown.
      await page.evaluate(() => {
        const w = window as any;
        w.__prompts = 0;
        w.BeforeInstallPromptEvent.prototype.prompt = () => {
          w.__prompts++;
          return Promise.resolve();
        };
      });
      await install.click();
      await expect.poll(() => page.evaluate(() => (window as any).__prompts)).toBe(1);
      // A prompt can be shown once: the button goes.
      await expect(install).toHaveCount(0);
    });

    await home.enable();
    await page.waitForFunction(() => !!navigator.serviceWorker.controller);
    try {
      await test.step('offline, the page starts from the cache and says it is offline', async () => {
        await context.setOffline(true);
        await home.reload();
        // Playwright's offline emulation leaves navigator.onLine true in the
        // document reloaded from the cache, so the page learns it from the
        // request the server never answered, as it would of a server down.
        await expect(home.status.getByText('Server: no answer (offline, or not running)', { exact: true })).toBeVisible();
        await expect(page.getByRole('heading', { name: 'Working offline' })).toBeVisible();
        await home.expectSubscribedShown(true);
        // The browser's own words stay in the flow log, not in the alert.
        await expect(home.alert).toContainText('The server did not answer GET /api/vapid-public-key');
        await expect(home.alert).not.toContainText('Failed to fetch');
      });
    } finally {
      await context.setOffline(false);
    }

    await test.step('back online, the page checks again by itself', async () => {
      await expect(home.status.getByText('Server: stores this subscription', { exact: true })).toBeVisible({ timeout: 30_000 });
      await expect(home.status.getByText(/^Offline|^Server: no answer/)).toHaveCount(0);
      await expect(home.alert).toBeHidden();
    });
  });

  test('an Incognito window: subscribing is refused, the page says private windows get no push and lets the user try again', async ({ browser, kit }) => {
    // browser.newContext() is Chromium's incognito profile.
    const context = await browser.newContext();
    try {
      await context.grantPermissions(['notifications'], { origin: kit.url });
      const page = await context.newPage();
      await page.goto(`${kit.url}/`);
      const enable = page.getByRole('button', { name: 'Enable notifications' });
      await expect(enable).toBeEnabled({ timeout: 30_000 });
      expect(await page.evaluate(() => Notification.permission)).toBe('granted');
      await enable.click();
      const status = page.getByRole('status');
      await expect(status.getByText('Push support: subscribing refused, as in a private window', { exact: true })).toBeVisible();
      await expect(page.getByRole('heading', { name: 'Private windows cannot receive push' })).toBeVisible();
      // One refusal is only a guess: a policy can refuse a normal window
      // the same way, so Enable stays on for another try.
      await expect(enable).toBeEnabled();
    } finally {
      await context.close();
    }
  });
});

import { test, expect } from '../fixtures';

// Counts every call of the two APIs that can make a browser prompt, before
// the page's own scripts run, so "nothing prompts on load" is observed rather
// than inferred: headless Firefox leaves an unanswered prompt pending, which
// Notification.permission alone would not reveal.
const countPrompts = () => {
  const w = window as any;
  w.__promptCalls = [];
  const wrap = (obj: any, name: string, label: string) => {
    const orig = obj?.[name];
    if (typeof orig !== 'function') return;
    obj[name] = function (this: unknown, ...args: unknown[]) {
      w.__promptCalls.push(label);
      return orig.apply(this, args);
    };
  };
  wrap(window.Notification, 'requestPermission', 'Notification.requestPermission');
  wrap(window.PushManager?.prototype, 'subscribe', 'PushManager.subscribe');
};

test.describe('page states', () => {
  // Each test has a browser profile of its own: they can run on different
  // workers.
  test.describe.configure({ mode: 'parallel' });

  test('nothing prompts on load; default, then granted after "Enable notifications"', async ({ openProfile }) => {
    const { page, home, context, kit } = await openProfile({ permission: 'default', open: false });
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.addInitScript(countPrompts);

    await test.step('load: the page asks for nothing', async () => {
      await home.goto();
      await page.evaluate(() => navigator.serviceWorker.ready);
      expect(await page.evaluate(() => (window as any).__promptCalls)).toEqual([]);
      expect(await home.permission()).toBe('default');
      expect(dialogs).toEqual([]);
    });

    await test.step('the page shows permission "default", not subscribed, and offers to enable', async () => {
      await home.expectPermissionShown('default');
      await home.expectSubscribedShown(false);
      await expect(home.enableButton).toBeEnabled();
      await expect(home.disableButton).toBeDisabled();
      expect(await home.subscription()).toBeNull();
    });

    await test.step('the user allows notifications and clicks "Enable notifications"', async () => {
      // No automation can answer the browser's permission prompt (headless
      // Chromium dismisses it as "denied", headless Firefox leaves it
      // pending), so the answer "Allow" is given up front, as the browser
      // would record it; the page still asks on the click.
      await context.grantPermissions(['notifications'], { origin: kit.url });
      await home.enable();
      const calls: string[] = await page.evaluate(() => (window as any).__promptCalls);
      expect(calls).toContain('PushManager.subscribe');
    });

    await test.step('the page shows permission "granted" and the subscription', async () => {
      await home.expectPermissionShown('granted');
      expect(await home.permission()).toBe('granted');
      const sub = await home.subscription();
      expect(sub?.endpoint).toBeTruthy();
      await expect(page.locator('#subscription-json')).toContainText(sub!.endpoint);
      expect(dialogs).toEqual([]);
    });
  });

  test('denied: the page says notifications are blocked and how to allow them again', async ({ openProfile, browserName }) => {
    // Chromium: the site's permission set to "Block" over CDP
    // (Browser.setPermission). Firefox: Playwright can grant but not deny a
    // permission there, so the profile starts with "Block new requests asking
    // to allow notifications" (permissions.default.desktop-notification = 2).
    const { page, home } = await openProfile({ permission: 'denied' });

    await test.step('the page shows permission "denied"', async () => {
      expect(await home.permission()).toBe('denied');
      await home.expectPermissionShown('denied');
    });

    await test.step('it explains how to re-enable, this browser first', async () => {
      await expect(page.getByRole('heading', { name: 'Notifications are blocked for this site' })).toBeVisible();
      const mine = browserName === 'firefox' ? 'Firefox (this browser):' : 'Chrome / Chromium (this browser):';
      const steps = page.locator('ul.steps > li');
      await expect(steps.first()).toContainText(mine);
      await expect(steps.first()).toContainText(/reload this page/);
    });

    await test.step('"Enable notifications" cannot be used while blocked', async () => {
      // The browser would refuse without asking; the page says so instead of failing.
      await expect(home.enableButton).toBeDisabled();
      expect(await home.subscription()).toBeNull();
    });
  });
});

test.describe('in French', () => {
  // A browser whose language is French: the server's first paint is in
  // English, then the page renders itself in French.
  test.use({ locale: 'fr-FR' });

  test('the page speaks the browser\'s language: French headings, buttons and steps, <html lang="fr">', async ({ openProfile }) => {
    const { page, kit } = await openProfile({ open: false });
    await page.goto(`${kit.url}/`);
    expect(await page.evaluate(() => navigator.languages[0])).toMatch(/^fr\b/);

    await expect(page.getByRole('button', { name: 'Activer les notifications', exact: true })).toBeVisible({ timeout: 30_000 });
    await expect(page.locator('html')).toHaveAttribute('lang', 'fr');
    await expect(page).toHaveTitle('pushstart : kit de démarrage Web Push');
    await expect(page.getByRole('heading', { name: 'Notification de test' })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Envoyer une notification de test' })).toBeVisible();
    await expect(page.getByRole('heading', { name: 'Flux', exact: true })).toBeVisible();
    await expect(page.getByRole('checkbox', { name: 'Ralenti' })).toBeVisible();
    await expect(page.getByRole('link', { name: "Console d'administration" })).toBeVisible();
    await expect(page.getByRole('log')).toContainText('Vérification de la prise en charge : service worker, Push API et Notification API présents');

    // None of the English left.
    for (const name of ['Enable notifications', 'Send test notification']) {
      await expect(page.getByRole('button', { name, exact: true })).toHaveCount(0);
    }
    await expect(page.getByRole('heading', { name: 'Test notification' })).toHaveCount(0);
    await expect(page.getByRole('link', { name: 'Admin console' })).toHaveCount(0);
  });
});

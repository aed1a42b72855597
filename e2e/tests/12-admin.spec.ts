import { test, expect } from '../fixtures';
import { NotificationServer } from '@pushstart/pushtest';
import { AdminPage } from '../pages/admin';

// The admin console end to end: what a person with the admin token does
// from the page, in the browser that also receives the pushes. Profile A
// shows its notifications through the test's desktop notification server, so
// that one can be clicked (see 10-notification-click.spec.ts for why);
// profile B shows them itself. The funnel's numbers come from the two
// service workers' own reports.
test('the admin console: sign in, compose with every option, send to two profiles, follow it to done, and see shown and clicked', async ({
  startKit,
  openProfile,
  browserName,
}) => {
  test.setTimeout(120_000);
  // A kit of this test's own: the counts are exactly its two subscriptions.
  const kit = await startKit();
  const server = await NotificationServer.start();
  try {
    const a = await openProfile({ kit, notifications: server });
    const b = await openProfile({ kit });
    await test.step('both profiles enable notifications', async () => {
      await a.home.enable();
      await b.home.enable();
    });

    const page = await a.context.newPage();
    const admin = new AdminPage(page, kit.url);
    const shoot = async (name: string) => {
      if (browserName === 'chromium') await admin.screenshot(name);
    };

    await test.step('a wrong token is refused at the field', async () => {
      await admin.goto();
      await admin.signIn('not-the-admin-token-0123456789');
      await expect(admin.tokenError).toContainText('wrong admin token');
      await expect(admin.tokenField).toHaveAttribute('aria-invalid', 'true');
      await expect(admin.signOutButton).toHaveCount(0);
    });

    let cookie = '';
    await test.step('the right token signs in with an HttpOnly, SameSite=Strict cookie, kept nowhere else', async () => {
      await admin.signIn(kit.adminToken);
      await expect(admin.signOutButton).toBeVisible();
      await expect(admin.tab('Compose')).toHaveAttribute('aria-selected', 'true');
      const session = (await a.context.cookies()).find((c) => c.name === 'pushstart_admin');
      expect(session, 'the session cookie').toBeTruthy();
      expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', secure: false, path: '/api/' });
      expect(session!.expires * 1000).toBeGreaterThan(Date.now());
      cookie = session!.value;
      const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
      expect(stored).not.toContain(kit.adminToken);
      expect(stored).not.toContain(cookie);
      expect(page.url()).not.toContain(kit.adminToken);
    });

    const title = `Console ${browserName} ${Date.now()}`;
    const body = 'Composed in the admin console';
    await test.step('compose with every option: the preview, the JSON and the byte count follow', async () => {
      await admin.field('Title').fill(title);
      await admin.field('Body').fill(body);
      await admin.field('Icon URL').fill('/web/icon-192.png');
      await admin.field('Badge URL').fill('/web/badge-96.png');
      await admin.field('Image URL').fill('/web/icon-512.png');
      await admin.field('Opens (data.url)').fill('/?from=console');
      await admin.field('Tag').fill('console');
      await admin.field('Renotify').check();
      await admin.field('Require interaction').check();
      await admin.field('Language').fill('en-GB');
      await admin.field('Direction').selectOption('ltr');
      await admin.field('Timestamp').fill('2026-12-24T18:00');
      await admin.field('Vibrate pattern').fill('200,100,200');
      await admin.field('Silent').check();
      // Browsers refuse a vibration pattern on a silent notification: the
      // page says so at the field before anything is sent.
      await expect(admin.fieldError('compose-vibrate')).toContainText('silent');
      await admin.field('Vibrate pattern').fill('');
      await expect(admin.fieldError('compose-vibrate')).toHaveCount(0);
      for (const [i, [name, text, url]] of [
        ['docs', 'Read the docs', '/?from=docs'],
        ['later', 'Later', ''],
      ].entries()) {
        await page.getByRole('button', { name: 'Add action', exact: true }).click();
        await admin.field(`Action ${i + 1} name`).fill(name);
        await admin.field(`Action ${i + 1} button text`).fill(text);
        await admin.field(`Action ${i + 1} icon URL`).fill('/web/badge-96.png');
        if (url) await admin.field(`Action ${i + 1} opens`).fill(url);
      }
      // Emptied first: Firefox's number input takes fill() as typing after
      // what is there.
      await admin.field('TTL (seconds)').clear();
      await admin.field('TTL (seconds)').fill('3600');
      await expect(admin.field('TTL (seconds)')).toHaveValue('3600');
      await admin.field('Urgency').selectOption('high');
      await admin.field('Topic').fill('console-e2e');
      await page.getByRole('radio', { name: 'Everyone', exact: true }).check();

      await expect(admin.preview.locator('.preview-title')).toHaveText(title);
      await expect(admin.preview.locator('.preview-body')).toHaveText(body);
      await expect(admin.preview.locator('.preview-actions button')).toHaveText(['Read the docs', 'Later']);
      await expect(admin.preview.locator('img.preview-icon')).toHaveAttribute('src', '/web/icon-192.png');

      const payload = JSON.parse((await admin.payloadJSON.textContent()) ?? '');
      // A Declarative Web Push message: its links absolute on the page's origin.
      const origin = new URL(page.url()).origin;
      expect(payload).toEqual({
        web_push: 8030,
        notification: {
          title,
          navigate: `${origin}/?from=console`,
          body,
          icon: `${origin}/web/icon-192.png`,
          badge: '/web/badge-96.png',
          image: '/web/icon-512.png',
          tag: 'console',
          renotify: true,
          requireInteraction: true,
          silent: true,
          lang: 'en-GB',
          dir: 'ltr',
          timestamp: expect.any(Number),
          actions: [
            { action: 'docs', title: 'Read the docs', navigate: `${origin}/?from=docs`, icon: '/web/badge-96.png' },
            { action: 'later', title: 'Later', navigate: `${origin}/?from=console`, icon: '/web/badge-96.png' },
          ],
        },
      });
      // The page's local time, as the browser reads the input.
      expect(payload.notification.timestamp).toBe(await page.evaluate(() => new Date('2026-12-24T18:00').getTime()));
      const bytes = Buffer.byteLength(JSON.stringify(payload));
      await expect(admin.payloadSize).toContainText(`${bytes.toLocaleString('en-US')} of 3,897 bytes`);
      await expect(admin.payloadSize).toHaveClass(/size-ok/);
      await shoot('admin-compose');
    });

    let id = '';
    await test.step('Send: the broadcast reaches done with two sent, live in the Broadcasts tab', async () => {
      await admin.sendButton.click();
      await expect(admin.tab('Broadcasts')).toHaveAttribute('aria-selected', 'true');
      const row = admin.broadcastRowByTitle(title);
      await expect(row).toHaveAttribute('data-status', 'done', { timeout: 30_000 });
      id = (await row.getAttribute('data-broadcast-id'))!;
      await expect(row.locator('td[data-count="sent"]')).toHaveText('2');
      await expect(row.locator('td[data-count="failed"]')).toHaveText('0');
      await expect(row.locator('td[data-count="pruned"]')).toHaveText('0');
    });

    await test.step('each profile shows the notification', async () => {
      await server.waitFor(title);
      const [n] = await b.home.waitForNotifications(1);
      expect(n.title).toBe(title);
    });

    await test.step('the funnel counts what both service workers reported: shown = 2', async () => {
      await admin.broadcastRow(id).getByRole('button', { name: 'Funnel' }).click();
      await expect(admin.funnel('sent')).toHaveText('2');
      await expect(admin.funnel('shown')).toHaveText('2', { timeout: 20_000 });
      await expect(admin.funnel('clicked')).toHaveText('0');
    });

    await test.step('a click on the notification counts: clicked = 1', async () => {
      const shown = await server.waitFor(title);
      const opened = a.context.waitForEvent('page');
      server.click(shown);
      await (await opened).waitForURL(`${kit.url}/?from=console`);
      await expect(admin.funnel('clicked')).toHaveText('1', { timeout: 20_000 });
      await expect(admin.funnel('ctr')).toHaveText('50%');
      // Closing it as it was clicked is not a dismissal.
      await expect(admin.funnel('closed')).toHaveText('0');
      await expect(page.locator('svg.funnel-chart')).toHaveAttribute('aria-label', /2 sent, 2 shown .*1 clicked/);
      await shoot('admin-broadcasts');
    });

    await test.step('Subscriptions: two, both through the local push service', async () => {
      await admin.open('Subscriptions');
      await expect(admin.stat('total')).toHaveText('2');
      await expect(admin.stat('service:local')).toHaveText('2');
      await expect(page.locator('tr[data-subscription-id]')).toHaveCount(2);
      await expect(page.locator('tr[data-subscription-id]').first()).not.toContainText('https://');
      await shoot('admin-subscriptions');
    });

    await test.step('Delivery log: the broadcast\'s two pushes, filtered by broadcast and outcome', async () => {
      await admin.open('Delivery log');
      await page.locator('select#filter-broadcast').selectOption(id);
      await page.locator('select#filter-outcome').selectOption('sent');
      await expect(page.locator('tr[data-delivery-id][data-outcome="sent"]')).toHaveCount(2);
      await page.locator('select#filter-outcome').selectOption('gone');
      await expect(page.locator('tr[data-delivery-id]')).toHaveCount(0);
      await page.locator('select#filter-outcome').selectOption('sent');
      await shoot('admin-deliveries');
    });

    await test.step('sign out ends the session on the server', async () => {
      await admin.signOutButton.click();
      await expect(admin.tokenField).toBeVisible();
      const replayed = await a.context.request.get(`${kit.url}/api/admin/session`, {
        headers: { Cookie: `pushstart_admin=${cookie}` },
      });
      expect(replayed.status()).toBe(401);
      await page.reload();
      await expect(admin.tokenField).toBeVisible();
    });
  } finally {
    await server.stop();
  }
});

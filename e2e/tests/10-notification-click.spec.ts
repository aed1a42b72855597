import { test, expect } from '../fixtures';
import { NotificationServer } from '@pushstart/pushtest';

// How this is exercised, and what it proves.
//
// No automation protocol can click a notification: Playwright, CDP and
// WebDriver BiDi have no such command, and a page or a test cannot fire a
// trusted notificationclick (a synthetic one may not call waitUntil, and
// clients.openWindow refuses to run without the user activation a real click
// grants). So the test does what the desktop does. On Linux both browsers
// hand notifications to the desktop's notification server over D-Bus
// (org.freedesktop.Notifications) when one is running, and learn of a click
// from its ActionInvoked signal. The test runs such a server on a private
// session bus (NotificationServer of @pushstart/pushtest), starts the browser
// on that bus, and emits ActionInvoked for the notification the push
// produced, as the desktop does when the user clicks it or one of its
// buttons.
//
// From there everything is the browser's own: its click handling, the
// service worker's notificationclick handler with a trusted event, its
// clients.openWindow() with real user activation, and the new tab. What it
// does not cover: the pixels of a popup and a mouse; and in Firefox the
// system-backend path (alerts.useSystemBackend = true) is used for this test
// only, the other tests use Firefox's built-in popups.
test('clicking a notification opens its URL; clicking an action opens the action\'s URL', async ({ openProfile }) => {
  const server = await NotificationServer.start();
  test.info().annotations.push({ type: 'how', description: 'clicked through a desktop notification server on a private D-Bus session bus' });
  try {
    const { home, context, kit } = await openProfile({ notifications: server });
    let endpoint = '';
    await test.step('enable', async () => {
      endpoint = (await home.enable()).endpoint;
    });

    const send = async (title: string) => {
      const { status, body } = await kit.api.testSend(endpoint, {
        title,
        body: 'Click me',
        tag: title,
        actions: [
          { action: 'docs', title: 'Read the docs' },
          { action: 'later', title: 'Later' },
        ],
        data: { url: '/?clicked=notification', actionUrls: { docs: '/?clicked=docs' } },
      });
      expect(status, JSON.stringify(body)).toBe(200);
      return server.waitFor(title);
    };

    await test.step('a click on the notification opens data.url', async () => {
      const shown = await send('click the body');
      // The browser shows its own "Activate" entry and one per action.
      expect(shown.actions.map((a) => a.title)).toEqual(expect.arrayContaining(['Read the docs', 'Later']));
      const opened = context.waitForEvent('page');
      server.click(shown);
      const page = await opened;
      await page.waitForURL(`${kit.url}/?clicked=notification`);
      await expect.poll(() => home.notifications().then((l) => l.length), { message: 'the notification was closed' }).toBe(0);
    });

    await test.step('a click on an action button opens that action\'s URL', async () => {
      const shown = await send('click an action');
      const key = shown.actions.find((a) => a.title === 'Read the docs')?.action;
      expect(key, `the action's key among ${JSON.stringify(shown.actions)}`).toBeTruthy();
      const opened = context.waitForEvent('page');
      server.click(shown, key);
      const page = await opened;
      await page.waitForURL(`${kit.url}/?clicked=docs`);
    });
  } finally {
    await server.stop();
  }
});

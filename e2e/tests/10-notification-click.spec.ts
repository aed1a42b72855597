import { test, expect } from '../fixtures';
import { NotificationServer } from '@pushstart/pushtest';
import { vapidKeyPair } from '../lib/kit.mjs';
import { PayloadSender } from '../lib/webpush';

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

// The worker reads both payload shapes: the Declarative Web Push one the
// server sends (pushed here as written by hand, so that the test pins the
// shape rather than the server's making of it) and the kit's earlier one. A
// sender of the test's own pushes them (lib/webpush.ts) with the keys of a
// kit started for the test, through the shared push service, to the
// subscription the kit's page made.
test('a Declarative Web Push payload and the earlier payload are shown as sent; a click opens their page', async ({ openProfile, startKit }) => {
  const keys = vapidKeyPair();
  const kit = await startKit({ env: { VAPID_PUBLIC_KEY: keys.publicKey, VAPID_PRIVATE_KEY: keys.privateKey } });
  const server = await NotificationServer.start();
  try {
    const { home, context } = await openProfile({ kit, notifications: server });
    const sub = await home.enable();
    const sender = new PayloadSender(keys);

    /** Pushes payload, waits for its notification and returns what the page and the desktop see of it. */
    const push = async (payload: unknown, title: string) => {
      expect(await sender.send(kit.push, sub, payload), 'the push service took the message').toBe(201);
      // The desktop first, then the page: asked while the desktop had not
      // yet shown a notification, Chromium's getNotifications() was seen
      // to leave it out for good (shown on the desktop, never listed).
      const shown = await server.waitFor(title);
      const [seen] = await home.waitForNotifications(1);
      return { seen, shown };
    };
    /** Clicks the notification (or one of its buttons) and waits for the page it opens. */
    const click = async (shown: Awaited<ReturnType<typeof push>>['shown'], url: string, button?: string) => {
      const key = button === undefined ? undefined : shown.actions.find((a) => a.title === button)?.action;
      if (button !== undefined) expect(key, `the action's key among ${JSON.stringify(shown.actions)}`).toBeTruthy();
      const opened = context.waitForEvent('page');
      server.click(shown, key);
      const page = await opened;
      await page.waitForURL(url);
      // Each page the click opens runs the whole app: closed, it leaves
      // the next push the machine to itself.
      await page.close();
      await expect.poll(() => home.notifications().then((l) => l.length), { message: 'the notification was closed' }).toBe(0);
    };
    const declarative = (title: string) => ({
      web_push: 8030,
      notification: {
        title,
        navigate: `${kit.url}/?clicked=declarative`,
        body: 'Shown by the worker from payload.notification',
        tag: title,
        actions: [{ action: 'docs', title: 'Read the docs', navigate: `${kit.url}/?clicked=declarative-docs` }],
        data: { order: 4711 },
        // Set where the browser has an app badge (Chromium), ignored where
        // it has none (Firefox): the notification shows either way.
        app_badge: 3,
      },
    });

    await test.step('Declarative Web Push: shown from "notification"; a click on it opens its navigate', async () => {
      const { seen, shown } = await push(declarative('declarative body'), 'declarative body');
      expect(seen).toMatchObject({ title: 'declarative body', body: 'Shown by the worker from payload.notification', tag: 'declarative body' });
      expect(seen.actions?.map(({ action, title }) => ({ action, title }))).toEqual([{ action: 'docs', title: 'Read the docs' }]);
      // The page finds the payload's data in the worker's envelope, beside
      // what a click needs.
      expect(seen.data).toEqual({
        envelope: 'pushstart-message',
        messageId: '',
        data: { order: 4711 },
        navigate: `${kit.url}/?clicked=declarative`,
        actionNavigate: { docs: `${kit.url}/?clicked=declarative-docs` },
      });
      await click(shown, `${kit.url}/?clicked=declarative`);
    });

    await test.step('Declarative Web Push: a click on an action opens the action\'s navigate', async () => {
      const { shown } = await push(declarative('declarative action'), 'declarative action');
      await click(shown, `${kit.url}/?clicked=declarative-docs`, 'Read the docs');
    });

    await test.step('the earlier payload: shown from the top level; a click opens data.url', async () => {
      const data = { url: '/?clicked=earlier', order: 4712 };
      const { seen, shown } = await push({ title: 'earlier', body: 'The kit\'s earlier shape', tag: 'earlier', data }, 'earlier');
      expect(seen).toMatchObject({ title: 'earlier', body: 'The kit\'s earlier shape', tag: 'earlier' });
      // Without a messageId, the page finds the payload's data as it was.
      expect(seen.data).toEqual(data);
      await click(shown, `${kit.url}/?clicked=earlier`);
    });
  } finally {
    await server.stop();
  }
});

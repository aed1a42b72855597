import { test as base, expect } from '@playwright/test';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { launchBrowser, NotificationServer, PushService, type LaunchedBrowser } from '@pushstart/pushtest';

// The whole push flow of an app that knows nothing of the test, in a real
// browser: the page subscribes at pushstart's local push service (the
// browser is pointed at it as it would be at FCM or Mozilla's), the app's
// server sends with web-push (through the service's proxy and CA, as it
// would to the real push service), the browser decrypts and shows the
// notification on a desktop notification server of the test's, and the
// test clicks it there.

/** The app under test: server.js, started on a free port; token is its PUSH_TOKEN. */
type App = { url: string; token: string; output(): string; stop(): Promise<void> };

const appDir = fileURLToPath(new URL('..', import.meta.url));

/** Starts server.js with env and a PUSH_TOKEN of its own, and waits for its "listening on" line. */
async function startApp(env: Record<string, string>): Promise<App> {
  const token = randomBytes(18).toString('base64url');
  const child = spawn(process.execPath, ['server.js'], {
    cwd: appDir,
    env: { ...process.env, ...env, PUSH_TOKEN: token },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk) => (output += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server.js did not start within 10 s:\n${output}`)), 10_000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const listening = /listening on (http:\S+)/.exec(output);
      if (listening) {
        clearTimeout(timer);
        resolve(listening[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server.js exited with code ${code}:\n${output}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url,
    token,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

const test = base.extend<
  { notifications: NotificationServer; launched: LaunchedBrowser },
  { service: PushService; app: App }
>({
  // One push service and one app per worker (each project has its own).
  service: [
    async ({}, use) => {
      const service = await PushService.start({ binary: process.env.PUSHSTART_BIN });
      await use(service);
      await service.stop();
    },
    { scope: 'worker' },
  ],
  app: [
    async ({ service }, use) => {
      // The sender's environment from the service: NODE_EXTRA_CA_CERTS to
      // trust its certificate, HTTPS_PROXY to reach Chromium's
      // fcm.googleapis.com endpoints through it. Firefox's endpoints are on
      // the service's own host:port, which the app must be told to allow.
      const app = await startApp({ ...service.sender.env, PUSH_ALLOWED_HOSTS: new URL(service.url).host, PORT: '0' });
      await use(app);
      await app.stop();
    },
    { scope: 'worker' },
  ],
  notifications: async ({}, use) => {
    const notifications = await NotificationServer.start();
    await use(notifications);
    await notifications.stop();
  },
  launched: async ({ playwright, browserName, service, app, notifications }, use, testInfo) => {
    const launched = await launchBrowser(playwright[browserName], service, {
      headless: !process.env.E2E_HEADED,
      grant: [app.url],
      notifications,
    });
    await use(launched);
    await launched.close();
    if (testInfo.status !== testInfo.expectedStatus) {
      await testInfo.attach('app-output.txt', { body: app.output(), contentType: 'text/plain' });
      const events = await service.events().catch((e) => `events unavailable: ${e}`);
      await testInfo.attach('push-events.json', { body: JSON.stringify(events, null, 1), contentType: 'application/json' });
    }
  },
});

test('subscribe, push, the notification shown, a click opens its URL, a 410 prunes the subscription', async ({
  launched,
  app,
  service,
  notifications,
  request,
}) => {
  const page = launched.context.pages()[0] ?? (await launched.context.newPage());
  await page.goto(app.url);
  const count = async () => (await (await request.get(`${app.url}/subscriptions/count`)).json()).count;
  const push = async (message: { title: string; body: string; url: string }) => {
    const res = await request.post(`${app.url}/push`, { data: message, headers: { Authorization: `Bearer ${app.token}` } });
    expect(res.status(), await res.text()).toBe(200);
    return (await res.json()).results;
  };

  let endpoint = '';
  await test.step('subscribe', async () => {
    await page.getByRole('button', { name: 'Enable notifications' }).click();
    await expect(page.getByRole('status')).toHaveText('Subscribed.');
    endpoint = await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      return (await registration.pushManager.getSubscription())?.endpoint ?? '';
    });
    expect(endpoint).toMatch(/^https?:\/\//);
    expect(await count()).toBe(1);
  });

  const title = 'Your order has shipped';
  let since = await service.lastSeq();
  await test.step('push: the app sends with web-push, the push service accepts it', async () => {
    const results = await push({ title, body: 'It arrives on Tuesday.', url: '/?from=notification' });
    expect(results).toEqual([expect.objectContaining({ status: 201, outcome: 'sent' })]);
  });

  const shown = await test.step('the browser shows the notification', async () => {
    await service.waitForDelivery(endpoint, { since });
    const shown = await notifications.waitFor(title);
    // Chromium puts the site's host:port above the body it hands the desktop.
    expect(shown.body).toContain('It arrives on Tuesday.');
    return shown;
  });

  await test.step('a click opens the notification\'s URL', async () => {
    const opened = launched.context.waitForEvent('page');
    notifications.click(shown);
    const tab = await opened;
    await tab.waitForURL(`${app.url}/?from=notification`);
    await expect(tab.getByText('Opened from a notification.')).toBeVisible();
  });

  await test.step('a 410 from the push service: the app deletes the subscription', async () => {
    await service.fault(endpoint, '410');
    since = await service.lastSeq();
    const results = await push({ title: 'Never shown', body: '', url: '/' });
    expect(results).toEqual([expect.objectContaining({ status: 410, outcome: 'deleted' })]);
    expect(await service.pushStatuses(endpoint, since)).toEqual([410]);
    expect(await count()).toBe(0);
  });
});

/** A PushSubscription's keys of the right sizes, so that only the endpoint is in question. */
const keys = { p256dh: Buffer.alloc(65, 4).toString('base64url'), auth: Buffer.alloc(16, 1).toString('base64url') };

test('a subscription whose endpoint is not a push service, or is one spelled to slip past the check, is refused', async ({
  app,
  request,
}) => {
  const count = async () => (await (await request.get(`${app.url}/subscriptions/count`)).json()).count;
  const before = await count();
  for (const [endpoint, why] of [
    ['https://169.254.169.254/latest/meta-data', 'not a push service'],
    ['https://user:secret@fcm.googleapis.com/fcm/send/t1', 'credentials'],
    ['https://fcm.googleapis.com:8443/fcm/send/t1', 'default port'],
    ['https://fcm.googleapis.com:443/fcm/send/t1', 'canonical'],
    ['https://fcm.googleapis.com./fcm/send/t1', 'not a push service'],
    ['https://FCM.googleapis.com/fcm/send/t1', 'canonical'],
    ['http://fcm.googleapis.com/fcm/send/t1', 'https'],
    ['https://fcm.googleapis.com.evil.example/fcm/send/t1', 'not a push service'],
    ['https://evilpush.apple.com/3/device/t1', 'not a push service'],
    ['https://evil.example\\@fcm.googleapis.com/fcm/send/t1', 'canonical'],
  ]) {
    const res = await request.post(`${app.url}/subscriptions`, { data: { endpoint, keys } });
    expect(res.status(), endpoint).toBe(400);
    expect(await res.json(), endpoint).toEqual({ error: expect.stringContaining(why), field: 'endpoint' });
  }
  expect(await count()).toBe(before);
});

test('POST /push: only with the bearer token, and a url that leaves the site is refused, naming url', async ({ app, request }) => {
  const push = (data: object, token = app.token) =>
    request.post(`${app.url}/push`, { data, headers: token ? { Authorization: `Bearer ${token}` } : {} });
  for (const token of ['', 'wrong', `${app.token}x`]) {
    const res = await push({ title: 'Hi', url: '/' }, token);
    expect(res.status(), `token ${JSON.stringify(token)}`).toBe(401);
    expect((await res.json()).error).toContain('Bearer');
  }
  // The URL parser drops tabs and newlines and reads a backslash as a slash:
  // each of these is another site to a service worker's new URL(url, origin).
  for (const url of ['/\t/evil.example/phish', '/\n/evil.example/phish', '/\r/evil.example', '//evil.example',
    '/\\evil.example', '\\/evil.example', 'https://evil.example/', 'javascript:alert(1)', '/news\u0000']) {
    const res = await push({ title: 'Hi', url });
    expect(res.status(), JSON.stringify(url)).toBe(400);
    expect(await res.json(), JSON.stringify(url)).toEqual({ error: expect.stringContaining('path on this site'), field: 'url' });
  }
  expect((await push({ title: 'Hi', url: '/news?id=1#top' })).status()).toBe(200);
});

test('the subscription store is bounded: past 1000, a new endpoint is refused with 507', async ({ request }) => {
  const app = await startApp({ PORT: '0' });
  try {
    const subscribe = (i: number) =>
      request.post(`${app.url}/subscriptions`, { data: { endpoint: `https://fcm.googleapis.com/fcm/send/t${i}`, keys } });
    for (let i = 0; i < 1000; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, (_, j) => subscribe(i + j)));
      expect(batch.map((r) => r.status())).toEqual(Array(50).fill(200));
    }
    const full = await subscribe(1000);
    expect(full.status()).toBe(507);
    expect((await full.json()).error).toContain('subscription store is full');
    // One already stored may still be renewed (a browser posts it again on each visit).
    expect((await subscribe(7)).status()).toBe(200);
    expect((await (await request.get(`${app.url}/subscriptions/count`)).json()).count).toBe(1000);
  } finally {
    await app.stop();
  }
});

import { test as base, expect } from '@playwright/test';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { launchBrowser, NotificationServer, PushService, type LaunchedBrowser } from '@pushstart/pushtest';

// The whole push flow of an app that knows nothing of the test, in a real
// browser: the page subscribes at pushstart's local push service (the
// browser is pointed at it as it would be at FCM or Mozilla's), the app's
// server sends with web-push (through the service's proxy and CA, as it
// would to the real push service), the browser decrypts and shows the
// notification on a desktop notification server of the test's, and the
// test clicks it there.

/** The app under test: server.js, started on a free port. */
type App = { url: string; output(): string; stop(): Promise<void> };

const appDir = fileURLToPath(new URL('..', import.meta.url));

/** Starts server.js with env and waits for its "listening on" line. */
async function startApp(env: Record<string, string>): Promise<App> {
  const child = spawn(process.execPath, ['server.js'], {
    cwd: appDir,
    env: { ...process.env, ...env },
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
    const res = await request.post(`${app.url}/push`, { data: message });
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

test('a subscription whose endpoint is not a push service is refused, naming the field', async ({ app, request }) => {
  const count = async () => (await (await request.get(`${app.url}/subscriptions/count`)).json()).count;
  const before = await count();
  const res = await request.post(`${app.url}/subscriptions`, {
    data: { endpoint: 'https://169.254.169.254/latest/meta-data', keys: { p256dh: 'x', auth: 'y' } },
  });
  expect(res.status()).toBe(400);
  expect(await res.json()).toEqual({ error: expect.stringContaining('not a push service'), field: 'endpoint' });
  expect(await count()).toBe(before);
});

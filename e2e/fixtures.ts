// Fixtures of the end-to-end suite: the kit under test, browser profiles
// already pointed at its local push service, and its page.
//
// Every browser here is launched by the fixtures rather than by Playwright's
// default `browser`/`context`/`page` fixtures, because each one needs the
// local push service's settings, which are known only once the kit runs:
//   - Chromium: a persistent context per profile (the Push API is refused in
//     the incognito contexts browser.newContext() makes), with the GCM
//     switches of GET /api/local-push.
//   - Firefox: Debian's Firefox ESR over WebDriver BiDi with the push prefs.
//     On the shared kit, one Firefox per worker and a new context (its own
//     storage, permissions and subscriptions) per profile, because starting
//     Firefox is most of a test's time on a small machine; a Firefox of its
//     own where a test needs other prefs or another kit.
//     E2E_FIREFOX_PER_PROFILE=1 starts a Firefox for every profile.
// E2E_HEADED=1 shows the windows.
import {
  test as base,
  expect,
  chromium,
  firefox,
  type APIRequestContext,
  type Browser,
  type BrowserContext,
  type CDPSession,
  type Page,
  type TestInfo,
} from '@playwright/test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { browsers, chromiumBaseArgs, fetchBrowserConfig, startKit as spawnKit } from './lib/kit.mjs';
import { KitAPI, LocalPush, type BrowserConfig } from './lib/api';
import { HomePage } from './pages/home';

export { expect };
export type { BrowserConfig };

/** A running kit server: its URL, admin token, API and local push service. */
export type Kit = {
  url: string;
  adminToken: string;
  browserConfig: BrowserConfig;
  api: KitAPI;
  push: LocalPush;
};

/** A kit this test started (see the startKit fixture); it can be stopped. */
export type OwnKit = Kit & {
  port: number;
  dataDir: string;
  stop(): Promise<void>;
  output(): string;
};

/** The notification permission a profile starts with. */
export type Permission = 'default' | 'granted' | 'denied';

/** One independent browser profile with the kit's page open. */
export type Profile = {
  browserName: 'chromium' | 'firefox';
  context: BrowserContext;
  page: Page;
  home: HomePage;
  kit: Kit;
  close(): Promise<void>;
};

export type ProfileOptions = {
  /** The kit whose page is opened and whose local push service the browser uses; the shared one by default. */
  kit?: Kit;
  /** 'granted' by default. */
  permission?: Permission;
  /** Opens the page (default true). */
  open?: boolean;
  /**
   * Shows notifications through this desktop notification server (see
   * lib/notification-daemon.mjs) instead of the browser's built-in popups,
   * so that a test can click them.
   */
  notificationDaemon?: { address: string };
};

type WorkerFixtures = {
  sharedKitInfo: { url: string; adminToken: string; browserConfig: BrowserConfig };
  /** One Firefox per worker for the shared kit, launched on first use. */
  sharedFirefox: () => Promise<Browser>;
};

type TestFixtures = {
  /** The kit started by the config's webServer, shared by all tests. */
  kit: Kit;
  /** Starts a fresh browser profile (stopped after the test). */
  openProfile: (opts?: ProfileOptions) => Promise<Profile>;
  /** A profile on the shared kit with notifications granted and the page open. */
  profile: Profile;
  /** The home page of `profile`. */
  home: HomePage;
  /** Starts a kit of the test's own (stopped after the test). */
  startKit: (opts?: { port?: number; dataDir?: string; env?: Record<string, string> }) => Promise<OwnKit>;
};

const headless = !process.env.E2E_HEADED;

// A session bus address that leads nowhere: without a notification server of
// the test's, the browsers show notifications themselves, the same on every
// machine (never on a developer's desktop).
const NO_BUS = 'unix:path=/nonexistent/no-session-bus';

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Collects console output of a context's pages, attached to the report when a test fails. */
function recordConsole(context: BrowserContext, label: string, log: string[]) {
  const watch = (page: Page) => {
    page.on('console', (m) => log.push(`[${label} ${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => log.push(`[${label} pageerror] ${e.message}`));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
}

async function launchProfile(
  browserName: 'chromium' | 'firefox',
  kit: Kit,
  opts: ProfileOptions,
  log: string[],
  label: string,
  sharedFirefox: (() => Promise<Browser>) | null,
): Promise<Omit<Profile, 'home' | 'kit'> & { settle?: HomePage['settle'] }> {
  const cfg = kit.browserConfig;
  const permission = opts.permission ?? 'granted';
  const env: Record<string, string> = { ...(process.env as Record<string, string>), DBUS_SESSION_BUS_ADDRESS: NO_BUS };
  if (opts.notificationDaemon) env.DBUS_SESSION_BUS_ADDRESS = opts.notificationDaemon.address;
  if (browserName === 'chromium') {
    // A persistent context: Chromium refuses the Push API in incognito
    // contexts, which is what browser.newContext() makes.
    const userDataDir = tempDir('pushstart-chromium-');
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: browsers.chromium.executablePath,
      headless,
      env,
      args: [...chromiumBaseArgs(), ...cfg.chromiumArgs],
    });
    recordConsole(context, label, log);
    const page = context.pages()[0] ?? (await context.newPage());
    // One DevTools session for the profile's life: Chromium drops the
    // permission overrides and stops the background-service log of a session
    // that detaches.
    const cdp = await context.newCDPSession(page);
    if (permission === 'granted') {
      await context.grantPermissions(['notifications'], { origin: kit.url });
    } else if (permission === 'denied') {
      // What "Block" in the site's settings does.
      await cdp.send('Browser.setPermission', {
        permission: { name: 'notifications' },
        setting: 'denied',
        origin: kit.url,
      });
    }
    const settle = await watchPushEvents(cdp, log, label);
    return {
      browserName,
      context,
      page,
      settle,
      close: async () => {
        await context.close().catch(() => {});
        fs.rmSync(userDataDir, { recursive: true, force: true });
      },
    };
  }
  if (sharedFirefox && permission !== 'denied' && !opts.notificationDaemon) {
    // A new context of the worker's Firefox: a container with storage,
    // permissions and push subscriptions of its own. Launching Firefox is
    // most of a test's time on a small machine.
    const context = await (await sharedFirefox()).newContext();
    recordConsole(context, label, log);
    if (permission === 'granted') await context.grantPermissions(['notifications'], { origin: kit.url });
    const page = await context.newPage();
    return { browserName, context, page, close: () => context.close().catch(() => {}) };
  }
  // Otherwise a Firefox of its own (its own temporary profile directory, its
  // own connection to the push service).
  const browser = await firefox.launch({
    channel: 'moz-firefox',
    executablePath: browsers.firefox.executablePath,
    headless,
    env,
    firefoxUserPrefs: {
      ...cfg.firefoxPrefs,
      // Through the desktop's notification server when the test has one.
      ...(opts.notificationDaemon ? { 'alerts.useSystemBackend': true } : {}),
      // "Block new requests asking to allow notifications": Playwright can
      // grant a permission in Firefox but not deny one.
      ...(permission === 'denied' ? { 'permissions.default.desktop-notification': 2 } : {}),
    },
  });
  const context = await browser.newContext();
  recordConsole(context, label, log);
  if (permission === 'granted') await context.grantPermissions(['notifications'], { origin: kit.url });
  const page = await context.newPage();
  return {
    browserName,
    context,
    page,
    close: async () => {
      await browser.close().catch(() => {});
    },
  };
}

/**
 * Chromium: follows the browser's own log of push messages and notifications
 * (DevTools' background services: "Push message received", "Push event
 * completed", "Notification displayed") and returns a settle function for
 * HomePage that waits until count notifications were displayed and every
 * dispatched push event has completed.
 *
 * Why: in Chromium, registration.getNotifications() called while a
 * notification is being shown can drop that notification from Chromium's
 * notification database: it stays on screen, but getNotifications() never
 * returns it again. Polling getNotifications() while a push arrives hits
 * that about one time in five, so Chromium tests read it only once Chromium
 * says the notification is displayed. The log is Chromium's own account; it
 * changes nothing in the flow.
 */
async function watchPushEvents(cdp: CDPSession, log: string[], label: string): Promise<HomePage['settle']> {
  const seen: Array<{ service: string; name: string; meta: string }> = [];
  cdp.on('BackgroundService.backgroundServiceEventReceived', ({ backgroundServiceEvent: e }) => {
    const meta = e.eventMetadata.map((m) => `${m.key}=${m.value}`).join(', ');
    seen.push({ service: e.service, name: e.eventName, meta });
    log.push(`[${label} ${e.service}] ${e.eventName} (${meta})`);
  });
  for (const service of ['pushMessaging', 'notifications'] as const) {
    await cdp.send('BackgroundService.startObserving', { service });
    await cdp.send('BackgroundService.setRecording', { shouldRecord: true, service });
  }
  const count = (name: string) => seen.filter((e) => e.name === name).length;
  return async (n, timeout) => {
    await expect
      .poll(() => count('Notification displayed'), { message: `Chromium displayed ${n} notification(s)`, timeout })
      .toBeGreaterThanOrEqual(n);
    await expect
      .poll(() => count('Push event completed') >= count('Push event dispatched'), {
        message: 'every push event completed',
        timeout,
      })
      .toBe(true);
  };
}

function makeKit(request: APIRequestContext, info: { url: string; adminToken: string; browserConfig: BrowserConfig }): Kit {
  return {
    ...info,
    api: new KitAPI(request, info.url, info.adminToken),
    push: new LocalPush(request, info.browserConfig.url),
  };
}

async function attachLog(testInfo: TestInfo, name: string, text: string) {
  if (text && testInfo.status !== testInfo.expectedStatus) {
    await testInfo.attach(name, { body: text, contentType: 'text/plain' });
  }
}

export const test = base.extend<TestFixtures, WorkerFixtures>({
  sharedKitInfo: [
    async ({}, use) => {
      const url = process.env.E2E_BASE_URL!;
      await use({ url, adminToken: process.env.E2E_ADMIN_TOKEN!, browserConfig: await fetchBrowserConfig(url) });
    },
    { scope: 'worker' },
  ],

  sharedFirefox: [
    async ({ sharedKitInfo }, use) => {
      const state: { launched?: Promise<Browser> } = {};
      await use(() =>
        (state.launched ??= firefox.launch({
          channel: 'moz-firefox',
          executablePath: browsers.firefox.executablePath,
          headless,
          env: { ...(process.env as Record<string, string>), DBUS_SESSION_BUS_ADDRESS: NO_BUS },
          firefoxUserPrefs: { ...sharedKitInfo.browserConfig.firefoxPrefs },
        })),
      );
      if (state.launched) await (await state.launched).close();
    },
    { scope: 'worker' },
  ],

  kit: async ({ sharedKitInfo, request }, use) => {
    await use(makeKit(request, sharedKitInfo));
  },

  openProfile: async ({ kit, browserName, sharedFirefox }, use, testInfo) => {
    const opened: Profile[] = [];
    const log: string[] = [];
    await use(async (opts = {}) => {
      const k = opts.kit ?? kit;
      const label = `${browserName}#${opened.length + 1}`;
      const shared = process.env.E2E_FIREFOX_PER_PROFILE || opts.kit ? null : sharedFirefox;
      const p = await launchProfile(browserName as 'chromium' | 'firefox', k, opts, log, label, shared);
      const { settle, ...rest } = p;
      const profile: Profile = { ...rest, kit: k, home: new HomePage(p.page, k.url) };
      if (settle) profile.home.settle = settle;
      opened.push(profile);
      if (opts.open ?? true) await profile.home.goto();
      return profile;
    });
    await attachLog(testInfo, 'browser-console.txt', log.join('\n'));
    if (testInfo.status !== testInfo.expectedStatus) {
      for (const k of new Set(opened.map((p) => p.kit))) {
        const events = await k.push.events().catch((e) => `events unavailable: ${e}`);
        await attachLog(testInfo, `push-events-${new URL(k.url).port}.json`, JSON.stringify(events, null, 1));
      }
    }
    await Promise.all(opened.map((p) => p.close()));
  },

  profile: async ({ openProfile }, use) => {
    await use(await openProfile());
  },

  home: async ({ profile }, use) => {
    await use(profile.home);
  },

  startKit: async ({ request }, use, testInfo) => {
    const started: Array<Awaited<ReturnType<typeof spawnKit>>> = [];
    const dirs = new Set<string>();
    await use(async (opts = {}) => {
      const k = await spawnKit({ ...opts, env: { LOG_LEVEL: process.env.E2E_LOG_LEVEL || 'warn', ...opts.env } });
      started.push(k);
      dirs.add(k.dataDir);
      const info = { url: k.url, adminToken: k.adminToken, browserConfig: await fetchBrowserConfig(k.url) };
      return { ...makeKit(request, info), port: k.port, dataDir: k.dataDir, stop: () => k.stop(), output: k.output };
    });
    await attachLog(testInfo, 'own-kit-output.txt', started.map((k) => k.output()).join('\n---\n'));
    await Promise.all(started.map((k) => k.stop()));
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  },
});

// Fixtures of the end-to-end suite: the kit under test, browser profiles
// already pointed at its local push service, and its page.
//
// Every browser here is launched by the fixtures, through @pushstart/pushtest,
// rather than by Playwright's default `browser`/`context`/`page` fixtures,
// because each one needs the local push service's settings, which are known
// only once the kit runs:
//   - Chromium: a persistent context (the Push API is refused in the
//     incognito contexts browser.newContext() makes), with the GCM switches
//     of GET /api/local-push. A test's first profile is a tab of one Chromium
//     per worker, whose data for every origin the test visited (service
//     workers and so push subscriptions, storage, cookies, caches) and
//     permissions are cleared when the test ends; its other profiles, and a
//     profile with the notification server or ownBrowser, a Chromium of
//     their own. The worker's Chromium stays connected to the push service,
//     as a browser left open does. A test that sets Playwright's locale
//     option (test.use({ locale: 'fr-FR' })) gets a Chromium of its own in
//     that language: a tab cannot change its browser's.
//   - Firefox: Debian's Firefox ESR over WebDriver BiDi with the push prefs.
//     One Firefox per worker and a new context (its own storage, permissions
//     and subscriptions) per profile, because starting Firefox is most of a
//     test's time on a small machine. A kit a test starts uses the shared
//     kit's local push service (PUSH_SERVICE=<its URL>), so its profiles are
//     contexts of that Firefox too. A Firefox of its own where a profile
//     needs other prefs (permission denied, the notification server), or
//     asks for one (ownBrowser), or uses a kit with a push service of its own.
// E2E_BROWSER_PER_PROFILE=1 starts a browser for every profile.
// E2E_HEADED=1 shows the windows.
import {
  test as base,
  expect,
  chromium,
  firefox,
  type APIRequestContext,
  type Browser,
  type BrowserContext,
  type Page,
  type TestInfo,
} from '@playwright/test';
import {
  launchChromium,
  launchFirefox,
  launchBrowser,
  PushService,
  watchChromiumPush,
  type BrowserConfig,
  type LaunchedBrowser,
  type NotificationServer,
} from '@pushstart/pushtest';
import fs from 'node:fs';
import { fetchBrowserConfig, startKit as spawnKit } from './lib/kit.mjs';
import { KitAPI } from './lib/api';
import { HomePage } from './pages/home';

export { expect };
export type { BrowserConfig };

/** A running kit server: its URL, admin token, API and local push service. */
export type Kit = {
  url: string;
  adminToken: string;
  browserConfig: BrowserConfig;
  api: KitAPI;
  push: PushService;
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
   * Shows notifications through this desktop notification server instead of
   * the browser's built-in popups, so that a test can click them.
   */
  notifications?: NotificationServer;
  /**
   * A browser of its own, where profiles are otherwise contexts of the
   * worker's Firefox or a tab of its Chromium: for a test whose faults hit
   * the whole browser (the reset fault drops every subscription of that
   * Firefox).
   */
  ownBrowser?: boolean;
};

type WorkerFixtures = {
  sharedKitInfo: { url: string; adminToken: string; browserConfig: BrowserConfig };
  /** One Firefox per worker for the shared kit, launched on first use. */
  sharedFirefox: () => Promise<Browser>;
  /** One Chromium per worker for the shared kit, launched on first use. */
  sharedChromium: () => Promise<BrowserContext>;
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
  /**
   * Starts a kit of the test's own (stopped after the test). It uses the
   * shared kit's local push service unless pushService says otherwise
   * ('local': one inside the kit).
   */
  startKit: (opts?: { port?: number; dataDir?: string; pushService?: string; env?: Record<string, string> }) => Promise<OwnKit>;
};

const headless = !process.env.E2E_HEADED;

/**
 * Collects console output of a context's pages, attached to the report when
 * a test fails, from the pages open now (or only `pages`) and those opened
 * until the returned function is called.
 */
function recordConsole(context: BrowserContext, label: string, log: string[], pages = context.pages()) {
  const watch = (page: Page) => {
    page.on('console', (m) => log.push(`[${label} ${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => log.push(`[${label} pageerror] ${e.message}`));
  };
  pages.forEach(watch);
  context.on('page', watch);
  return () => context.off('page', watch);
}

/**
 * A test's profile as a tab of the worker's Chromium (see the file's
 * comment): close() closes the pages the test opened in it and clears the
 * data and permissions of every origin they visited, so that the next test
 * starts as in a new profile.
 */
async function chromiumTab(context: BrowserContext, perms: { grant: string[]; deny: string[] }): Promise<LaunchedBrowser & { page: Page }> {
  const keeper = context.pages()[0];
  const cdp = await context.newCDPSession(keeper);
  // Chromium's log of push messages and notifications is replayed to a new
  // observer: this test's starts empty.
  for (const service of ['pushMessaging', 'notifications'] as const) await cdp.send('BackgroundService.clearEvents', { service });
  const pages = new Set<Page>();
  const origins = new Set<string>([...perms.grant, ...perms.deny]);
  const track = (p: Page) => {
    pages.add(p);
    p.on('framenavigated', (f) => {
      if (f === p.mainFrame() && f.url().startsWith('http')) origins.add(new URL(f.url()).origin);
    });
  };
  context.on('page', track);
  const page = await context.newPage();
  for (const origin of perms.grant) await context.grantPermissions(['notifications'], { origin });
  if (perms.deny.length) {
    // What "Block" in the site's settings does, for this tab's session: the
    // override ends when the session does, at the page's close.
    const session = await context.newCDPSession(page);
    for (const origin of perms.deny) {
      await session.send('Browser.setPermission', { permission: { name: 'notifications' }, setting: 'denied', origin });
    }
  }
  const close = async () => {
    context.off('page', track);
    // Every page but the one CDP runs on, also one the worker opened late.
    await Promise.all(context.pages().filter((p) => p !== keeper).map((p) => p.close().catch(() => {})));
    try {
      for (const origin of origins) await cdp.send('Storage.clearDataForOrigin', { origin, storageTypes: 'all' });
      for (const service of ['pushMessaging', 'notifications'] as const) await cdp.send('BackgroundService.clearEvents', { service });
      await context.clearPermissions();
    } finally {
      await cdp.detach().catch(() => {});
    }
  };
  return { browserName: 'chromium', context, page, close };
}

async function launchProfile(
  browserName: 'chromium' | 'firefox',
  kit: Kit,
  opts: ProfileOptions,
  log: string[],
  label: string,
  sharedFirefox: (() => Promise<Browser>) | null,
  sharedChromium: (() => Promise<BrowserContext>) | null,
  locale: string | undefined,
): Promise<Omit<Profile, 'home' | 'kit'> & { settle?: HomePage['settle'] }> {
  const permission = opts.permission ?? 'granted';
  // The browser's language (navigator.languages, Accept-Language).
  const contextOptions = locale ? { locale } : undefined;
  const perms = {
    grant: permission === 'granted' ? [kit.url] : [],
    deny: permission === 'denied' ? [kit.url] : [],
  };
  let launched: LaunchedBrowser;
  let page: Page | undefined;
  if (browserName === 'chromium' && sharedChromium && !opts.notifications && !opts.ownBrowser) {
    // A tab of the worker's Chromium, cleaned after the test.
    ({ page, ...launched } = await chromiumTab(await sharedChromium(), perms));
  } else if (browserName === 'firefox' && sharedFirefox && permission !== 'denied' && !opts.notifications && !opts.ownBrowser) {
    // A new context of the worker's Firefox: a container with storage,
    // permissions and push subscriptions of its own. Launching Firefox is
    // most of a test's time on a small machine.
    launched = await launchFirefox(firefox, { browser: kit.browserConfig }, { browser: await sharedFirefox(), grant: perms.grant, contextOptions });
  } else {
    // Otherwise a browser of its own: Chromium's persistent context, or a
    // Firefox with its own temporary profile and connection to the push
    // service.
    launched = await launchBrowser(browserName === 'chromium' ? chromium : firefox, { browser: kit.browserConfig }, {
      headless,
      ...perms,
      notifications: opts.notifications,
      contextOptions,
    });
  }
  const { context } = launched;
  page ??= context.pages()[0] ?? (await context.newPage());
  const stopRecording = recordConsole(context, label, log, [page]);
  const close = async () => {
    stopRecording();
    await launched.close();
  };
  if (browserName === 'firefox') return { browserName, context, page, close };
  // Chromium says when it has displayed a notification; see watchChromiumPush.
  const watch = await watchChromiumPush(context, page, {
    onEvent: (e) => log.push(`[${label} ${e.service}] ${e.name} (${Object.entries(e.meta).map(([k, v]) => `${k}=${v}`).join(', ')})`),
  });
  return { browserName, context, page, close, settle: (n, timeout) => watch.settle(n, { timeout }) };
}

async function makeKit(request: APIRequestContext, info: { url: string; adminToken: string; browserConfig: BrowserConfig }): Promise<Kit> {
  return {
    ...info,
    api: new KitAPI(request, info.url, info.adminToken),
    push: await PushService.connect(info.browserConfig.url),
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
      const state: { launched?: Promise<LaunchedBrowser> } = {};
      await use(async () => (await (state.launched ??= launchFirefox(firefox, { browser: sharedKitInfo.browserConfig }, { headless }))).browser!);
      if (state.launched) await (await state.launched).close();
    },
    { scope: 'worker' },
  ],

  sharedChromium: [
    async ({ sharedKitInfo }, use) => {
      const state: { launched?: Promise<LaunchedBrowser> } = {};
      await use(async () => (await (state.launched ??= launchChromium(chromium, { browser: sharedKitInfo.browserConfig }, { headless }))).context);
      if (state.launched) await (await state.launched).close();
    },
    { scope: 'worker' },
  ],

  kit: async ({ sharedKitInfo, request }, use) => {
    await use(await makeKit(request, sharedKitInfo));
  },

  openProfile: async ({ kit, browserName, sharedFirefox, sharedChromium, locale }, use, testInfo) => {
    const opened: Profile[] = [];
    const log: string[] = [];
    // The profiles of a kit with a push service of its own share one Firefox
    // pointed at it, each in a context of its own, as those of kits on the
    // shared kit's push service share the worker's.
    const kitFirefox = new Map<string, Promise<LaunchedBrowser>>();
    let chromiumTaken = false;
    const firefoxOf = (k: Kit) => async () => {
      const url = k.browserConfig.url;
      if (!kitFirefox.has(url)) kitFirefox.set(url, launchFirefox(firefox, { browser: k.browserConfig }, { headless }));
      return (await kitFirefox.get(url)!).browser!;
    };
    await use(async (opts = {}) => {
      const k = opts.kit ?? kit;
      const label = `${browserName}#${opened.length + 1}`;
      const perProfile = !!process.env.E2E_BROWSER_PER_PROFILE;
      const sharedService = k.browserConfig.url === kit.browserConfig.url;
      const firefoxShared = perProfile ? null : sharedService ? sharedFirefox : firefoxOf(k);
      // One tab of the worker's Chromium per test: a test's other profiles
      // must be independent of its first. A profile that meets the
      // permission prompt gets a Chromium of its own: headless Chromium
      // dismisses the prompt, and dismissals add up per origin in a
      // profile (Chromium then blocks the prompt for a while).
      const tab =
        browserName === 'chromium' &&
        !perProfile &&
        sharedService &&
        !chromiumTaken &&
        !opts.notifications &&
        !opts.ownBrowser &&
        !locale &&
        (opts.permission ?? 'granted') !== 'default';
      if (tab) chromiumTaken = true;
      const p = await launchProfile(browserName as 'chromium' | 'firefox', k, opts, log, label, firefoxShared, tab ? sharedChromium : null, locale);
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
    // Every profile and browser is closed even when one close fails.
    const closed = await Promise.allSettled([
      ...opened.map((p) => p.close()),
      ...[...kitFirefox.values()].map(async (l) => (await l).close()),
    ]);
    for (const r of closed) if (r.status === 'rejected') throw r.reason;
  },

  profile: async ({ openProfile }, use) => {
    await use(await openProfile());
  },

  home: async ({ profile }, use) => {
    await use(profile.home);
  },

  startKit: async ({ request, sharedKitInfo }, use, testInfo) => {
    const started: Array<Awaited<ReturnType<typeof spawnKit>>> = [];
    const dirs = new Set<string>();
    await use(async (opts = {}) => {
      const k = await spawnKit({
        ...opts,
        pushService: opts.pushService ?? sharedKitInfo.browserConfig.url,
        env: { LOG_LEVEL: process.env.E2E_LOG_LEVEL || 'warn', ...opts.env },
      });
      started.push(k);
      dirs.add(k.dataDir);
      const info = { url: k.url, adminToken: k.adminToken, browserConfig: await fetchBrowserConfig(k.url) };
      return { ...(await makeKit(request, info)), port: k.port, dataDir: k.dataDir, stop: () => k.stop(), output: k.output };
    });
    await attachLog(testInfo, 'own-kit-output.txt', started.map((k) => k.output()).join('\n---\n'));
    await Promise.all(started.map((k) => k.stop()));
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  },
});

// Launching Chromium and Firefox pointed at a local push service, with the
// notification permission set per origin and notifications shown where a
// test can read and click them.
//
// Playwright is the caller's: it passes its `chromium` / `firefox` objects
// in, and this file imports only Playwright's types, so that a test never
// loads a second copy of Playwright.

import type {
  Browser,
  BrowserContext,
  BrowserContextOptions,
  BrowserType,
  CDPSession,
  LaunchOptions as PlaywrightLaunchOptions,
  Page,
} from '@playwright/test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NotificationServer } from './notifications.js';
import type { BrowserConfig } from './service.js';
import { executablePath } from './system.js';

/** How launchChromium, launchFirefox and launchBrowser start a browser. */
export type LaunchOptions = {
  /** Default true; false shows the window. */
  headless?: boolean;
  /** Default: CHROMIUM_PATH or /usr/bin/chromium; FIREFOX_PATH or /usr/lib/firefox-esr/firefox-esr. */
  executablePath?: string;
  /** Origins granted the notifications permission (e.g. the app's 'http://127.0.0.1:3000'). */
  grant?: string[];
  /**
   * Origins denied it. Chromium: per origin, as "Block" in the site's
   * settings. Firefox: the pref permissions.default.desktop-notification=2,
   * so every origin not granted is denied.
   */
  deny?: string[];
  /**
   * Shows notifications through this desktop notification server, where a
   * test reads and clicks them. Default: none, and the browser shows its own
   * popups (it is given a D-Bus address that leads nowhere, so never a
   * developer's desktop).
   */
  notifications?: NotificationServer;
  /** Extra Chromium switches. */
  args?: string[];
  /** Extra Firefox prefs (over the service's). */
  prefs?: Record<string, string | number | boolean>;
  /** Extra environment for the browser, over the process's own. */
  env?: Record<string, string>;
  /**
   * Firefox only: a Firefox launchFirefox started before (its
   * LaunchedBrowser.browser). A new context in it, with storage, permissions
   * and subscriptions of its own, is much faster than a new Firefox. Its
   * prefs, bus and executable stay the ones it started with, so deny,
   * notifications, prefs and env cannot be combined with it.
   */
  browser?: Browser;
  /** More of Playwright's launch options (e.g. handleSIGINT), under the ones above. */
  launchOptions?: PlaywrightLaunchOptions;
  /** More of Playwright's context options (e.g. viewport), under the ones above. */
  contextOptions?: BrowserContextOptions;
};

/** A browser launched pointed at the service; close() ends it and removes its temporary profile. */
export type LaunchedBrowser = {
  browserName: 'chromium' | 'firefox';
  context: BrowserContext;
  /** Firefox's browser (for LaunchOptions.browser); none for Chromium's persistent context. */
  browser?: Browser;
  close(): Promise<void>;
};

// A session bus address that leads nowhere: without a notification server of
// the test's, the browsers show notifications themselves, the same on every
// machine (never on a developer's desktop).
const NO_BUS = 'unix:path=/nonexistent/no-session-bus';

/**
 * Switches every Chromium gets on top of the service's: nothing that would
 * reach the internet, and no sandbox when running as root (Chromium refuses
 * to start otherwise).
 */
function chromiumBaseArgs(): string[] {
  const args = [
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--no-default-browser-check',
  ];
  if (process.getuid?.() === 0) args.unshift('--no-sandbox');
  return args;
}

function browserEnv(opts: LaunchOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  env.DBUS_SESSION_BUS_ADDRESS = opts.notifications?.address ?? NO_BUS;
  return { ...env, ...opts.env };
}

function checkOrigins(fn: string, field: 'grant' | 'deny', origins: string[] | undefined): string[] {
  for (const o of origins ?? []) {
    let u: URL | undefined;
    try {
      u = new URL(o);
    } catch {
      // reported below
    }
    if (!u || u.origin !== o.replace(/\/$/, '')) throw new TypeError(`${fn}: ${field} holds ${JSON.stringify(o)}, not an origin such as http://127.0.0.1:3000`);
  }
  return origins ?? [];
}

async function grantAll(context: BrowserContext, origins: string[]) {
  for (const origin of origins) await context.grantPermissions(['notifications'], { origin });
}

/**
 * Removes a Chromium profile folder. Chromium's helper processes may still
 * write into it for a moment after the context closed (a folder emptied,
 * then written to again, is ENOTEMPTY), so the removal is retried.
 */
function removeProfile(dir: string): Promise<void> {
  return fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}

/**
 * Launches Chromium pointed at the service, in a persistent context on a
 * new temporary profile (removed by close): Chromium refuses the Push API
 * in the incognito contexts browser.newContext() makes.
 *
 * @example
 * const { context, close } = await launchChromium(chromium, service, { grant: ['http://127.0.0.1:3000'] });
 */
export async function launchChromium(
  chromium: BrowserType,
  service: { browser: BrowserConfig },
  opts: LaunchOptions = {},
): Promise<LaunchedBrowser> {
  const grant = checkOrigins('launchChromium', 'grant', opts.grant);
  const deny = checkOrigins('launchChromium', 'deny', opts.deny);
  if (opts.browser) throw new TypeError('launchChromium: browser applies to Firefox only; every Chromium profile is a persistent context of its own');
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushtest-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      ...opts.launchOptions,
      ...opts.contextOptions,
      executablePath: opts.executablePath ?? executablePath('chromium'),
      headless: opts.headless ?? true,
      env: browserEnv(opts),
      args: [...chromiumBaseArgs(), ...service.browser.chromiumArgs, ...(opts.args ?? [])],
    });
  } catch (e) {
    await removeProfile(userDataDir);
    throw e;
  }
  const close = async () => {
    await context.close().catch(() => {});
    await removeProfile(userDataDir);
  };
  try {
    await grantAll(context, grant);
    if (deny.length) {
      // What "Block" in the site's settings does. The session stays
      // attached for the context's life: Chromium drops the overrides of a
      // session that detaches.
      const page = context.pages()[0] ?? (await context.newPage());
      const cdp = await context.newCDPSession(page);
      for (const origin of deny) {
        await cdp.send('Browser.setPermission', { permission: { name: 'notifications' }, setting: 'denied', origin });
      }
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { browserName: 'chromium', context, close };
}

/**
 * Launches Debian's Firefox (ESR) pointed at the service, driven over
 * WebDriver BiDi (channel 'moz-firefox'): Playwright's own Firefox build
 * has no push service support. Each Firefox gets a temporary profile of its
 * own; with opts.browser, only a new context in a Firefox launched before.
 *
 * @example
 * const { context, close } = await launchFirefox(firefox, service, { grant: ['http://127.0.0.1:3000'] });
 */
export async function launchFirefox(
  firefox: BrowserType,
  service: { browser: BrowserConfig },
  opts: LaunchOptions = {},
): Promise<LaunchedBrowser> {
  const grant = checkOrigins('launchFirefox', 'grant', opts.grant);
  const deny = checkOrigins('launchFirefox', 'deny', opts.deny);
  if (opts.args?.length) throw new TypeError('launchFirefox: args are Chromium switches; give Firefox prefs');
  if (opts.browser) {
    for (const k of ['deny', 'notifications', 'prefs', 'env', 'executablePath', 'launchOptions'] as const) {
      const v = opts[k];
      if (v !== undefined && !(Array.isArray(v) && v.length === 0)) {
        throw new TypeError(`launchFirefox: ${k} applies to a Firefox as it starts, not to a new context in opts.browser`);
      }
    }
    const browser = opts.browser;
    const context = await browser.newContext(opts.contextOptions);
    const close = () => context.close().catch(() => {});
    try {
      await grantAll(context, grant);
    } catch (e) {
      await close();
      throw e;
    }
    return { browserName: 'firefox', context, browser, close };
  }
  const browser = await firefox.launch({
    ...opts.launchOptions,
    channel: 'moz-firefox',
    executablePath: opts.executablePath ?? executablePath('firefox'),
    headless: opts.headless ?? true,
    env: browserEnv(opts),
    firefoxUserPrefs: {
      ...service.browser.firefoxPrefs,
      // Firefox uses the desktop's notification server only when told to.
      ...(opts.notifications ? { 'alerts.useSystemBackend': true } : {}),
      // "Block new requests asking to allow notifications": Playwright can
      // grant a permission in Firefox but not deny one.
      ...(deny.length ? { 'permissions.default.desktop-notification': 2 } : {}),
      ...opts.prefs,
    },
  });
  const close = () => browser.close().catch(() => {});
  try {
    const context = await browser.newContext(opts.contextOptions);
    await grantAll(context, grant);
    return { browserName: 'firefox', context, browser, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * launchChromium or launchFirefox, by browserType.name(): the one to call
 * from a test that runs in both (e.g. with Playwright's browserName).
 *
 * @example
 * test('push', async ({ playwright, browserName }) => {
 *   const b = await launchBrowser(playwright[browserName], service, { grant: [appURL] });
 * });
 */
export function launchBrowser(browserType: BrowserType, service: { browser: BrowserConfig }, opts: LaunchOptions = {}): Promise<LaunchedBrowser> {
  switch (browserType.name()) {
    case 'chromium':
      return launchChromium(browserType, service, opts);
    case 'firefox':
      return launchFirefox(browserType, service, opts);
    default:
      throw new TypeError(`launchBrowser: ${browserType.name()} cannot use the local push service; want chromium or firefox`);
  }
}

/** One entry of Chromium's own log of push messages and notifications. */
export type ChromiumPushEvent = {
  /** 'pushMessaging' or 'notifications'. */
  service: string;
  /** e.g. "Push message received", "Push event dispatched", "Push event completed", "Notification displayed". */
  name: string;
  /** The entry's details (e.g. the push event's status). */
  meta: Record<string, string>;
};

/** What watchChromiumPush returns. */
export type ChromiumPushWatch = {
  /** Chromium's entries so far, in order. */
  readonly events: ChromiumPushEvent[];
  /**
   * Waits until Chromium displayed at least count notifications since the
   * watch began and every push event it dispatched has completed. Throws
   * after timeout ms (default 15000).
   */
  settle(count: number, opts?: { timeout?: number }): Promise<void>;
};

/**
 * Follows Chromium's own log of push messages and notifications (DevTools'
 * background services: "Push message received", "Push event completed",
 * "Notification displayed") through a DevTools session on page (default:
 * the context's first page), kept for the page's life.
 *
 * Why: in Chromium, registration.getNotifications() called while a
 * notification is being shown can drop that notification from Chromium's
 * notification database: it stays on screen, but getNotifications() never
 * returns it again. Polling getNotifications() while a push arrives hits
 * that about one time in five, so read it only once settle() says Chromium
 * displayed the notification. The log is Chromium's own account; watching
 * it changes nothing in the flow.
 *
 * @example
 * const watch = await watchChromiumPush(context);
 * // … push two messages …
 * await watch.settle(2);
 * const shown = await page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).length);
 */
export async function watchChromiumPush(
  context: BrowserContext,
  page?: Page,
  opts: { onEvent?: (e: ChromiumPushEvent) => void } = {},
): Promise<ChromiumPushWatch> {
  const target = page ?? context.pages()[0] ?? (await context.newPage());
  const cdp: CDPSession = await context.newCDPSession(target);
  const events: ChromiumPushEvent[] = [];
  cdp.on('BackgroundService.backgroundServiceEventReceived', ({ backgroundServiceEvent: e }) => {
    const entry: ChromiumPushEvent = {
      service: e.service,
      name: e.eventName,
      meta: Object.fromEntries(e.eventMetadata.map((m) => [m.key, m.value])),
    };
    events.push(entry);
    opts.onEvent?.(entry);
  });
  for (const service of ['pushMessaging', 'notifications'] as const) {
    await cdp.send('BackgroundService.startObserving', { service });
    await cdp.send('BackgroundService.setRecording', { shouldRecord: true, service });
  }
  const count = (name: string) => events.filter((e) => e.name === name).length;
  return {
    events,
    async settle(n, { timeout = 15_000 } = {}) {
      const deadline = Date.now() + timeout;
      const conditions: Array<[() => string, () => boolean]> = [
        [() => `Chromium displayed ${n} notification(s) (it displayed ${count('Notification displayed')})`, () => count('Notification displayed') >= n],
        [
          () => `every push event completed (${count('Push event completed')} of ${count('Push event dispatched')})`,
          () => count('Push event completed') >= count('Push event dispatched'),
        ],
      ];
      for (const [what, ok] of conditions) {
        while (!ok()) {
          if (Date.now() >= deadline) throw new Error(`watchChromiumPush: not within ${timeout} ms: ${what()}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    },
  };
}

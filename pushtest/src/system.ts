// What push tests need of the system besides Node.js: the browsers (Debian's
// packages, never Playwright's downloads, so that tests run offline), and
// for clicking notifications dbus-daemon and, in Firefox, libnotify.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The browsers the module launches. */
export type BrowserName = 'chromium' | 'firefox';

const browsers: Record<BrowserName, { envVar: string; fallback: string; apt: string; otherwise: string }> = {
  chromium: {
    envVar: 'CHROMIUM_PATH',
    fallback: '/usr/bin/chromium',
    apt: 'chromium',
    // Playwright's own Chromium build works too.
    otherwise: 'npx playwright install chromium   (then set CHROMIUM_PATH to the path it prints)',
  },
  firefox: {
    envVar: 'FIREFOX_PATH',
    fallback: '/usr/lib/firefox-esr/firefox-esr',
    apt: 'firefox-esr',
    // Playwright drives Mozilla's own Firefox over WebDriver BiDi (channel
    // moz-firefox); Playwright's patched Firefox build does not speak it.
    otherwise: 'a Firefox from Mozilla (ESR 153 is known to work), then set FIREFOX_PATH to its firefox binary',
  },
};

/**
 * The browser executable the module launches unless told otherwise:
 * CHROMIUM_PATH or /usr/bin/chromium; FIREFOX_PATH or
 * /usr/lib/firefox-esr/firefox-esr (Debian's packages).
 */
export function executablePath(name: BrowserName): string {
  const b = browsers[name];
  if (!b) throw new Error(`executablePath: unknown browser "${name}"; want chromium or firefox`);
  return process.env[b.envVar] || b.fallback;
}

/** Whether p is an executable file. */
function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Whether a command is an executable file in one of PATH's folders. */
function onPath(command: string): boolean {
  return (process.env.PATH || '').split(path.delimiter).some((dir) => dir && isExecutable(path.join(dir, command)));
}

/**
 * Whether the dynamic linker can find a shared library: from its cache
 * (ldconfig -p), or else in the usual library folders.
 */
function hasLibrary(file: string): boolean {
  for (const ldconfig of ['/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    try {
      const out = execFileSync(ldconfig, ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      return out.split('\n').some((line) => line.trim().startsWith(file + ' '));
    } catch {
      // not this one
    }
  }
  const dirs = ['/lib', '/usr/lib', '/lib64', '/usr/lib64'];
  for (const base of ['/lib', '/usr/lib']) {
    try {
      for (const d of fs.readdirSync(base)) if (d.endsWith('-linux-gnu')) dirs.push(path.join(base, d));
    } catch {
      // no such folder
    }
  }
  return dirs.some((d) => fs.existsSync(path.join(d, file)));
}

type Dependency = {
  name: string;
  browsers: BrowserName[];
  /** Needed only to show notifications through NotificationServer. */
  notifications: boolean;
  why: () => string;
  present: () => boolean;
  apt: string;
};

const dependencies: Dependency[] = [
  ...(['chromium', 'firefox'] as const).map(
    (b): Dependency => ({
      name: b,
      browsers: [b],
      notifications: false,
      why: () => `not found at ${executablePath(b)}`,
      present: () => isExecutable(executablePath(b)),
      apt: browsers[b].apt,
    }),
  ),
  {
    name: 'dbus-daemon',
    browsers: ['chromium', 'firefox'],
    notifications: true,
    why: () => 'not on PATH; NotificationServer runs a desktop notification server on a private D-Bus bus (to click notifications)',
    present: () => onPath('dbus-daemon'),
    apt: 'dbus',
  },
  {
    name: 'libnotify.so.4',
    browsers: ['firefox'],
    notifications: true,
    why: () => 'not found; Firefox hands notifications to a desktop notification server only through libnotify, which it loads at run time',
    present: () => hasLibrary('libnotify.so.4'),
    apt: 'libnotify4',
  },
];

/**
 * One message naming everything the given browsers need that this system
 * lacks, and the command that installs it; '' when nothing is missing. With
 * notifications, also what NotificationServer needs (dbus-daemon; for
 * Firefox, libnotify). Check it before starting a browser (e.g. in
 * playwright.config.ts), so that a missing package fails at once instead
 * of as a timeout deep inside a test.
 */
export function missingSystemMessage(names: BrowserName[], opts: { notifications?: boolean } = {}): string {
  for (const n of names) {
    if (!(n in browsers)) throw new Error(`missingSystemMessage: unknown browser "${n}"; want chromium or firefox`);
  }
  const missing = dependencies.filter(
    (d) => d.browsers.some((b) => names.includes(b)) && (opts.notifications || !d.notifications) && !d.present(),
  );
  if (missing.length === 0) return '';
  const missingBrowsers = names.filter((n) => missing.some((d) => d.name === n));
  return [
    'Missing from this system:',
    ...missing.map((d) => `  ${d.name}: ${d.why()}`),
    'Install it with (Debian/Ubuntu):',
    `  sudo apt-get install --no-install-recommends ${missing.map((d) => d.apt).join(' ')}`,
    ...(missingBrowsers.length
      ? [
          'A browser can also come from elsewhere:',
          ...missingBrowsers.map((n) => `  ${n}: ${browsers[n].otherwise}`),
          `${missingBrowsers.map((n) => browsers[n].envVar).join(' / ')} point${missingBrowsers.length > 1 ? '' : 's'} the tests at a browser elsewhere.`,
        ]
      : []),
  ].join('\n');
}

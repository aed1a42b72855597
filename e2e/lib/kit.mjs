// Shared by the Playwright suite and the demo launcher: where the browsers and
// the kit's binary are, free ports, starting and stopping a kit server, and
// VAPID key pairs. Plain JavaScript so that `node demo.mjs` can use it too.

import { spawn, execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The e2e/ folder and the repository root. */
export const e2eDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const repoRoot = path.dirname(e2eDir);

/** The kit's binary, as `make build` writes it: the whole kit in one file. */
export const kitBinary = process.env.PUSHSTART_BIN || path.join(repoRoot, 'bin', 'pushstart');

/**
 * The browsers the suite drives: Debian's packages, never Playwright's own
 * downloads (the suite runs offline). CHROMIUM_PATH and FIREFOX_PATH override.
 */
export const browsers = {
  chromium: {
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    apt: 'chromium',
    envVar: 'CHROMIUM_PATH',
    // Playwright's own Chromium build works too, through CHROMIUM_PATH.
    otherwise: 'npx playwright install chromium   (then set CHROMIUM_PATH to the path it prints)',
  },
  firefox: {
    executablePath: process.env.FIREFOX_PATH || '/usr/lib/firefox-esr/firefox-esr',
    apt: 'firefox-esr',
    envVar: 'FIREFOX_PATH',
    // Playwright drives Mozilla's own Firefox over WebDriver BiDi (channel
    // moz-firefox); Playwright's patched Firefox build does not speak it.
    otherwise: 'a Firefox from Mozilla (ESR 153 is known to work), then set FIREFOX_PATH to its firefox binary',
  },
};

/** Whether path is an executable file. */
function isExecutable(p) {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Whether a command is an executable file in one of PATH's folders. */
function onPath(command) {
  return (process.env.PATH || '').split(path.delimiter).some((dir) => dir && isExecutable(path.join(dir, command)));
}

/**
 * Whether the dynamic linker can find a shared library: from its cache
 * (ldconfig -p), or else in the usual library folders.
 */
function hasLibrary(file) {
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

/**
 * What the suite needs of the system besides Node.js and the kit: a name, the
 * browsers that need it, why, how to tell it is there, and the Debian package
 * that brings it (all of them are in the Makefile's DEB_PACKAGES, which
 * `sudo make deps` installs).
 */
const systemDeps = [
  {
    name: 'chromium',
    browsers: ['chromium'],
    why: `not found at ${browsers.chromium.executablePath}`,
    present: () => isExecutable(browsers.chromium.executablePath),
    apt: browsers.chromium.apt,
  },
  {
    name: 'firefox',
    browsers: ['firefox'],
    why: `not found at ${browsers.firefox.executablePath}`,
    present: () => isExecutable(browsers.firefox.executablePath),
    apt: browsers.firefox.apt,
  },
  {
    name: 'dbus-daemon',
    browsers: ['chromium', 'firefox'],
    why: 'not on PATH; the notification click spec runs a desktop notification server on a private D-Bus bus',
    present: () => onPath('dbus-daemon'),
    apt: 'dbus',
  },
  {
    name: 'libnotify.so.4',
    browsers: ['firefox'],
    why: 'not found; Firefox hands notifications to the desktop only through libnotify, which it loads at run time (the click spec)',
    present: () => hasLibrary('libnotify.so.4'),
    apt: 'libnotify4',
  },
];

/**
 * Returns one message naming everything the given browsers (keys of
 * `browsers`) need that this system lacks, and the command that installs it;
 * '' when nothing is missing. The suite checks this before it starts a
 * browser, so a missing package fails at once instead of as a timeout deep
 * inside a spec. With browsersOnly (for the demo), only the browsers count.
 */
export function missingSystemMessage(names, { browsersOnly = false } = {}) {
  const missing = systemDeps.filter(
    (d) => d.browsers.some((b) => names.includes(b)) && (!browsersOnly || d.name in browsers) && !d.present(),
  );
  if (missing.length === 0) return '';
  const missingBrowsers = names.filter((n) => missing.some((d) => d.name === n));
  return [
    'Missing from this system:',
    ...missing.map((d) => `  ${d.name}: ${d.why}`),
    'Install it with (Debian/Ubuntu):',
    `  sudo apt-get install --no-install-recommends ${missing.map((d) => d.apt).join(' ')}`,
    'or everything the tests need at once: sudo make deps',
    ...(missingBrowsers.length
      ? [
          'A browser can also come from elsewhere:',
          ...missingBrowsers.map((n) => `  ${n}: ${browsers[n].otherwise}`),
          `${missingBrowsers.map((n) => browsers[n].envVar).join(' / ')} point${missingBrowsers.length > 1 ? '' : 's'} the suite at a browser elsewhere.`,
        ]
      : []),
    'To run one browser only: E2E_BROWSERS=chromium (or firefox) make e2e',
  ].join('\n');
}

/** Returns a message if the kit binary has not been built, else ''. */
export function missingKitMessage() {
  if (isExecutable(kitBinary)) return '';
  return `The kit is not built: ${kitBinary} is missing. Run \`make build\` in ${repoRoot} first.`;
}

/** Returns a free TCP port on 127.0.0.1 (asynchronously). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Returns n distinct free TCP ports on 127.0.0.1, all held open until all are known. */
export async function freePorts(n) {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise((resolve, reject) => {
      const s = net.createServer();
      s.on('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/**
 * Returns a free TCP port synchronously, for playwright.config.ts, which must
 * know the port before anything asynchronous can run.
 */
export function freePortSync() {
  const script =
    "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})";
  return Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim());
}

/** A random secret, base64url. */
export function randomToken() {
  return randomBytes(32).toString('base64url');
}

/**
 * A new VAPID key pair in the kit's format: base64url (no padding) of the
 * 65-byte uncompressed public point and of the 32-byte private scalar.
 */
export function vapidKeyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const jwk = privateKey.export({ format: 'jwk' });
  const pub = publicKey.export({ format: 'jwk' });
  const raw = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(pub.x, 'base64url'),
    Buffer.from(pub.y, 'base64url'),
  ]);
  return { publicKey: raw.toString('base64url'), privateKey: Buffer.from(jwk.d, 'base64url').toString('base64url') };
}

/** Waits until url answers 200, or throws after timeoutMs. */
export async function waitHealthy(url, timeoutMs = 20000, child) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`the kit exited with code ${child.exitCode} before ${url} answered`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
      last = `status ${r.status}`;
    } catch (e) {
      last = String(e?.cause?.code || e?.message || e);
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts bin/pushstart in local mode and waits for /healthz.
 *
 * opts: port (default: a free one), dataDir (default: a new temp dir),
 * adminToken (default: random), env (extra environment, e.g. VAPID keys or
 * LOCAL_PUSH_ADDR), log (a function receiving output lines; default: kept
 * in memory and shown if start-up fails).
 *
 * Returns { url, port, dataDir, adminToken, child, output(), stop() }.
 */
export async function startKit(opts = {}) {
  const port = opts.port ?? (await freePort());
  const dataDir = path.resolve(opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'pushstart-kit-')));
  const adminToken = opts.adminToken ?? randomToken();
  const addr = `127.0.0.1:${port}`;
  const env = {
    ...process.env,
    ADDR: addr,
    DATA_DIR: dataDir,
    // The page's files built into the binary, never a folder on disk.
    WEB_DIR: '',
    ...classroomLimits,
    ADMIN_TOKEN: adminToken,
    PUSH_SERVICE: 'local',
    LOCAL_PUSH_ADDR: '127.0.0.1:0',
    LOCAL_PUSH_MCS_ADDR: '127.0.0.1:0',
    ...opts.env,
  };
  // Started in its data folder, away from the checkout: it needs nothing but itself.
  const child = spawn(kitBinary, ['-push-service=local'], { cwd: dataDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  const onData = (buf) => {
    for (const line of buf.toString().split('\n')) {
      if (!line) continue;
      lines.push(line);
      opts.log?.(line);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = `http://${addr}`;
  try {
    await waitHealthy(`${url}/healthz`, 20000, child);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${e.message}\nkit output:\n${lines.join('\n')}`);
  }
  return {
    url,
    port,
    dataDir,
    adminToken,
    child,
    output: () => lines.join('\n'),
    /** Stops the kit gracefully (SIGTERM), then forcibly after 5 s. */
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/**
 * The kit's limits on anonymous clients, raised for the suite and the demo:
 * every browser there is one client address (127.0.0.1), subscribing and
 * test-sending far more often than one user would. The Go tests prove the
 * limits themselves.
 */
export const classroomLimits = {
  SUBSCRIBE_RATE: '600',
  TEST_SEND_RATE: '600',
  TEST_SEND_ENDPOINT_RATE: '120',
};

/** GET /api/local-push of a kit: the BrowserConfig of its local push service. */
export async function fetchBrowserConfig(kitURL) {
  const r = await fetch(`${kitURL}/api/local-push`);
  if (!r.ok) throw new Error(`GET ${kitURL}/api/local-push: ${r.status} ${await r.text()}`);
  const cfg = await r.json();
  for (const k of ['chromiumArgs', 'firefoxPrefs', 'url']) {
    if (!cfg[k]) throw new Error(`GET ${kitURL}/api/local-push: no ${k} in ${JSON.stringify(cfg)}`);
  }
  return cfg;
}

/**
 * Command-line switches every Chromium the suite or the demo starts gets, on
 * top of the local push service's: nothing that would reach the internet, and
 * no sandbox when running as root (Chromium refuses to start otherwise).
 */
export function chromiumBaseArgs() {
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

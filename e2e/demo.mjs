// make demo: the kit's whole Web Push flow in a visible browser, offline.
//
// Starts bin/pushstart with its local push service (-push-service=local),
// opens Chromium (default) or Firefox (BROWSER=firefox) already pointed at
// that push service with the kit's page loaded, and runs until the browser
// window is closed or Ctrl-C is pressed; then it stops the kit.
//
// Settings (environment): ADDR (default 127.0.0.1:8000; served on 127.0.0.1
// whatever host it names), DEMO_DATA_DIR (default ./data-demo in the
// repository, kept apart from `make run`'s DATA_DIR), BROWSER (chromium or
// firefox), CHROMIUM_PATH, FIREFOX_PATH.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { chromium, firefox } from '@playwright/test';
import { launchBrowser, missingSystemMessage } from '@pushstart/pushtest';
import { fetchBrowserConfig, missingKitMessage, repoRoot, startKit } from './lib/kit.mjs';

function fail(message) {
  console.error(`make demo: ${message}`);
  process.exit(1);
}

const browserName = (process.env.BROWSER || 'chromium').toLowerCase();
if (browserName !== 'chromium' && browserName !== 'firefox') fail(`BROWSER=${browserName}: want chromium or firefox`);

if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
  fail(
    [
      'no display: neither DISPLAY nor WAYLAND_DISPLAY is set, so no browser window can open.',
      'Run it from a desktop session, or on a machine without one through a virtual display:',
      '  xvfb-run make demo          (Debian: sudo apt-get install xvfb)',
      'The same flow runs headless in the test suite: make e2e',
    ].join('\n'),
  );
}

const problem = [missingSystemMessage([browserName]), missingKitMessage()].filter(Boolean).join('\n\n');
if (problem) fail(`\n${problem}`);

const addr = process.env.ADDR || '127.0.0.1:8000';
const [host, portText] = [addr.slice(0, addr.lastIndexOf(':')), addr.slice(addr.lastIndexOf(':') + 1)];
if (!/^\d+$/.test(portText)) fail(`ADDR=${addr}: want host:port`);
// The demo always serves on 127.0.0.1: a secure context for the Push API
// without HTTPS, and nothing reachable from the network.
void host;
const inUse = await new Promise((resolve) => {
  const s = net.createServer();
  s.once('error', () => resolve(true));
  s.listen(Number(portText), '127.0.0.1', () => s.close(() => resolve(false)));
});
if (inUse) fail(`ADDR=127.0.0.1:${portText} is already in use; stop what listens there or pick another, e.g. ADDR=127.0.0.1:8001 make demo`);

const dataDir = path.resolve(repoRoot, process.env.DEMO_DATA_DIR || 'data-demo');
fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });

console.log(`Starting the kit on http://127.0.0.1:${portText} (data in ${dataDir}) with its local push service…`);
let kit;
try {
  kit = await startKit({
    port: Number(portText),
    dataDir,
    // No ADMIN_TOKEN: the kit keeps (or makes) one in DATA_DIR/admin-token.
    adminToken: '',
    log: (line) => {
      if (/level=(WARN|ERROR)/.test(line)) console.log(`[kit] ${line}`);
    },
  });
} catch (e) {
  fail(`the kit did not start: ${e.message}`);
}

let launched;
let closing = false;
async function shutdown(code = 0) {
  if (closing) return;
  closing = true;
  console.log('\nStopping…');
  await launched?.close().catch(() => {});
  await kit.stop();
  process.exit(code);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => void shutdown(0));

try {
  const cfg = await fetchBrowserConfig(kit.url);
  // Chromium in a throw-away persistent profile: it has no Push API in
  // incognito contexts, and the local push service's ports change from run
  // to run, so an old profile's subscription would point nowhere.
  launched = await launchBrowser(browserName === 'chromium' ? chromium : firefox, { browser: cfg }, {
    headless: false,
    // Notifications on the desktop's own notification server, when there is one.
    env: process.env.DBUS_SESSION_BUS_ADDRESS ? { DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS } : {},
    // This script stops the browser and then the kit itself on Ctrl-C.
    launchOptions: {
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      ...(browserName === 'chromium' ? { ignoreDefaultArgs: ['--enable-automation'] } : {}),
    },
    contextOptions: { viewport: null },
  });
  const { context } = launched;
  let page;
  if (browserName === 'chromium') {
    context.on('close', () => void shutdown(0));
    page = context.pages()[0] ?? (await context.newPage());
  } else {
    launched.browser.on('disconnected', () => void shutdown(0));
    page = await context.newPage();
    // Closing the last tab does not end a Firefox started this way.
    page.on('close', () => void shutdown(0));
  }
  // Straight onto the Flow panel, where a class follows each push.
  await page.goto(`${kit.url}/#flow`);

  const tokenFile = path.join(dataDir, 'admin-token');
  console.log(
    [
      '',
      `The page is open in ${browserName === 'chromium' ? 'Chromium' : 'Firefox'} on its Flow panel: ${kit.url}/#flow`,
      '  1. Click "Enable notifications" and allow them.',
      '  2. Tick "Slow motion" for a class, then click "Send test notification": the Flow panel and its',
      '     sequence diagram follow the message through the server, the push service and the service worker.',
      '  3. "Break it": make the next push fail on purpose (410, 429, 500, a wrong VAPID key, the browser',
      '     offline) and watch what the kit does about it.',
      '  4. Or send to every subscribed browser through the admin API:',
      `     curl -s ${kit.url}/api/notifications \\`,
      `       -H "Authorization: Bearer $(cat ${tokenFile})" \\`,
      `       -H 'Content-Type: application/json' \\`,
      `       -d '{"notification": {"title": "Hello", "body": "from the admin API"}}'`,
      `The local push service's event feed: ${cfg.url}/v1/events`,
      'Close the browser window or press Ctrl-C to stop.',
    ].join('\n'),
  );
} catch (e) {
  console.error(`make demo: ${e.message}`);
  await shutdown(1);
}

import { defineConfig, type PlaywrightTestConfig } from '@playwright/test';
import { executablePath, missingSystemMessage, type BrowserName } from '@pushstart/pushtest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { classroomLimits, freePortSync, kitBinary, missingKitMessage, randomToken } from './lib/kit.mjs';

// The browsers to run: both unless E2E_BROWSERS narrows it (e.g. "chromium").
const selected = (process.env.E2E_BROWSERS || 'chromium,firefox')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean) as BrowserName[];
for (const name of selected) {
  if (name !== 'chromium' && name !== 'firefox') throw new Error(`E2E_BROWSERS: unknown browser "${name}"; want chromium and/or firefox`);
}

// A missing browser, system package or an unbuilt kit fails the whole run at
// once, before any browser starts, with one message saying what to install,
// rather than failing every test alike, timing out deep inside a spec or
// skipping silently (a green run must mean both browsers really ran). The
// click specs need the desktop notification server's packages too.
const missingSystem = missingSystemMessage(selected, { notifications: true });
const problem = [
  missingSystem &&
    [
      missingSystem,
      'or everything the tests need at once: sudo make deps',
      'To run one browser only: E2E_BROWSERS=chromium (or firefox) make e2e',
    ].join('\n'),
  missingKitMessage(),
]
  .filter(Boolean)
  .join('\n\n');
if (problem) {
  console.error(`\n${problem}\n`);
  process.exit(1);
}

// The config is evaluated again in every worker process. The port, token and
// data directory are chosen once, in the runner, and reach the workers through
// the environment they inherit.
process.env.E2E_KIT_PORT ||= String(freePortSync());
process.env.E2E_ADMIN_TOKEN ||= randomToken();
process.env.E2E_DATA_DIR ||= fs.mkdtempSync(path.join(os.tmpdir(), 'pushstart-e2e-'));
// The shared kit is a copy of bin/pushstart alone, started in an empty folder
// far from the checkout, as it would be deployed: the page it serves is the
// one built into it.
if (!process.env.E2E_KIT_DIR) {
  process.env.E2E_KIT_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'pushstart-bin-'));
  fs.copyFileSync(kitBinary, path.join(process.env.E2E_KIT_DIR, 'pushstart'));
}
const baseURL = `http://127.0.0.1:${process.env.E2E_KIT_PORT}`;
process.env.E2E_BASE_URL = baseURL;

const projects: PlaywrightTestConfig['projects'] = selected.map((name) => ({
  name,
  use:
    name === 'firefox'
      ? {
          browserName: 'firefox',
          // Debian's Firefox ESR, driven over WebDriver BiDi.
          channel: 'moz-firefox',
          launchOptions: { executablePath: executablePath('firefox') },
        }
      : {
          browserName: 'chromium',
          launchOptions: { executablePath: executablePath('chromium') },
        },
}));

export default defineConfig({
  testDir: './tests',
  forbidOnly: !!process.env.CI,
  retries: process.env.CI ? 1 : 0,
  // Three workers on a 2-core machine: much of the suite is waiting, not
  // computing (offline windows, Chromium's MCS back-off, Retry-After, slow
  // motion), and a third worker starts a browser meanwhile. Measured on
  // repeated runs of the heaviest specs: a fifth to a third less wall time
  // than two workers, and no test failed on timing (the push timings the
  // tests check are lower bounds). Tests in one file run in order in one
  // worker unless the file says otherwise; the files are spread over the
  // workers.
  workers: 3,
  fullyParallel: false,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: [
    ['list'],
    ['html', { outputFolder: 'playwright-report', open: 'never' }],
    ['./lib/report-location.mjs', { outputFolder: 'playwright-report' }],
  ],
  globalTeardown: './lib/global-teardown.mjs',
  use: {
    baseURL,
    trace: 'on-first-retry',
  },
  projects,
  webServer: {
    // The kit in local mode: its own local push service on loopback ports
    // of its choice, which the tests learn from GET /api/local-push.
    command: './pushstart -push-service=local',
    cwd: process.env.E2E_KIT_DIR,
    url: `${baseURL}/healthz`,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: 'ignore',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 5_000 },
    env: {
      ADDR: `127.0.0.1:${process.env.E2E_KIT_PORT}`,
      DATA_DIR: process.env.E2E_DATA_DIR,
      WEB_DIR: '',
      ...classroomLimits,
      ADMIN_TOKEN: process.env.E2E_ADMIN_TOKEN,
      PUSH_SERVICE: 'local',
      LOCAL_PUSH_ADDR: '127.0.0.1:0',
      LOCAL_PUSH_MCS_ADDR: '127.0.0.1:0',
      LOG_LEVEL: process.env.E2E_LOG_LEVEL || 'warn',
    },
  },
});

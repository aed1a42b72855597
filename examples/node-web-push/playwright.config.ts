import { defineConfig } from '@playwright/test';
import { missingSystemMessage } from '@pushstart/pushtest';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

// The browsers to run: both unless E2E_BROWSERS narrows it (e.g. "chromium").
const selected = (process.env.E2E_BROWSERS || 'chromium,firefox').split(',').map((s) => s.trim()).filter(Boolean);
for (const name of selected) {
  if (name !== 'chromium' && name !== 'firefox') throw new Error(`E2E_BROWSERS: unknown browser "${name}"; want chromium and/or firefox`);
}

// The local push service is pushstart's binary: PUSHSTART_BIN, or the one
// `make build` writes in this repository. The spec reads it from the
// environment, which the workers inherit.
process.env.PUSHSTART_BIN ||= fileURLToPath(new URL('../../bin/pushstart', import.meta.url));

// What is missing fails the run at once with what to install, rather than as
// a timeout inside the spec.
const problem = [
  missingSystemMessage(selected as Array<'chromium' | 'firefox'>, { notifications: true }),
  fs.existsSync(process.env.PUSHSTART_BIN) ? '' : `${process.env.PUSHSTART_BIN} is missing: run \`make build\` at the repository's root, or set PUSHSTART_BIN`,
].filter(Boolean).join('\n\n');
if (problem) {
  console.error(`\n${problem}\n`);
  process.exit(1);
}

export default defineConfig({
  testDir: './tests',
  forbidOnly: !!process.env.CI,
  retries: process.env.CI ? 1 : 0,
  // One browser at a time: each test starts a push service, the app and a
  // browser, which is as much as a small machine runs smoothly.
  workers: 1,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: [['list'], ['html', { outputFolder: 'playwright-report', open: 'never' }]],
  use: { trace: 'on-first-retry' },
  // The spec launches each browser itself, through the module's
  // launchBrowser (Debian's Chromium and Firefox, pointed at the push
  // service); browserName only says which.
  projects: selected.map((name) => ({ name, use: { browserName: name as 'chromium' | 'firefox' } })),
});

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test, expect } from '../fixtures';
import { e2eDir } from '../lib/kit.mjs';

// Before any browser starts, playwright.config.ts checks the system has what
// the suite needs. This runs the suite's own runner on a system where
// dbus-daemon cannot be found (PATH leads nowhere), as a user without the
// dbus package would, and reads what it says.
test('a missing system package stops the run at once, naming it and the command that installs it', async () => {
  const cli = path.join(e2eDir, 'node_modules', '@playwright', 'test', 'cli.js');
  const run = await test.step('run the suite with dbus-daemon out of reach', async () =>
    spawnSync(process.execPath, [cli, 'test', '--list'], {
      cwd: e2eDir,
      env: { ...process.env, PATH: '/nonexistent' },
      encoding: 'utf8',
      timeout: 30_000,
    }),
  );

  await test.step('it fails before listing a single test', async () => {
    expect(run.status, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).not.toContain('01-page-states');
  });

  await test.step('the message names dbus-daemon, why it is needed and how to install it', async () => {
    expect(run.stderr).toContain('dbus-daemon: not on PATH; NotificationServer runs a desktop notification server');
    expect(run.stderr).toContain('sudo apt-get install --no-install-recommends dbus\n');
    expect(run.stderr).toContain('sudo make deps');
  });
});

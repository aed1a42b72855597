// Child processes that end with the process that started them, however it
// ends: SIGKILL included (Playwright's worker teardown timeout, an OOM kill, a
// CI job cancelled), when no 'exit' handler runs.
//
// Linux ends a child with its parent only if the child asks for it (prctl
// PR_SET_PDEATHSIG), which neither Node nor the commands run here do. So the
// command runs under a small Node watchdog that holds one end of a pipe (its
// stdin) whose other end only this process holds. The kernel closes that end
// when this process ends, whatever the cause; the watchdog then ends the
// command (SIGTERM, SIGKILL 5 s later) and removes its folder. As the
// command's parent, the watchdog never signals a pid the system reused.

import { spawn, type ChildProcess } from 'node:child_process';

/** What the watchdog exits with when the command cannot be run (the shell's "command not found"). */
export const CANNOT_RUN = 127;

// The watchdog, run with `node -e`: argv is the folder to remove ('' for
// none), the command and its arguments. It passes its stdout and stderr to
// the command, forwards SIGTERM, SIGINT and SIGHUP, and exits when the
// command does, with its code (128 + the signal's number for a signal).
const WATCHDOG = `
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const [dir, command, ...args] = process.argv.slice(1);
const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
let ending = false;
const end = (signal) => {
  if (ending) return;
  ending = true;
  child.kill(signal);
  setTimeout(() => child.kill('SIGKILL'), 5000).unref();
};
const done = (code) => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  process.exit(code);
};
child.once('error', (e) => {
  process.stderr.write(e.message + '\\n');
  done(${CANNOT_RUN});
});
child.once('exit', (code, signal) => done(code ?? 128 + (os.constants.signals[signal] ?? 0)));
process.stdin.on('end', () => end('SIGTERM'));
process.stdin.on('error', () => end('SIGTERM'));
process.stdin.resume();
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => end(s));
`;

/**
 * Starts command under the watchdog and returns the watchdog's process: its
 * stdout and stderr are the command's, its exit is the command's (code
 * CANNOT_RUN when the command could not be started, with the reason on
 * stderr). The command ends when this process ends or when endTethered is
 * called; then the watchdog removes dir, if given.
 */
export function spawnTethered(command: string, args: string[], opts: { dir?: string } = {}): ChildProcess {
  // NODE_OPTIONS (an --inspect, a loader) is this process's, not for the
  // watchdog; the commands run here are not Node programs.
  const { NODE_OPTIONS: _, ...env } = process.env;
  return spawn(process.execPath, ['-e', WATCHDOG, '--', opts.dir ?? '', command, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env,
  });
}

/**
 * Ends a command spawnTethered started, as its watchdog does when this
 * process ends (SIGTERM, SIGKILL 5 s later), and resolves once it exited and
 * its folder is gone.
 */
export async function endTethered(watchdog: ChildProcess): Promise<void> {
  if (watchdog.pid === undefined || watchdog.exitCode !== null || watchdog.signalCode !== null) return;
  const exited = new Promise((r) => watchdog.once('exit', r));
  watchdog.stdin?.end();
  // The watchdog itself stuck: the last resort, which may leave the command.
  const t = setTimeout(() => watchdog.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

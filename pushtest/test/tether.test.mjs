// A started push service and a notification server's bus end with the test
// process that started them, however it ends: killed with SIGKILL (no 'exit'
// handler runs), or exiting without calling stop(). Real processes: a
// parent node process starts both and is then ended; the service's port and
// the bus's socket must stop answering, and their folders must be removed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const binary = process.env.PUSHSTART_BIN || path.join(repoRoot, 'bin', 'pushstart');
const dist = path.join(here, '..', 'dist', 'index.js');

/**
 * Runs a node process that starts a PushService and a NotificationServer,
 * prints where they are, and then is ended with end ('SIGKILL', or 'exit':
 * process.exit without stop()). Resolves with what it printed.
 */
async function startThenEnd(end) {
  const inner = `
    import { NotificationServer, PushService } from ${JSON.stringify(dist)};
    const service = await PushService.start({ binary: ${JSON.stringify(binary)} });
    const bus = await NotificationServer.start();
    console.log(JSON.stringify({ url: service.url, ca: service.sender.caFile, bus: bus.address }));
    if (${JSON.stringify(end)} === 'exit') process.exit(0);
    setInterval(() => {}, 1000);
  `;
  const parent = spawn(process.execPath, ['--input-type=module', '-e', inner], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => parent.once('exit', r));
  const info = await new Promise((resolve, reject) => {
    let out = '';
    parent.stdout.on('data', (b) => {
      out += b;
      if (out.includes('\n')) resolve(JSON.parse(out));
    });
    parent.once('exit', (code) => reject(new Error(`the parent exited (${code}) before it printed`)));
  });
  if (end === 'SIGKILL') parent.kill('SIGKILL');
  await exited;
  return { ...info, socket: /unix:path=([^,]+)/.exec(info.bus)[1] };
}

/** Whether the service's test API still answers. */
async function serviceAnswers(url) {
  try {
    return (await fetch(`${url}/v1/config`, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

/** Whether something accepts connections on the bus's unix socket. */
function busAnswers(socket) {
  return new Promise((resolve) => {
    const c = net.connect(socket);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** Polls check until it is false, for up to ms; resolves with how long that took, or -1. */
async function goneWithin(ms, check) {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (!(await check())) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 100));
  }
  return -1;
}

for (const end of ['SIGKILL', 'exit']) {
  test(`a parent ended by ${end === 'exit' ? 'process.exit without stop()' : 'SIGKILL'}: its service and bus end with it, folders removed`, async () => {
    const info = await startThenEnd(end);
    const service = await goneWithin(5000, () => serviceAnswers(info.url));
    const bus = await goneWithin(5000, () => busAnswers(info.socket));
    assert.notEqual(service, -1, `the push service at ${info.url} still answers 5 s after its parent ended`);
    assert.notEqual(bus, -1, `the bus at ${info.socket} still answers 5 s after its parent ended`);
    const folders = await goneWithin(5000, () => fs.existsSync(path.dirname(info.ca)) || fs.existsSync(path.dirname(info.socket)));
    assert.notEqual(folders, -1, `left behind: ${path.dirname(info.ca)}, ${path.dirname(info.socket)}`);
  });
}

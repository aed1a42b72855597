// Shared by the Playwright suite and the demo launcher: the kit's binary,
// free ports, starting and stopping a kit server, and VAPID key pairs. Plain
// JavaScript so that `node demo.mjs` can use it too. What is not the kit's
// (browsers, the push service's test API, notifications, the system's
// packages) is @pushstart/pushtest's.

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

/** Whether path is an executable file. */
function isExecutable(p) {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
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
 * Starts bin/pushstart and waits for /healthz.
 *
 * opts: port (default: a free one), dataDir (default: a new temp dir),
 * adminToken (default: random), pushService (PUSH_SERVICE: 'local', the
 * default, starts a local push service inside the kit; the URL of a running
 * one, e.g. another kit's, makes the kit use that one), env (extra
 * environment, e.g. VAPID keys), log (a function receiving output lines;
 * default: kept in memory and shown if start-up fails).
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
    LOCAL_PUSH_ADDR: '127.0.0.1:0',
    LOCAL_PUSH_MCS_ADDR: '127.0.0.1:0',
    ...opts.env,
  };
  const pushService = opts.pushService ?? 'local';
  // Started in its data folder, away from the checkout: it needs nothing but itself.
  const child = spawn(kitBinary, [`-push-service=${pushService}`], { cwd: dataDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
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

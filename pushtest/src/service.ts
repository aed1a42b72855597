// The client of the local push service's test API, version 1
// (docs/push-service-api.md in the pushstart repository): its settings, fault
// injection and event feed, and the command that runs the service on its own.

import { type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CANNOT_RUN, endTethered, spawnTethered } from './tether.js';

/** How to point the browsers at the service: Chromium switches, Firefox prefs, and its URL. */
export type BrowserConfig = {
  chromiumArgs: string[];
  firefoxPrefs: Record<string, string | number | boolean>;
  url: string;
};

/** What GET /v1/config answers and `pushstart push-service -json` prints. */
export type ServiceInfo = {
  /** The test API's version (1). */
  api: number;
  /** The service's base URL, http://127.0.0.1:P. */
  url: string;
  browser: BrowserConfig;
  /**
   * How a sender the kit did not write reaches it: the CA certificate file
   * to trust ('' when none was written), the HTTPS proxy for Chromium's
   * endpoints, and the environment variables that say both to Node, Python
   * and Go senders.
   */
  sender: { caFile: string; proxy: string; env: Record<string, string> };
};

/** One entry of the service's event feed (GET /v1/events). */
export type PushEvent = {
  seq: number;
  time: string;
  /**
   * register, unregister, connect, disconnect, push, deliver, ack, nack,
   * reject, fault, drop, replace, expire, offline, reset, and whatever later
   * versions add.
   */
  type: string;
  browser?: 'firefox' | 'chromium';
  endpoint?: string;
  /** The message id, as in the push reply's Location. */
  message?: string;
  status?: number;
  headers?: Record<string, string>;
  bodySize?: number;
  detail?: string;
  /** The protocol frame to or from the browser, on deliver, ack and nack. */
  frame?: string;
  ttl?: number;
  handed?: boolean;
  delayMs?: number;
  held?: boolean;
};

/** The optional fields of a fault (POST /v1/faults); which apply depends on its kind. */
export type FaultOptions = {
  /** How many requests (status kinds, hang) or messages (latency); default 1. */
  count?: number;
  /** Retry-After seconds on 429 and 503; default 1. */
  retryAfter?: number;
  /** offline: how long the browser's connection is refused, 1-600. */
  seconds?: number;
  /** latency: how long each message waits before it is handed to the browser, 1-60000. */
  delayMs?: number;
};

/** An answer of the test API that was not the expected one; a 400 names the bad field. */
export class PushServiceError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** The request field the service refused, from its {"error","field"} answer. */
  readonly field?: string;

  constructor(message: string, status: number, field?: string) {
    super(message);
    this.name = 'PushServiceError';
    this.status = status;
    this.field = field;
  }
}

// Chromium chooses its endpoint's host itself (fcm.googleapis.com on Google
// Chrome, jmt17.google.com on Debian's Chromium) after registration; the
// service names the one it guessed until a push tells it otherwise.
const FCM_HOSTS = new Set(['fcm.googleapis.com', 'jmt17.google.com']);

// The push resource's paths, each followed by a token, and whose endpoints
// they are.
const PATHS: Array<[string, 'firefox' | 'chromium']> = [
  ['/wpush/', 'firefox'],
  ['/fcm/send/', 'chromium'],
  ['/wp/', 'chromium'],
];

function parseEndpoint(endpoint: string): { origin: string; fcm: boolean; browser: string; prefix: string; token: string } | null {
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    return null;
  }
  for (const [prefix, browser] of PATHS) {
    const token = u.pathname.startsWith(prefix) ? u.pathname.slice(prefix.length) : '';
    if (token && !token.includes('/') && !u.search && !u.hash) {
      return { origin: u.origin, fcm: u.protocol === 'https:' && FCM_HOSTS.has(u.host), browser, prefix, token };
    }
  }
  return null;
}

/**
 * Whether two endpoint URLs name the same subscription of the service: the
 * same token under the same browser's paths at the same origin, where
 * Chromium's FCM spellings (fcm.googleapis.com and jmt17.google.com, /fcm/send/
 * and /wp/) are one.
 *
 * @example
 * sameEndpoint('https://jmt17.google.com/fcm/send/abc', 'https://fcm.googleapis.com/fcm/send/abc'); // true
 */
export function sameEndpoint(a: string, b: string): boolean {
  if (a === b) return true;
  const pa = parseEndpoint(a);
  const pb = parseEndpoint(b);
  if (!pa || !pb) return false;
  return pa.token === pb.token && pa.browser === pb.browser && (pa.origin === pb.origin || (pa.fcm && pb.fcm));
}

/**
 * An endpoint shortened for messages: an endpoint is a capability URL, so
 * errors name its origin, path and the start of its token only.
 */
function shortEndpoint(endpoint: string): string {
  const p = parseEndpoint(endpoint);
  return p ? `${p.origin}${p.prefix}${p.token.slice(0, 8)}…` : '(not an endpoint of the service)';
}

function describeEvent(e: PushEvent): string {
  return [
    `#${e.seq} ${e.type}`,
    e.browser,
    e.status ? String(e.status) : '',
    e.endpoint ? shortEndpoint(e.endpoint) : '',
    e.detail ? `(${e.detail})` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

function checkInteger(field: string, v: number, min: number, max: number) {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${field} must be an integer from ${min} to ${max}, not ${v}`);
}

/** How long a test API request may take beyond its long poll. */
const REQUEST_TIMEOUT_MS = 10_000;

/** The longest long poll the service allows (GET /v1/events wait=). */
const MAX_WAIT_S = 30;

/** Lines of the command's stderr kept for an error message. */
const KEPT_LINES = 40;

/**
 * A running local push service, started by the module (PushService.start) or
 * already running (PushService.connect): its settings for browsers and
 * senders, fault injection and its event feed.
 *
 * @example
 * const service = await PushService.start();          // pushstart push-service
 * const { context } = await launchBrowser(chromium, service, { grant: [appURL] });
 * // … the page subscribes …
 * const since = await service.lastSeq();               // what happened so far does not count
 * // … the app pushes …
 * await service.waitForDelivery(endpoint, { since });
 * await service.fault(endpoint, '410');
 * await service.stop();
 */
export class PushService {
  /** The service's base URL, http://127.0.0.1:P. */
  readonly url: string;
  /** How to point Chromium and Firefox at it (what launchBrowser needs). */
  readonly browser: BrowserConfig;
  /** How a sender trusts and reaches it (CA file, proxy, environment). */
  readonly sender: ServiceInfo['sender'];

  /** The watchdog of a service start() started (see tether.ts). */
  private readonly child?: ChildProcess;

  private constructor(info: ServiceInfo, child?: ChildProcess) {
    this.url = info.url.replace(/\/+$/, '');
    this.browser = info.browser;
    this.sender = info.sender;
    this.child = child;
  }

  /**
   * Starts `<binary> push-service -json` and resolves once it serves, with
   * the settings it printed. binary: PUSHSTART_BIN or `pushstart` on PATH;
   * addr and mcsAddr: its two listeners (default 127.0.0.1:0, ports of its
   * choice); caFile: where it writes its CA certificate (default a temporary
   * file, removed by stop); log: receives its stderr lines. The service
   * ends with this process however it ends, SIGKILL included, and its
   * temporary CA folder is removed then too.
   */
  static async start(
    opts: { binary?: string; addr?: string; mcsAddr?: string; caFile?: string; log?: (line: string) => void; timeout?: number } = {},
  ): Promise<PushService> {
    const binary = opts.binary || process.env.PUSHSTART_BIN || 'pushstart';
    const tempDir = opts.caFile ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'pushtest-service-'));
    const caFile = opts.caFile ?? path.join(tempDir!, 'ca.pem');
    const args = [
      'push-service',
      '-json',
      '-addr', opts.addr ?? '127.0.0.1:0',
      '-mcs-addr', opts.mcsAddr ?? '127.0.0.1:0',
      '-ca-file', caFile,
    ];
    const child = spawnTethered(binary, args, { dir: tempDir });
    const stderr: string[] = [];
    let partial = '';
    child.stderr!.on('data', (b: Buffer) => {
      const lines = (partial + b.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line) continue;
        stderr.push(line);
        if (stderr.length > KEPT_LINES) stderr.shift();
        opts.log?.(line);
      }
    });
    const timeout = opts.timeout ?? 20_000;
    let info: ServiceInfo;
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`printed no settings within ${timeout} ms`)), timeout);
        child.stdout!.on('data', (b: Buffer) => {
          out += b.toString();
          const nl = out.indexOf('\n');
          if (nl >= 0) {
            clearTimeout(timer);
            resolve(out.slice(0, nl));
          }
        });
        child.once('error', (e) => {
          clearTimeout(timer);
          reject(new Error(`cannot start node for its watchdog (${e.message})`));
        });
        // 'close', not 'exit': the watchdog's reason is on stderr, read by then.
        child.once('close', (code, signal) => {
          clearTimeout(timer);
          if (code === CANNOT_RUN) {
            // The watchdog's line, not the service's: it never started.
            const why = stderr.pop();
            reject(new Error(`cannot run it (${why}); build it with \`make build\` and set PUSHSTART_BIN or the binary option`));
          } else reject(new Error(`exited (${signal ?? code}) before it printed its settings`));
        });
      });
      // Whatever it prints later is not read; keep the pipe from filling.
      child.stdout!.resume();
      info = parseInfo(JSON.parse(line), `${binary} push-service -json`);
    } catch (e) {
      await endTethered(child);
      if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
      const tail = stderr.length ? `\nits stderr:\n${stderr.join('\n')}` : '';
      throw new Error(`PushService.start: ${binary} push-service: ${(e as Error).message}${tail}`);
    }
    return new PushService(info, child);
  }

  /** Connects to a service that is already running at url (GET /v1/config). */
  static async connect(url: string): Promise<PushService> {
    let base: URL;
    try {
      base = new URL(url);
    } catch {
      throw new TypeError(`PushService.connect: url ${JSON.stringify(url)} is not a URL`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new TypeError(`PushService.connect: url must be http(s), not ${base.protocol}`);
    }
    const origin = base.origin;
    const r = await request('GET', `${origin}/v1/config`);
    if (r.status !== 200) throw await apiError('GET /v1/config', r);
    return new PushService(parseInfo(await r.json(), `GET ${origin}/v1/config`));
  }

  /**
   * Arms a fault for endpoint (POST /v1/faults), spelled as the browser gave
   * it. kind: an HTTP status such as '410', '429' or '500' (the next count
   * push requests answer it), 'hang', 'expire' (the service forgets the
   * subscription), 'offline' (seconds), 'latency' (delayMs, count), 'reset'
   * (the service forgets the browser that owns the endpoint, so every
   * subscription of it; Firefox learns it at its next hello and fires
   * pushsubscriptionchange, Chromium is not told).
   * Throws a PushServiceError naming the field the service refused.
   */
  async fault(endpoint: string, kind: string, opts: FaultOptions = {}): Promise<void> {
    const r = await request('POST', `${this.url}/v1/faults`, { endpoint, kind, ...opts });
    if (r.status !== 204) throw await apiError('POST /v1/faults', r);
  }

  /** Disarms every fault and ends every offline window (DELETE /v1/faults). */
  async clearFaults(): Promise<void> {
    const r = await request('DELETE', `${this.url}/v1/faults`);
    if (r.status !== 204) throw await apiError('DELETE /v1/faults', r);
  }

  /**
   * The events after sequence number since (default 0: all the service still
   * keeps, its last 1000). With wait (seconds, 0-30), when there is none yet
   * the service waits that long for one before it answers.
   */
  async events(since = 0, opts: { wait?: number } = {}): Promise<PushEvent[]> {
    checkInteger('since', since, 0, Number.MAX_SAFE_INTEGER);
    const wait = opts.wait ?? 0;
    checkInteger('wait', wait, 0, MAX_WAIT_S);
    const q = wait > 0 ? `since=${since}&wait=${wait}` : `since=${since}`;
    const r = await request('GET', `${this.url}/v1/events?${q}`, undefined, wait * 1000);
    if (r.status !== 200) throw await apiError('GET /v1/events', r);
    return ((await r.json()) as { events?: PushEvent[] }).events ?? [];
  }

  /** The sequence number of the newest event, to look only at what follows. */
  async lastSeq(): Promise<number> {
    // The answer's last, with no event after an unreachable since: one small
    // answer, however long the feed.
    const r = await request('GET', `${this.url}/v1/events?since=${Number.MAX_SAFE_INTEGER}`);
    if (r.status !== 200) throw await apiError('GET /v1/events', r);
    const { last } = (await r.json()) as { last?: number };
    if (typeof last === 'number') return last;
    // A service of a build before last: the newest event of the whole feed.
    const ev = await this.events();
    return ev.length ? ev[ev.length - 1].seq : 0;
  }

  /** The events after since that concern endpoint (see sameEndpoint), optionally only of the given types. */
  async eventsFor(endpoint: string, since = 0, ...types: string[]): Promise<PushEvent[]> {
    return (await this.events(since)).filter(
      (e) => !!e.endpoint && sameEndpoint(e.endpoint, endpoint) && (types.length === 0 || types.includes(e.type)),
    );
  }

  /** The types of the events after since for endpoint, in order (for expect.poll). */
  async typesFor(endpoint: string, since = 0): Promise<string[]> {
    return (await this.eventsFor(endpoint, since)).map((e) => e.type);
  }

  /**
   * The statuses the service answered to the push requests for endpoint
   * after since, in order: 201 for an accepted push, the status of a refusal
   * or of an injected fault.
   */
  async pushStatuses(endpoint: string, since = 0): Promise<number[]> {
    return (await this.eventsFor(endpoint, since, 'push', 'reject', 'fault')).map((e) => e.status ?? 0);
  }

  /**
   * Waits for the first event after match.since for match.endpoint, of
   * match.type (one or any of several), for which match.where holds, and
   * returns it. Long-polls the feed. Throws after timeout ms (default 15000)
   * an error naming what it waited for and the last events it saw.
   *
   * Pass since, read with lastSeq() before the action whose event is awaited:
   * without it (0) every event the service still keeps counts, so one from
   * before the action (an earlier message's ack) satisfies the wait at once.
   * since is not taken at the call itself because the event may already have
   * come by then (a push is acknowledged within milliseconds).
   */
  async waitForEvent(
    match: { endpoint?: string; type?: string | string[]; since?: number; where?: (e: PushEvent) => boolean },
    opts: { timeout?: number } = {},
  ): Promise<PushEvent> {
    const timeout = opts.timeout ?? 15_000;
    const types = match.type === undefined ? null : Array.isArray(match.type) ? match.type : [match.type];
    const concerns = (e: PushEvent) => !match.endpoint || (!!e.endpoint && sameEndpoint(e.endpoint, match.endpoint));
    const deadline = Date.now() + timeout;
    const seen: PushEvent[] = [];
    let since = match.since ?? 0;
    for (;;) {
      const left = deadline - Date.now();
      const started = Date.now();
      const batch = await this.events(since, { wait: Math.max(0, Math.min(MAX_WAIT_S, Math.ceil(left / 1000))) });
      for (const e of batch) {
        since = Math.max(since, e.seq);
        if (!concerns(e)) continue;
        if ((!types || types.includes(e.type)) && (!match.where || match.where(e))) return e;
        seen.push(e);
        if (seen.length > 8) seen.shift();
      }
      if (Date.now() >= deadline) break;
      // An empty answer sooner than asked: do not spin on the service.
      if (batch.length === 0 && Date.now() - started < 100) await new Promise((r) => setTimeout(r, 100));
    }
    const what = [
      types ? `an event of type ${types.join(' or ')}` : 'an event',
      match.endpoint ? `for ${shortEndpoint(match.endpoint)}` : '',
      match.where ? 'matching where()' : '',
      `after #${match.since ?? 0}`,
    ]
      .filter(Boolean)
      .join(' ');
    const last = seen.length ? `the last events${match.endpoint ? ' for it' : ''}:\n${seen.map((e) => `  ${describeEvent(e)}`).join('\n')}` : 'no other event came';
    throw new Error(`PushService: waited ${timeout} ms for ${what}; ${last}`);
  }

  /**
   * Waits until the browser acknowledged a message to endpoint (an ack
   * event after since: Mozilla's ack, or Chromium's MCS acknowledgement):
   * the message reached the browser. Returns the ack. Pass since from
   * lastSeq() before the push: without it an ack of an earlier message
   * counts (see waitForEvent).
   *
   * @example
   * const since = await service.lastSeq();
   * await sendPush();
   * await service.waitForDelivery(endpoint, { since });
   */
  waitForDelivery(endpoint: string, opts: { since?: number; timeout?: number } = {}): Promise<PushEvent> {
    return this.waitForEvent({ endpoint, type: 'ack', since: opts.since }, { timeout: opts.timeout });
  }

  /**
   * Stops a service that start() started (SIGTERM, then SIGKILL after 5 s)
   * and removes its temporary CA file; does nothing for one connect() found.
   */
  async stop(): Promise<void> {
    if (this.child) await endTethered(this.child);
  }
}

/** Checks the shape of a ServiceInfo; source names where it came from. */
function parseInfo(v: unknown, source: string): ServiceInfo {
  const info = v as Partial<ServiceInfo> | null;
  const bad = (field: string) => new Error(`${source}: no valid ${field} in its answer`);
  if (!info || typeof info !== 'object') throw bad('settings');
  if (typeof info.api !== 'number') throw bad('api');
  if (typeof info.url !== 'string' || !/^https?:\/\//.test(info.url)) throw bad('url');
  const b = info.browser;
  if (!b || !Array.isArray(b.chromiumArgs) || typeof b.firefoxPrefs !== 'object' || typeof b.url !== 'string') throw bad('browser');
  const s = info.sender;
  if (!s || typeof s.proxy !== 'string' || typeof s.caFile !== 'string') throw bad('sender');
  return { api: info.api, url: info.url, browser: b, sender: { caFile: s.caFile, proxy: s.proxy, env: s.env ?? {} } };
}

/** One request to the test API, JSON in and out. */
async function request(method: string, url: string, body?: unknown, extraMs = 0): Promise<Response> {
  try {
    return await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS + extraMs),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    throw new Error(`PushService: ${method} ${new URL(url).pathname} to ${new URL(url).origin}: ${cause}`);
  }
}

/** The error for an unexpected answer: the service's {"error","field"} when it sent one. */
async function apiError(what: string, r: Response): Promise<PushServiceError> {
  const text = await r.text().catch(() => '');
  let message = text.trim().slice(0, 300);
  let field: string | undefined;
  try {
    const j = JSON.parse(text) as { error?: string; field?: string };
    if (j.error) message = j.error;
    if (j.field) field = j.field;
  } catch {
    // not JSON: the text as it is
  }
  return new PushServiceError(`${what}: ${r.status} ${message}${field ? ` (field "${field}")` : ''}`, r.status, field);
}

// A small Web Push app with no framework: it serves a page and its service
// worker, stores push subscriptions in memory and sends to them with the
// web-push package. It is the app that tests/push.spec.ts tests through the
// local push service; nothing in it knows that service.
//
// Environment: PORT (default 3000; 0 picks a free one), HOST (default
// 127.0.0.1), VAPID_PUBLIC_KEY / VAPID_PRIVATE_KEY (generated at start when
// unset), VAPID_SUBJECT, PUSH_ALLOWED_HOSTS (host or host:port entries, comma
// separated, accepted beside the browsers' push services), HTTPS_PROXY and
// PUSH_TOKEN (required: the bearer token POST /push takes, at least 16
// characters).
import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import webpush from 'web-push';

const MAX_BODY = 4096;
const MAX_ENDPOINT = 1024;
const MAX_SUBSCRIPTIONS = 1000; // the store is memory: one client must not fill it
const SELF = 'http://app.invalid'; // the origin a notification's url must stay on
// The push services browsers subscribe at: Google FCM (Chrome, Edge on
// Android; jmt17.google.com is Debian's Chromium), Mozilla autopush, Apple
// and Microsoft WNS. A leading dot allows the subdomains.
const PUSH_HOSTS = ['fcm.googleapis.com', 'android.googleapis.com', 'jmt17.google.com',
  'updates.push.services.mozilla.com', 'push.services.mozilla.com', '.push.apple.com', '.notify.windows.com'];
const extraHosts = (process.env.PUSH_ALLOWED_HOSTS || '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);

const vapid = process.env.VAPID_PUBLIC_KEY && process.env.VAPID_PRIVATE_KEY
  ? { publicKey: process.env.VAPID_PUBLIC_KEY, privateKey: process.env.VAPID_PRIVATE_KEY }
  : webpush.generateVAPIDKeys();
// Apple refuses a subject at localhost: use an address people can write to.
webpush.setVapidDetails(process.env.VAPID_SUBJECT || 'mailto:push-admin@example.com', vapid.publicKey, vapid.privateKey);
// web-push does not read HTTPS_PROXY itself; behind a proxy (or to reach a
// local push service's fcm.googleapis.com endpoints) it must be told.
const sendOptions = { TTL: 3600, timeout: 10_000, ...(process.env.HTTPS_PROXY && { proxy: process.env.HTTPS_PROXY }) };

// Who may send to every subscriber: a real app authenticates its senders; one token stands for that.
const pushToken = process.env.PUSH_TOKEN || '';
if (pushToken.length < 16) {
  console.error('PUSH_TOKEN must be set, at least 16 characters: POST /push sends to every subscriber');
  process.exit(2);
}

/** The stored subscriptions by endpoint. */
const subscriptions = new Map();

const files = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/sw.js': ['sw.js', 'text/javascript; charset=utf-8'],
};

/** An error answered as {"error", "field"} with its HTTP status. */
class HttpError extends Error {
  constructor(status, message, field) {
    super(message);
    Object.assign(this, { status, field });
  }
}

/** A short, stable name for an endpoint: the endpoint itself is a secret capability URL. */
const idOf = (endpoint) => createHash('sha256').update(endpoint).digest('hex').slice(0, 12);

/** Why an endpoint is refused ('' if it is not): only push services' hosts, never an address of an attacker's choice. */
function endpointProblem(endpoint) {
  if (typeof endpoint !== 'string' || endpoint === '') return 'is required';
  if (endpoint.length > MAX_ENDPOINT) return `is longer than ${MAX_ENDPOINT} characters`;
  let u;
  try { u = new URL(endpoint); } catch { return 'must be an absolute URL'; }
  if (u.username || u.password || u.hash) return 'must not carry credentials or a fragment';
  // What is checked is what is sent: web-push parses it again, with Node's legacy parser.
  if (u.href !== endpoint) return 'must be a canonical URL, as browsers write it';
  if (extraHosts.includes(u.host)) return ['http:', 'https:'].includes(u.protocol) ? '' : 'must be an http(s) URL';
  if (u.protocol !== 'https:' || u.port !== '') return 'must be an https URL on the default port';
  const known = PUSH_HOSTS.some((h) => (h.startsWith('.') ? u.hostname.endsWith(h) : u.hostname === h));
  return known ? '' : `host ${u.hostname} is not a push service (PUSH_ALLOWED_HOSTS adds one)`;
}

/** Checks that a base64url string decodes to the given number of bytes. */
function keyProblem(value, bytes) {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]+={0,2}$/.test(value)) return 'must be base64url';
  return Buffer.from(value, 'base64url').length === bytes ? '' : `must be ${bytes} bytes`;
}

/** Checks a PushSubscription's JSON and returns {endpoint, keys}. */
function validSubscription(s) {
  const problems = [['endpoint', endpointProblem(s?.endpoint)],
    ['keys.p256dh', keyProblem(s?.keys?.p256dh, 65)], ['keys.auth', keyProblem(s?.keys?.auth, 16)]];
  for (const [field, problem] of problems) if (problem) throw new HttpError(400, `${field} ${problem}`, field);
  return { endpoint: s.endpoint, keys: { p256dh: s.keys.p256dh, auth: s.keys.auth } };
}

/** Checks POST /push's {title, body, url}: short texts and a path on this site. */
function validMessage(m) {
  const text = (field, max, required) => {
    const v = m?.[field] ?? '';
    if (typeof v !== 'string' || (required && !v) || v.length > max) {
      throw new HttpError(400, `${field} must be a string of ${required ? 1 : 0} to ${max} characters`, field);
    }
    return v;
  };
  const message = { title: text('title', 100, true), body: text('body', 500), url: text('url', 500) || '/' };
  // Parsed as the worker will resolve it: the URL parser drops tabs and
  // newlines and reads a backslash as /, so "/\t/evil.example" is //evil.example.
  const u = URL.canParse(message.url, SELF) ? new URL(message.url, SELF) : null;
  if (u?.origin !== SELF || !message.url.startsWith('/') || /[\x00-\x1f\x7f]/.test(message.url)) {
    throw new HttpError(400, 'url must be a path on this site, such as /news', 'url');
  }
  return { ...message, url: u.pathname + u.search + u.hash };
}

/** Sends to every subscription; a 404 or 410 answer means it is gone, so it is deleted. */
async function pushToAll(message) {
  const payload = JSON.stringify(message);
  return Promise.all([...subscriptions.values()].map(async (sub) => {
    const id = idOf(sub.endpoint);
    try {
      const { statusCode } = await webpush.sendNotification(sub, payload, sendOptions);
      return { subscription: id, status: statusCode, outcome: 'sent' };
    } catch (err) {
      const gone = err.statusCode === 404 || err.statusCode === 410;
      if (gone) subscriptions.delete(sub.endpoint);
      console.error(`push to ${id}: ${err.statusCode ?? err.code ?? err.message}${gone ? ', deleted' : ''}`);
      return { subscription: id, status: err.statusCode ?? 0, outcome: gone ? 'deleted' : 'failed' };
    }
  }));
}

/** Reads a JSON body of at most MAX_BODY bytes. */
async function readJSON(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    if ((size += chunk.length) > MAX_BODY) throw new HttpError(413, `body is larger than ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  try { return JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { throw new HttpError(400, 'body is not JSON'); }
}

/** Refuses another site's POST, as Go's CrossOriginProtection does; clients that are not browsers send no Origin. */
function sameOrigin(req) {
  const site = req.headers['sec-fetch-site'];
  if (site) return site === 'same-origin' || site === 'none';
  return !req.headers.origin || req.headers.origin === `http://${req.headers.host}`;
}

/** Whether the request carries the push token, compared in constant time. */
function bearer(req) {
  const given = Buffer.from(/^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
  const want = Buffer.from(pushToken);
  return given.length === want.length && timingSafeEqual(given, want);
}

const routes = {
  'GET /vapid-public-key': async () => ({ publicKey: vapid.publicKey }),
  'GET /subscriptions/count': async () => ({ count: subscriptions.size }),
  'POST /subscriptions': async (req) => {
    const sub = validSubscription(await readJSON(req));
    if (subscriptions.size >= MAX_SUBSCRIPTIONS && !subscriptions.has(sub.endpoint)) {
      throw new HttpError(507, `the subscription store is full (${MAX_SUBSCRIPTIONS})`);
    }
    subscriptions.set(sub.endpoint, sub);
    return { subscription: idOf(sub.endpoint), count: subscriptions.size };
  },
  'POST /push': async (req) => {
    if (!bearer(req)) throw new HttpError(401, 'POST /push needs Authorization: Bearer <PUSH_TOKEN>');
    return { results: await pushToAll(validMessage(await readJSON(req))) };
  },
};

const server = http.createServer(async (req, res) => {
  const { pathname } = new URL(req.url, 'http://app');
  const send = (status, type, body) => {
    res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': "default-src 'self'" });
    res.end(body);
  };
  try {
    if (req.method === 'GET' && files[pathname]) {
      const [file, type] = files[pathname];
      return send(200, type, fs.readFileSync(new URL(file, import.meta.url)));
    }
    const route = routes[`${req.method} ${pathname}`];
    if (!route) throw new HttpError(404, 'not found');
    if (req.method === 'POST' && !sameOrigin(req)) throw new HttpError(403, 'cross-origin request refused');
    send(200, 'application/json', JSON.stringify(await route(req)));
  } catch (err) {
    if (!(err instanceof HttpError)) console.error(`${req.method} ${pathname}:`, err);
    const { status = 500, message = 'internal error', field } = err instanceof HttpError ? err : {};
    send(status, 'application/json', JSON.stringify({ error: message, ...(field && { field }) }));
  }
});

server.listen(Number(process.env.PORT ?? 3000), process.env.HOST || '127.0.0.1', () => {
  const { address, port } = server.address();
  console.log(`listening on http://${address}:${port}`);
});

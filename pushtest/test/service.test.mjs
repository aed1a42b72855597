// Tests of PushService against the real `pushstart push-service` command
// (PUSHSTART_BIN, or bin/pushstart of the repository): real processes, real
// HTTP. The browser-facing parts are proved by the kit's e2e suite, which
// runs on this module.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PushService, PushServiceError, sameEndpoint } from '../dist/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const binary = process.env.PUSHSTART_BIN || path.join(repoRoot, 'bin', 'pushstart');

let service;
before(async () => {
  service = await PushService.start({ binary });
});
after(async () => {
  await service?.stop();
});

/** A push request the service refuses (no such subscription): it records a reject event. */
async function pushToNowhere(token) {
  const r = await fetch(`${service.url}/wpush/${token}`, { method: 'POST', body: 'x' });
  await r.arrayBuffer();
  return r.status;
}

test('start: the settings the command printed, its CA written, and connect() reads the same', async () => {
  assert.match(service.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(service.browser.url, service.url);
  assert.ok(service.browser.chromiumArgs.some((a) => a.startsWith('--gcm-checkin-url=')));
  assert.equal(service.browser.firefoxPrefs['dom.push.serverURL'], `${service.url.replace('http', 'ws')}/`);
  assert.match(fs.readFileSync(service.sender.caFile, 'utf8'), /^-----BEGIN CERTIFICATE-----/);
  assert.equal(service.sender.env.NODE_EXTRA_CA_CERTS, service.sender.caFile);
  const again = await PushService.connect(`${service.url}/`);
  assert.equal(again.url, service.url);
  assert.deepEqual(again.browser, service.browser);
  await again.stop(); // not its own: the service keeps running
  assert.deepEqual(await service.events(), []);
});

test('waitForEvent long-polls: an event that comes while it waits is returned', async () => {
  const since = await service.lastSeq();
  const endpoint = `${service.url}/wpush/waited-for`;
  const waiting = service.waitForEvent({ endpoint, type: 'reject', since }, { timeout: 10_000 });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await pushToNowhere('waited-for'), 404);
  const e = await waiting;
  assert.equal(e.type, 'reject');
  assert.equal(e.status, 404);
  assert.ok(sameEndpoint(e.endpoint, endpoint));
  assert.deepEqual(await service.pushStatuses(endpoint, since), [404]);
  assert.deepEqual(await service.typesFor(endpoint, since), ['reject']);
});

test('waitForEvent: without since, an event already in the feed counts; with since from lastSeq(), only a later one', async () => {
  const endpoint = `${service.url}/wpush/since-default`;
  assert.equal(await pushToNowhere('since-default'), 404);
  const since = await service.lastSeq();
  const feed = await service.events();
  assert.equal(since, feed[feed.length - 1].seq, 'lastSeq() is the newest event of the feed');
  // The documented default (0): the reject from before the call is returned at once.
  const old = await service.waitForEvent({ endpoint, type: 'reject' }, { timeout: 1000 });
  assert.ok(old.seq <= since, `#${old.seq} is not the earlier reject (lastSeq ${since})`);
  // since from lastSeq(): the earlier reject does not count, the next one does.
  await assert.rejects(service.waitForEvent({ endpoint, type: 'reject', since }, { timeout: 1000 }), /waited 1000 ms .* after #\d+/);
  const waiting = service.waitForEvent({ endpoint, type: 'reject', since }, { timeout: 5000 });
  assert.equal(await pushToNowhere('since-default'), 404);
  assert.ok((await waiting).seq > since);
});

test('waitForEvent: a timeout names what it waited for and the last events, never a whole endpoint', async () => {
  const since = await service.lastSeq();
  const token = 'a-token-not-to-be-shown-whole';
  await pushToNowhere(token);
  const started = Date.now();
  await assert.rejects(
    service.waitForEvent({ endpoint: `${service.url}/wpush/${token}`, type: 'ack', since }, { timeout: 1500 }),
    (err) => {
      assert.match(err.message, /waited 1500 ms for an event of type ack for http:\/\/127\.0\.0\.1:\d+\/wpush\/a-token-…/);
      assert.match(err.message, /#\d+ reject firefox 404/);
      assert.ok(!err.message.includes(token), err.message);
      return true;
    },
  );
  const took = Date.now() - started;
  assert.ok(took >= 1500 && took < 4000, `took ${took} ms`);
});

test('fault: a field the service refuses throws a PushServiceError naming it', async () => {
  await assert.rejects(service.fault(`${service.url}/wpush/abc`, 'sometimes'), (err) => {
    assert.ok(err instanceof PushServiceError);
    assert.equal(err.status, 400);
    assert.equal(err.field, 'kind');
    return true;
  });
  await assert.rejects(service.fault('https://push.example/wpush/abc', '410'), { field: 'endpoint' });
  await assert.rejects(service.fault(`${service.url}/wpush/abc`, '410', { count: -1 }), { field: 'count' });
});

test('fault: a status fault answers the next push requests, and clearFaults disarms it', async () => {
  const endpoint = `${service.url}/wpush/faulted`;
  const since = await service.lastSeq();
  await service.fault(endpoint, '429', { count: 2, retryAfter: 3 });
  assert.equal(await pushToNowhere('faulted'), 429);
  await service.clearFaults();
  assert.equal(await pushToNowhere('faulted'), 404);
  assert.deepEqual(await service.pushStatuses(endpoint, since), [429, 404]);
});

test('events: since and wait are checked before a request is made', async () => {
  await assert.rejects(service.events(-1), /since must be an integer from 0/);
  await assert.rejects(service.events(0, { wait: 31 }), /wait must be an integer from 0 to 30/);
});

test('sameEndpoint: one subscription under Chromium\'s spellings, not across browsers or origins', () => {
  assert.ok(sameEndpoint('https://jmt17.google.com/fcm/send/t1', 'https://fcm.googleapis.com/fcm/send/t1'));
  assert.ok(sameEndpoint('https://fcm.googleapis.com/wp/t1', 'https://fcm.googleapis.com/fcm/send/t1'));
  assert.ok(!sameEndpoint('https://fcm.googleapis.com/fcm/send/t1', 'https://fcm.googleapis.com/fcm/send/t2'));
  assert.ok(!sameEndpoint('http://127.0.0.1:1/wpush/t1', 'http://127.0.0.1:2/wpush/t1'));
  assert.ok(!sameEndpoint('http://127.0.0.1:1/wpush/t1', 'http://127.0.0.1:1/fcm/send/t1'));
  assert.ok(!sameEndpoint('https://evil.example/fcm/send/t1', 'https://fcm.googleapis.com/fcm/send/t1'));
});

test('start: a binary that cannot run fails with what to do; stop() ends a started service and removes its CA', async () => {
  await assert.rejects(PushService.start({ binary: '/nonexistent/pushstart' }), /cannot run it .*make build/);
  const own = await PushService.start({ binary });
  const ca = own.sender.caFile;
  assert.ok(fs.existsSync(ca));
  await own.stop();
  assert.ok(!fs.existsSync(ca));
  await assert.rejects(fetch(`${own.url}/v1/config`));
});

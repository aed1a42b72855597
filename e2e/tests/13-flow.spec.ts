import { test, expect } from '../fixtures';
import { FlowPanel, base64urlLength, type FlowStep } from '../pages/flow';
import type { HomePage } from '../pages/home';

/** Enables notifications and waits until the page follows this subscription's live trace. */
async function enableAndFollow(home: HomePage, flow: FlowPanel) {
  const sub = await home.enable();
  await expect(flow.log.getByText('Following this subscription\'s pushes live')).toBeVisible();
  return sub;
}

/** The value of a step's field, failing clearly when the step lacks it. */
function field(step: FlowStep | undefined, name: string): string {
  expect(step, `a step with a field ${name}`).toBeTruthy();
  expect(Object.keys(step!.fields), `fields of ${step!.actor}:${step!.step}`).toContain(name);
  return step!.fields[name];
}

test.describe('the live flow', () => {
  // Each test has a browser profile of its own on the shared kit: they can
  // run on different workers.
  test.describe.configure({ mode: 'parallel' });

  // The two offline scenarios are tests of their own, run side by side and
  // first: each waits out the page's 15 s offline window, and Chromium comes
  // back by its own back-off (20 to 30 s after a connection dropped within
  // 10 s of its login). One after the other they took over a minute; last in
  // the file they were the run's last tests to end.
  test('break it: offline, a TTL 0 push is dropped and a TTL push waits for the browser', async ({ home }) => {
    test.slow();
    const flow = new FlowPanel(home.page);
    await test.step('enable', async () => {
      await enableAndFollow(home, flow);
    });

    await test.step('offline: TTL 0 dropped, TTL 60 delivered when the browser is back', async () => {
      const from = await flow.count();
      await flow.breakButton('Offline: TTL 0 vs TTL').click();
      await flow.waitForSequence(from, ['push-service:offline', 'push-service:dropped', 'push-service:queued', 'browser:online', 'push-service:deliver', 'worker:show'], 60_000);
      const shown = await home.waitForNotifications(1);
      expect(shown.map((n) => n.title)).toEqual(['TTL 60: waits for the browser']);
    });
  });

  test('break it: offline, of two pushes with one Topic only the newer arrives', async ({ home, kit }) => {
    test.slow();
    const flow = new FlowPanel(home.page);
    let endpoint = '';
    await test.step('enable', async () => {
      endpoint = (await enableAndFollow(home, flow)).endpoint;
    });

    await test.step('offline: the newer push with Topic flow-demo replaces the waiting one', async () => {
      const since = await kit.push.lastSeq();
      const from = await flow.count();
      await flow.breakButton('Offline: Topic replacement').click();
      const steps = await flow.waitForSequence(from, ['push-service:offline', 'push-service:queued', 'push-service:replaced', 'browser:online', 'push-service:deliver', 'worker:show'], 60_000);
      expect(steps.filter((s) => s.actor === 'push-service' && s.step === 'deliver')).toHaveLength(1);
      const shown = await home.waitForNotifications(1);
      expect(shown.map((n) => n.title)).toEqual(['Topic flow-demo: second (delivered)']);
      expect(await kit.push.eventsFor(endpoint, since, 'deliver')).toHaveLength(1);
    });
  });

  test('a test send, followed from the click to the notification with its real bytes', async ({ home, kit, browserName }) => {
    const flow = new FlowPanel(home.page);
    let endpoint = '';

    await test.step('enable: the page follows its own subscription live', async () => {
      endpoint = (await enableAndFollow(home, flow)).endpoint;
    });

    const from = await flow.count();
    const since = await kit.push.lastSeq();
    let steps: FlowStep[] = [];

    await test.step('send a test notification: every actor\'s steps arrive, in order', async () => {
      await home.sendTest('Followed step by step', `In ${browserName}, byte by byte.`);
      await flow.waitForSequence(from, [
        'page:',
        'server:payload',
        'server:encrypt',
        'server:vapid',
        'server:request',
        'push-service:response',
        'server:outcome',
      ]);
      // The push service's part and the worker's, in their own order: the
      // message is queued, handed to the browser, then the worker's push
      // event fires and showNotification resolves.
      await flow.waitForSequence(from, ['push-service:queued', 'push-service:deliver', 'worker:push', 'worker:decoded', 'worker:show']);
      await flow.waitForSequence(from, ['push-service:deliver', 'browser:ack']);
      // This test's only push: every step since from is one of its.
      steps = await flow.stepsSince(from);
      const [n] = await home.waitForNotifications(1);
      expect(n.title).toBe('Followed step by step');
    });

    await test.step('the payload is the notification the page sent', async () => {
      const payload = steps.find((s) => s.actor === 'server' && s.step === 'payload')!;
      const json = JSON.parse(payload.detail);
      expect(json).toMatchObject({
        web_push: 8030,
        notification: { title: 'Followed step by step', body: `In ${browserName}, byte by byte.`, tag: 'pushstart-test' },
      });
      expect(Number(field(payload, 'bytes'))).toBe(Buffer.byteLength(JSON.stringify(json)));
    });

    await test.step('the RFC 8291 record header, as read off the wire', async () => {
      const enc = steps.find((s) => s.actor === 'server' && s.step === 'encrypt');
      expect(base64urlLength(field(enc, 'salt'))).toBe(16);
      expect(field(enc, 'rs')).toBe('4096');
      expect(field(enc, 'idlen')).toBe('65');
      const keyid = Buffer.from(field(enc, 'keyid').replace(/-/g, '+').replace(/_/g, '/'), 'base64');
      expect(keyid).toHaveLength(65);
      expect(keyid[0], 'keyid is an uncompressed P-256 point').toBe(4);
      const plaintext = Number(field(enc, 'plaintext length'));
      const ciphertext = Number(field(enc, 'ciphertext length'));
      const padding = Number(field(enc, 'padding'));
      expect(plaintext).toBe(Number(field(steps.find((s) => s.step === 'payload'), 'bytes')));
      // ciphertext = plaintext + 1 delimiter byte + padding + 16-byte tag
      expect(ciphertext).toBe(plaintext + 1 + padding + 16);
      // header = salt 16 + rs 4 + idlen 1 + keyid 65
      expect(Number(field(enc, 'body length'))).toBe(86 + ciphertext);
    });

    await test.step('the VAPID JWT: aud is the endpoint\'s origin, exp within 24 h', async () => {
      const vapid = steps.find((s) => s.actor === 'server' && s.step === 'vapid');
      expect(field(vapid, 'aud')).toBe(new URL(endpoint).origin);
      const exp = Date.parse(field(vapid, 'exp').split(' ')[0]);
      expect(exp).toBeGreaterThan(Date.now());
      expect(exp).toBeLessThanOrEqual(Date.now() + 24 * 3600 * 1000);
      expect(field(vapid, 'sub')).toMatch(/^(mailto:|https:)/);
      expect(field(vapid, 'k')).toBe(await kit.api.vapidPublicKey());
      // The JWT decoded in the detail: its header and its claims.
      const [headerText, claimsText] = vapid!.detail.replace('JWT header:', '').split('JWT claims:');
      expect(JSON.parse(headerText)).toEqual({ typ: 'JWT', alg: 'ES256' });
      const claims = JSON.parse(claimsText.slice(0, claimsText.lastIndexOf('}') + 1));
      expect(claims.aud).toBe(new URL(endpoint).origin);
      expect(claims.exp * 1000).toBe(exp);
    });

    await test.step('the request and the answer, with no endpoint or secret in the panel', async () => {
      const request = steps.find((s) => s.actor === 'server' && s.step === 'request');
      expect(field(request, 'method')).toBe('POST');
      expect(field(request, 'Content-Encoding')).toBe('aes128gcm');
      expect(field(request, 'TTL')).toBe('300');
      expect(field(request, 'Authorization')).toMatch(/^vapid/);
      const response = steps.find((s) => s.actor === 'push-service' && s.step === 'response');
      expect(field(response, 'status')).toBe('201 Created');
      const token = endpoint.slice(endpoint.lastIndexOf('/') + 1);
      const leak = steps.filter((s) => s.step !== '' && JSON.stringify(s).includes(token));
      expect(leak.map((s) => `${s.actor}:${s.step}`), 'the endpoint\'s token never reaches the trace').toEqual([]);
    });

    await test.step('the push service really acknowledged the message it handed over', async () => {
      const deliver = steps.find((s) => s.actor === 'push-service' && s.step === 'deliver');
      expect(field(deliver, 'protocol')).toMatch(browserName === 'firefox' ? /Mozilla WebSocket/ : /MCS DataMessageStanza/);
      // The browser's ack, as the local push service recorded it.
      await kit.push.waitForDelivery(endpoint, { since });
      const delivered = await kit.push.eventsFor(endpoint, since, 'deliver');
      expect(field(deliver, 'message id')).toBe((delivered[0] as any).message);
    });

    await test.step('the sequence diagram lights the newest step\'s lane', async () => {
      await expect(flow.diagram).toBeVisible();
      await expect(flow.diagram.locator('.lit')).not.toHaveCount(0);
      await flow.screenshot(`flow-${browserName}`, 'encrypt');
    });
  });

  test('slow motion: the server pauses before its request and the panel reveals the steps one at a time', async ({ home }) => {
    const flow = new FlowPanel(home.page);
    const pending = flow.panel.getByText(/more step\(s\) to reveal/);
    let from = 0;
    await test.step('enable, then tick "Slow motion"', async () => {
      await enableAndFollow(home, flow);
      await flow.slowMotion.check();
    });
    await test.step('a test send: the first steps are revealed one at a time while the rest wait their turn', async () => {
      from = await flow.count();
      await home.sendTest('In slow motion', 'One step at a time.');
      await expect(pending).toBeVisible();
      await flow.waitForSequence(from, ['server:payload', 'server:encrypt']);
      // The notification is shown about when the first steps are revealed;
      // the worker's steps, long done, still wait their turn in the panel.
      const [n] = await home.waitForNotifications(1);
      expect(n.title).toBe('In slow motion');
      await expect(pending).toBeVisible();
      expect(await flow.find(from, 'worker', 'show'), 'the worker\'s last step is not revealed yet').toBeUndefined();
    });
    await test.step('untick "Slow motion": every waiting step shows at once, none lost, in order', async () => {
      // Revealing all of them one at a time would take another 20 s or so;
      // unticking shows that they were all kept, as a user who stops
      // watching sees them.
      await flow.slowMotion.uncheck();
      await expect(pending).toHaveCount(0);
      const steps = await flow.waitForSequence(from, ['server:payload', 'server:encrypt', 'server:request', 'push-service:deliver', 'worker:show'], 5_000);
      const payload = steps.find((s) => s.step === 'payload')!;
      const encrypt = steps.find((s) => s.step === 'encrypt')!;
      expect(encrypt.at - payload.at, 'the server paused before encrypting and sending').toBeGreaterThanOrEqual(1000);
    });
  });

  test('break it: 429 and 500 are retried, a wrong VAPID key is a configuration fault, an expired subscription is pruned', async ({ home, kit }) => {
    test.slow();
    const flow = new FlowPanel(home.page);
    let endpoint = '';
    await test.step('enable', async () => {
      endpoint = (await enableAndFollow(home, flow)).endpoint;
    });

    await test.step('throttled (429 with Retry-After): the server waits, retries, and the push arrives', async () => {
      const from = await flow.count();
      await flow.breakButton('Throttle (429)').click();
      const steps = await flow.waitForSequence(from, ['server:break', 'push-service:response', 'server:retry', 'push-service:response', 'server:outcome']);
      const [first, , second] = steps.filter((s) => ['response', 'retry'].includes(s.step));
      expect(field(first, 'status')).toMatch(/^429/);
      expect(field(first, 'Retry-After')).toBe('2');
      expect(field(second, 'status')).toMatch(/^201/);
      const retry = steps.find((s) => s.step === 'retry');
      expect(field(retry, 'wait')).toBe('2s');
      expect(field(steps.find((s) => s.step === 'outcome'), 'outcome')).toBe('sent');
      await expect(flow.log.getByText('As expected', { exact: false }).last()).toBeVisible();
    });

    await test.step('push service error (500 twice): backoff, retried, sent', async () => {
      const from = await flow.count();
      await flow.breakButton('Push service error (500)').click();
      const steps = await flow.waitForSequence(from, [
        'server:break',
        'push-service:response',
        'server:retry',
        'push-service:response',
        'server:retry',
        'push-service:response',
        'server:outcome',
      ]);
      const statuses = steps.filter((s) => s.step === 'response').map((s) => s.fields.status.split(' ')[0]);
      expect(statuses.slice(-3)).toEqual(['500', '500', '201']);
      expect(field(steps.find((s) => s.step === 'outcome'), 'attempts')).toBe('3');
    });

    await test.step('signed with the wrong VAPID key: 403, a configuration fault, nothing deleted', async () => {
      const from = await flow.count();
      await flow.breakButton('Wrong VAPID key (403)').click();
      const steps = await flow.waitForSequence(from, ['server:break', 'server:vapid', 'push-service:response', 'server:config-fault', 'server:outcome']);
      const vapid = steps.find((s) => s.step === 'vapid');
      expect(field(vapid, 'k')).not.toBe(await kit.api.vapidPublicKey());
      expect(field(steps.find((s) => s.step === 'response'), 'status')).toMatch(/^403/);
      expect(field(steps.find((s) => s.step === 'config-fault'), 'deleted')).toBe('false');
      expect(field(steps.find((s) => s.step === 'outcome'), 'outcome')).toBe('unauthorized');
      await expect(home.status.getByText('Server: stores this subscription')).toBeVisible();
      // The next push, signed with the right key, goes through.
      expect((await kit.api.testSend(endpoint, { title: 'right key again', tag: 'right-key' })).status).toBe(200);
    });

    await test.step('the subscription expires (410): pruned, and the page offers to subscribe again', async () => {
      const from = await flow.count();
      await flow.breakButton('Expire the subscription (410)').click();
      const steps = await flow.waitForSequence(from, ['server:break', 'push-service:response', 'server:prune', 'server:outcome']);
      expect(field(steps.find((s) => s.step === 'response'), 'status')).toMatch(/^410/);
      expect(field(steps.find((s) => s.step === 'prune'), 'deleted')).toBe('true');
      expect((await kit.api.testSend(endpoint, { title: 'to the pruned row' })).status).toBe(404);
      await flow.subscribeAgain.click();
      await expect(home.status.getByText('Server: stores this subscription')).toBeVisible();
      const renewed = await home.waitForSubscription();
      expect(renewed.endpoint).not.toBe(endpoint);
      await expect(flow.log.getByText('Following this subscription\'s pushes live').last()).toBeVisible();
    });
  });
});

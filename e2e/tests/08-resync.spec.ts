import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, expect } from '../fixtures';
import { freePorts, vapidKeyPair } from '../lib/kit.mjs';

// The two tests share nothing (the rotation runs a kit of its own): they can
// run on different workers.
test.describe.configure({ mode: 'parallel' });

test('reload re-syncs a subscription the server lost', async ({ home, kit }) => {
  let endpoint = '';

  await test.step('enable', async () => {
    endpoint = (await home.enable()).endpoint;
  });

  await test.step('the server loses the row', async () => {
    expect(await kit.api.unsubscribe(endpoint)).toBe(204);
    expect((await kit.api.testSend(endpoint, { title: 'x' })).status).toBe(404);
  });

  await test.step('a reload upserts the same subscription again', async () => {
    await home.reload();
    await expect(home.status.getByText('Server: stores this subscription')).toBeVisible();
    expect((await home.subscription())?.endpoint).toBe(endpoint);
  });

  await test.step('and a test send reaches the browser', async () => {
    const { status, body } = await kit.api.testSend(endpoint, { title: 'after the reload' });
    expect(status, JSON.stringify(body)).toBe(200);
    const [n] = await home.waitForNotifications(1);
    expect(n.title).toBe('after the reload');
  });
});

test('after a VAPID key rotation the page subscribes again with the new key', async ({ startKit, openProfile }) => {
  // A kit of this test's own, restarted on the same port and data directory
  // with a new key pair the second time. The push service is the shared
  // kit's and keeps running, as a real one does while a server restarts.
  const [port] = await freePorts(1);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushstart-rotation-'));
  const first = vapidKeyPair();
  const second = vapidKeyPair();

  const kit1 = await startKit({
    port,
    dataDir,
    env: { VAPID_PUBLIC_KEY: first.publicKey, VAPID_PRIVATE_KEY: first.privateKey },
  });
  const { home } = await openProfile({ kit: kit1 });
  let oldEndpoint = '';

  await test.step('subscribe with the first key', async () => {
    expect(await kit1.api.vapidPublicKey()).toBe(first.publicKey);
    oldEndpoint = (await home.enable()).endpoint;
    expect(await home.applicationServerKey()).toBe(first.publicKey);
  });

  const kit2 = await test.step('restart the kit with a new key pair', async () => {
    await kit1.stop();
    const k = await startKit({
      port,
      dataDir,
      env: { VAPID_PUBLIC_KEY: second.publicKey, VAPID_PRIVATE_KEY: second.privateKey },
    });
    expect(k.url).toBe(kit1.url);
    expect(await k.api.vapidPublicKey()).toBe(second.publicKey);
    return k;
  });

  let newEndpoint = '';
  await test.step('a reload subscribes again with the new key', async () => {
    await home.reload();
    await expect.poll(() => home.applicationServerKey()).toBe(second.publicKey);
    await expect(home.status.getByText('Server: stores this subscription')).toBeVisible();
    newEndpoint = (await home.subscription())!.endpoint;
    expect(newEndpoint).not.toBe(oldEndpoint);
  });

  await test.step('a push signed with the new key reaches the browser', async () => {
    const { status, body } = await kit2.api.testSend(newEndpoint, { title: 'signed with the new key' });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.outcome).toBe('sent');
    const [n] = await home.waitForNotifications(1);
    expect(n.title).toBe('signed with the new key');
  });

  await test.step('the old subscription is no longer stored', async () => {
    expect((await kit2.api.testSend(oldEndpoint, { title: 'x' })).status).toBe(404);
  });
});

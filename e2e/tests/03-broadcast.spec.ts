import { test, expect } from '../fixtures';

test('an admin broadcast reaches two independent browser profiles, once each', async ({ startKit, openProfile }) => {
  // A kit of this test's own, so that the broadcast's counts are exactly this
  // test's two subscriptions and no other test's.
  const kit = await startKit();
  const a = await openProfile({ kit });
  const b = await openProfile({ kit });
  const endpoints: string[] = [];

  await test.step('both profiles enable notifications', async () => {
    endpoints.push((await a.home.enable()).endpoint);
    endpoints.push((await b.home.enable()).endpoint);
    expect(endpoints[0]).not.toBe(endpoints[1]);
  });

  const since = await kit.push.lastSeq();
  const title = `Broadcast ${Date.now()}`;

  await test.step('the admin API broadcasts one notification', async () => {
    // No tag: a second copy would show as a second notification rather than
    // replace the first.
    const summary = await kit.api.broadcast({ title, body: 'to everyone' });
    expect(summary).toMatchObject({ status: 'done', total: 2, sent: 2, failed: 0, pruned: 0 });
  });

  await test.step('each profile shows it once', async () => {
    for (const p of [a, b]) {
      const [n] = await p.home.waitForNotifications(1);
      expect(n.title).toBe(title);
    }
  });

  await test.step('the server pushed once to each endpoint, and it was delivered once', async () => {
    for (const ep of endpoints) {
      expect(await kit.push.pushStatuses(ep, since), `pushes to ${ep}`).toEqual([201]);
      expect(await kit.push.eventsFor(ep, since, 'deliver'), `deliveries to ${ep}`).toHaveLength(1);
    }
    for (const p of [a, b]) expect(await p.home.notifications()).toHaveLength(1);
  });
});

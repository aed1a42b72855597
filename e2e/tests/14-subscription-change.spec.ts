import { test, expect } from '../fixtures';

// The local push service's "reset" fault forgets the browser that owns a
// subscription, as a push service that lost a client's record does. Firefox
// learns it the way autopush tells it: its connection drops, its next hello
// is answered with a new uaid, and it drops every subscription and fires
// pushsubscriptionchange (about 1 s later, with oldSubscription and no
// newSubscription; measured with Firefox ESR 153).
test('the push service forgets the browser: the worker subscribes again and the server replaces the row', async ({
  browserName,
  startKit,
  openProfile,
}) => {
  test.skip(
    browserName === 'chromium',
    'Chromium never fires pushsubscriptionchange for anything a push service does. In Chromium 156 ' +
      '(chrome/browser/push_messaging/push_messaging_service_impl.cc) the event fires only behind ' +
      '--enable-features=PushSubscriptionChangeEvent (off by default), and then only when the notification ' +
      'permission is revoked or a subscription made with PushSubscriptionWithExpirationTime is found expired at ' +
      'start-up; OnSubscriptionInvalidation, the refresh path, has no caller. A GCM store reset (a check-in ' +
      'answered 401) drops every subscription silently (OnStoreReset: "TODO(johnme): Fire pushsubscriptionchange"). ' +
      'Tried with the switch on: after the reset fault no event came, and pushes to the old endpoint get 410.',
  );
  // A kit and a Firefox of this test's own: the reset drops every
  // subscription of that Firefox.
  const kit = await startKit();
  const { home } = await openProfile({ kit, ownBrowser: true });
  let old = '';

  await test.step('enable', async () => {
    old = (await home.enable()).endpoint;
  });

  const since = await kit.push.lastSeq();

  await test.step('the push service forgets this Firefox (reset fault)', async () => {
    await kit.push.fault(old, 'reset');
    await expect.poll(() => kit.push.typesFor(old, since)).toEqual(expect.arrayContaining(['reset', 'unregister']));
  });

  let fresh = '';
  await test.step('Firefox fires pushsubscriptionchange; the worker subscribes again', async () => {
    await expect
      .poll(async () => (fresh = (await home.subscription())?.endpoint ?? ''), {
        message: 'a new subscription in the browser',
        timeout: 20_000,
      })
      .not.toMatch(new RegExp(`^(|${old.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')})$`));
  });

  await test.step('the server replaced the row: the new endpoint is stored, the old one gone', async () => {
    await expect.poll(() => kit.api.knows(fresh, { title: 'probe' }), { message: 'the server stores the new endpoint' }).toBe(true);
    expect(await kit.api.knows(old)).toBe(false);
  });

  await test.step('a push to the new subscription shows a notification; the old endpoint answers 410', async () => {
    const sent = await kit.api.testSend(fresh, { title: 'after the reset', body: 'to the new subscription' });
    expect(sent.status).toBe(200);
    await expect
      .poll(async () => (await home.notifications()).map((n) => n.title), { message: 'the notification is shown' })
      .toContain('after the reset');
    expect(await kit.push.pushStatuses(fresh, since)).toContain(201);
  });
});

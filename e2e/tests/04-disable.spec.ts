import { test, expect } from '../fixtures';
import type { SubscriptionJSON } from '../pages/home';

test('disable: the browser is unsubscribed, the server row is gone, a later push shows nothing', async ({ home, kit }) => {
  let old: SubscriptionJSON;

  await test.step('enable', async () => {
    old = await home.enable();
  });

  const since = await kit.push.lastSeq();

  await test.step('"Disable notifications" unsubscribes the browser', async () => {
    await home.disable();
    await expect.poll(() => home.subscription()).toBeNull();
    await expect
      .poll(() => kit.push.typesFor(old.endpoint, since), { message: 'the push service saw the unsubscription' })
      .toContain('unregister');
  });

  await test.step('the server no longer has the subscription', async () => {
    const { status } = await kit.api.testSend(old.endpoint, { title: 'must not be sent' });
    expect(status).toBe(404);
  });

  await test.step('a push to the old endpoint is refused with 410 and shows nothing', async () => {
    // A copy of the old subscription left somewhere (another server, a
    // backup): put it back through the API and send to it. The push service
    // answers 410 Gone, the server drops the row again.
    const { status } = await kit.api.subscribe(old);
    expect(status).toBe(201);
    const before = await kit.push.lastSeq();
    const res = await kit.api.testSend(old.endpoint, { title: 'to a dead subscription' });
    expect(res.body).toMatchObject({ outcome: 'gone', status: 410, pruned: true });
    expect(await kit.push.pushStatuses(old.endpoint, before)).toEqual([410]);
    expect((await kit.api.testSend(old.endpoint, { title: 'x' })).status).toBe(404);
    expect(await kit.push.eventsFor(old.endpoint, before, 'deliver')).toHaveLength(0);
    expect(await home.notifications()).toHaveLength(0);
  });
});

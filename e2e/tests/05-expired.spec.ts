import { test, expect } from '../fixtures';

test('an expired subscription (410 from the push service) is pruned by the server', async ({ kit, home }) => {
  // On the shared kit, the broadcasts go to this test's subscription alone
  // (an audience of its endpoint), so their counts are this test's.
  let endpoint = '';

  await test.step('enable', async () => {
    endpoint = (await home.enable()).endpoint;
  });

  const since = await kit.push.lastSeq();

  await test.step('the push service will answer 410 Gone for this subscription', async () => {
    await kit.push.fault(endpoint, '410');
  });

  await test.step('an admin broadcast prunes it', async () => {
    const summary = await kit.api.broadcast({ title: 'to an expired subscription' }, { to: { endpoints: [endpoint] } });
    expect(summary).toMatchObject({ total: 1, sent: 0, pruned: 1 });
    expect(await kit.push.pushStatuses(endpoint, since)).toEqual([410]);
  });

  await test.step('the subscription is gone from the server, and nothing was shown', async () => {
    expect((await kit.api.testSend(endpoint, { title: 'x' })).status).toBe(404);
    expect((await kit.api.broadcast({ title: 'to nobody' }, { to: { endpoints: [endpoint] } })).total).toBe(0);
    expect(await kit.push.eventsFor(endpoint, since, 'deliver')).toHaveLength(0);
    expect(await home.notifications()).toHaveLength(0);
  });
});

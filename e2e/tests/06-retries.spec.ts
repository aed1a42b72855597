import { test, expect } from '../fixtures';

test('429 with Retry-After, then 500s: the server retries and the notification arrives once', async ({ home, kit }) => {
  let endpoint = '';

  await test.step('enable', async () => {
    endpoint = (await home.enable()).endpoint;
  });

  const since = await kit.push.lastSeq();

  await test.step('a test send meets 429 (Retry-After: 1), then 500 twice, and succeeds on the fourth attempt', async () => {
    // The push service holds one armed fault per endpoint, so the 500s are
    // armed once the 429 has been answered, while the server waits out the
    // Retry-After second.
    await kit.push.fault(endpoint, '429', { count: 1, retryAfter: 1 });
    const started = Date.now();
    const sending = kit.api.testSend(endpoint, { title: 'after retries', tag: 'retries' });
    await expect.poll(() => kit.push.pushStatuses(endpoint, since), { intervals: [50] }).toEqual([429]);
    await kit.push.fault(endpoint, '500', { count: 2 });
    const { status, body } = await sending;
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ outcome: 'sent', status: 201, attempts: 4 });
    // Retry-After: 1 was honoured before the second attempt.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  await test.step('the push service saw 429, 500, 500, 201 and one delivery', async () => {
    expect(await kit.push.pushStatuses(endpoint, since)).toEqual([429, 500, 500, 201]);
    await expect.poll(async () => (await kit.push.eventsFor(endpoint, since, 'deliver')).length).toBe(1);
  });

  await test.step('the browser shows the notification exactly once', async () => {
    const [n] = await home.waitForNotifications(1);
    expect(n.title).toBe('after retries');
  });
});

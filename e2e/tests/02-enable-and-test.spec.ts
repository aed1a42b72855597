import { test, expect } from '../fixtures';
import type { Notification } from '../lib/api';

test('enable, then the test notification shows exactly what was sent', async ({ home, kit, browserName }) => {
  const since = await kit.push.lastSeq();
  let endpoint = '';

  await test.step('"Enable notifications" subscribes at the local push service', async () => {
    endpoint = (await home.enable()).endpoint;
    await expect
      .poll(() => kit.push.typesFor(endpoint, since), { message: 'the push service saw the registration' })
      .toContain('register');
  });

  await test.step('"Send test notification" sends the page\'s own title and body', async () => {
    const title = `Hello ${browserName} ${Date.now()}`;
    const body = 'Sent from the page through the server and the push service.';
    const before = await kit.push.lastSeq();
    await home.sendTest(title, body);
    const [n] = await home.waitForNotifications(1);
    expect(n.title).toBe(title);
    expect(n.body).toBe(body);
    // The server had the subscription (it sends to stored subscriptions only),
    // and the push really went through the push service to this browser.
    const types = await kit.push.typesFor(endpoint, before);
    expect(types.filter((t) => t.startsWith('push'))).toHaveLength(1);
    await expect(home.page.locator('#test-outcome')).toContainText('"sent"');
  });

  await test.step('a full payload arrives field for field', async () => {
    const nested = { n: 1, list: [true, null, 'x'] };
    const sent: Notification = {
      title: 'Order 4711 shipped',
      body: 'Your parcel is on its way: ✓ ünïcödé <b>not bold</b> & "quotes"',
      icon: '/web/icon-192.png',
      tag: `order-4711-${browserName}`,
      actions: [
        { action: 'track', title: 'Track parcel' },
        { action: 'dismiss', title: 'Dismiss' },
      ],
      data: { url: '/?order=4711', actionUrls: { track: '/?track=4711' }, nested },
    };
    const { status, body } = await kit.api.testSend(endpoint, sent);
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.outcome).toBe('sent');

    const shown = await home.waitForNotifications(2);
    const n = shown.find((x) => x.tag === sent.tag);
    expect(n, `a notification tagged ${sent.tag} among ${JSON.stringify(shown)}`).toBeTruthy();
    expect(n!.title).toBe(sent.title);
    expect(n!.body).toBe(sent.body);
    expect(n!.icon).toBe(new URL(sent.icon!, kit.url).href);
    expect(n!.tag).toBe(sent.tag);
    // The server sent a Declarative Web Push message: data.url became the
    // notification's navigate, actionUrls each action's (the notification's
    // own for an action without one), and the worker keeps both beside the
    // rest of data in its envelope.
    const page = (path: string) => new URL(path, kit.url).href;
    expect(n!.data).toMatchObject({
      envelope: 'pushstart-message',
      data: { nested },
      navigate: page('/?order=4711'),
      actionNavigate: { track: page('/?track=4711'), dismiss: page('/?order=4711') },
    });
    expect(n!.actions?.map(({ action, title }) => ({ action, title }))).toEqual(sent.actions);
  });
});

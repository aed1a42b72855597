import { createECDH, randomBytes, randomUUID } from 'node:crypto';
import { test, expect } from '../fixtures';

/** A well-formed subscription the server would accept, for an endpoint nobody uses. */
function fakeSubscription(pushServiceURL: string) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return {
    // The shape of the endpoints the local push service hands out, the only
    // ones the kit accepts on its port.
    endpoint: `${pushServiceURL}/wpush/${randomUUID()}`,
    expirationTime: null,
    keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') },
  };
}

test.describe('cross-origin requests to the subscription API', () => {
  test('a page on another origin cannot store a subscription', async ({ openProfile, kit }) => {
    // http://localhost:P and http://127.0.0.1:P are different origins (and
    // sites) served by the same kit: the page opened at localhost plays the
    // foreign site.
    const { page } = await openProfile({ permission: 'default', open: false });
    const api = `${kit.url}/api/subscriptions`;
    const foreign = kit.url.replace('127.0.0.1', 'localhost');
    const sub = fakeSubscription(kit.browserConfig.url);

    await test.step('control: the same request from the kit\'s own origin is accepted', async () => {
      const control = fakeSubscription(kit.browserConfig.url);
      await page.goto(`${kit.url}/`);
      const status = await page.evaluate(
        async ([url, body]) => (await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body })).status,
        [api, JSON.stringify(control)] as const,
      );
      expect(status).toBe(201);
      expect(await kit.api.unsubscribe(control.endpoint)).toBe(204);
    });

    await test.step('from another origin, the browser sends the POST and the server answers 403', async () => {
      await page.goto(`${foreign}/`);
      expect(new URL(page.url()).origin).not.toBe(new URL(kit.url).origin);
      // A "simple" request (no-cors, text/plain) is sent without a preflight:
      // it is the server, not the browser, that must refuse it. The answer is
      // opaque to the page; Playwright sees it on the network.
      const answer = page.waitForResponse((r) => r.url() === api && r.request().method() === 'POST');
      await page.evaluate(
        async ([url, body]) => {
          await fetch(url, { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body });
        },
        [api, JSON.stringify(sub)] as const,
      );
      const r = await answer;
      expect(r.status()).toBe(403);
    });

    await test.step('and no subscription was stored', async () => {
      expect((await kit.api.testSend(sub.endpoint, { title: 'x' })).status).toBe(404);
    });
  });

  test('a request carrying a foreign Origin is refused with 403', async ({ kit, request }) => {
    const sub = fakeSubscription(kit.browserConfig.url);
    const r = await request.post(`${kit.url}/api/subscriptions`, {
      data: sub,
      headers: { Origin: 'http://evil.example', 'Sec-Fetch-Site': 'cross-site' },
    });
    expect(r.status()).toBe(403);
    expect(await r.json()).toMatchObject({ error: expect.stringMatching(/cross-origin/i) });
    expect((await kit.api.testSend(sub.endpoint, { title: 'x' })).status).toBe(404);

    // The same request without those headers (a script, not a browser) is accepted.
    const ok = await request.post(`${kit.url}/api/subscriptions`, { data: sub });
    expect(ok.status()).toBe(201);
    expect(await kit.api.unsubscribe(sub.endpoint)).toBe(204);
  });
});

import { test, expect } from '../fixtures';

test('an oversized test notification gets a clear error in the page and nothing is sent', async ({ home, kit }) => {
  let endpoint = '';

  await test.step('enable', async () => {
    endpoint = (await home.enable()).endpoint;
  });

  const since = await kit.push.lastSeq();

  await test.step('fill the form with more than 4 KB', async () => {
    // "<" is 1 byte in the field but 6 bytes of JSON ("\u003c"), so even the
    // field's own length limits leave a message far over one push record.
    const big = '<'.repeat(5000);
    await home.titleField.fill(big.slice(0, 300));
    await home.bodyField.fill(big);
    await home.sendTestButton.click();
  });

  await test.step('the page shows an error naming the limit', async () => {
    await expect(home.alert).toBeVisible();
    await expect(home.alert).toContainText(/\b(3993|4096|256|1024)\b/);
  });

  await test.step('nothing reached the push service or the browser', async () => {
    expect(await kit.push.eventsFor(endpoint, since, 'push')).toHaveLength(0);
    expect(await home.notifications()).toHaveLength(0);
  });
});

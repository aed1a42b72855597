import { test, expect } from '../fixtures';

test('an oversized test notification gets a clear error in the page and nothing is sent', async ({ home, kit }) => {
  let endpoint = '';

  await test.step('enable', async () => {
    endpoint = (await home.enable()).endpoint;
  });

  const since = await kit.push.lastSeq();

  await test.step('fill the form with a message of more than 4 KB', async () => {
    // Within the fields' own limits (256 and 1024 characters), but "<" is
    // 6 bytes of JSON ("\u003c"): about 7.8 KB, far over one push record.
    await home.titleField.fill('<'.repeat(256));
    await home.bodyField.fill('<'.repeat(1024));
    await home.sendTestButton.click();
  });

  await test.step('the page shows an error naming the limit', async () => {
    await expect(home.alert).toBeVisible();
    await expect(home.alert).toContainText(/at most 3993/);
  });

  await test.step('nothing reached the push service or the browser', async () => {
    expect(await kit.push.eventsFor(endpoint, since, 'push')).toHaveLength(0);
    expect(await home.notifications()).toHaveLength(0);
  });
});

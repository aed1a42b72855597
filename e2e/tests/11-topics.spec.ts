import { test, expect } from '../fixtures';

test('a broadcast to a topic reaches the browser that ticked it, one to another topic reaches no one', async ({
  startKit,
  openProfile,
  browserName,
}) => {
  // A kit of this test's own, so that the broadcasts' totals count this
  // test's subscription alone, not those of tests running beside it.
  const kit = await startKit();
  const { home, page } = await openProfile({ kit });
  const topics = page.getByRole('group', { name: 'Topics' });
  const news = topics.getByRole('checkbox', { name: 'News' });
  const reminders = topics.getByRole('checkbox', { name: 'Reminders' });
  let endpoint = '';

  await test.step('no topics before notifications are enabled', async () => {
    await expect(topics).toHaveCount(0);
  });

  await test.step('enable notifications: the topics show, none ticked', async () => {
    endpoint = (await home.enable()).endpoint;
    await expect(page.getByText('Stored on the server: no topics')).toBeVisible();
    await expect(news).not.toBeChecked();
    await expect(reminders).not.toBeChecked();
  });

  await test.step('tick "News": the server stores it', async () => {
    await expect(news).toBeEnabled();
    await news.check();
    await expect(page.getByText('Stored on the server: news')).toBeVisible();
    await expect(news).toBeChecked();
    await expect(news).toBeEnabled(); // the save is over
    await expect(reminders).not.toBeChecked();
    await expect(home.alert).toHaveCount(0);
  });

  await test.step('a reload re-syncs without losing the topic', async () => {
    await home.reload();
    await expect(home.status.getByText('Server: stores this subscription')).toBeVisible();
    await expect(page.getByText('Stored on the server: news')).toBeVisible();
    await expect(news).toBeChecked();
  });

  const since = await kit.push.lastSeq();
  const title = `News for ${browserName} ${Date.now()}`;

  await test.step('a broadcast to "news" reaches this browser', async () => {
    const accepted = await kit.api.startBroadcast({ title, body: 'to the news topic' }, { to: { tags: ['news'] } });
    expect(accepted.id).toBeTruthy();
    const done = await kit.api.waitForBroadcast(accepted.id);
    expect(done).toMatchObject({ status: 'done', total: 1, sent: 1, failed: 0, pruned: 0, skipped: 0 });
    const [n] = await home.waitForNotifications(1);
    expect(n.title).toBe(title);
  });

  await test.step('a broadcast to "reminders" reaches no one', async () => {
    const accepted = await kit.api.startBroadcast({ title: 'A reminder', body: 'to the reminders topic' }, { to: { tags: ['reminders'] } });
    const done = await kit.api.waitForBroadcast(accepted.id);
    expect(done).toMatchObject({ status: 'done', total: 0, sent: 0, failed: 0, pruned: 0 });
    // Only the news broadcast was pushed to this browser, and only it shows.
    expect(await kit.push.pushStatuses(endpoint, since), `pushes to ${endpoint}`).toEqual([201]);
    const shown = await home.notifications();
    expect(shown.map((n) => n.title)).toEqual([title]);
  });
});

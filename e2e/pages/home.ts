import { expect, type Locator, type Page } from '@playwright/test';

/** What registration.getNotifications() says about one shown notification. */
export type ShownNotification = {
  title: string;
  body: string;
  icon: string;
  badge: string;
  tag: string;
  data: unknown;
  actions: Array<{ action: string; title: string; icon?: string }> | undefined;
  requireInteraction: boolean;
  silent: boolean | null;
};

/** The subscription as PushSubscription.toJSON() gives it. */
export type SubscriptionJSON = {
  endpoint: string;
  expirationTime: number | null;
  keys: { p256dh: string; auth: string };
};

/**
 * The kit's home page: the buttons and fields a user sees, found by role and
 * name, plus reads of the browser's own Push API state (which the page does
 * not have to show) for assertions.
 */
export class HomePage {
  readonly enableButton: Locator;
  readonly disableButton: Locator;
  readonly sendTestButton: Locator;
  readonly titleField: Locator;
  readonly bodyField: Locator;
  /** Errors the page shows. */
  readonly alert: Locator;
  /** The status list: support, permission, subscription, server. */
  readonly status: Locator;

  /**
   * Waits until the browser has finished showing count notifications, when
   * the browser can tell (Chromium: the fixtures set it to
   * watchChromiumPush's settle); reading getNotifications() before that can
   * lose a notification in Chromium.
   */
  settle: (count: number, timeout?: number) => Promise<void> = async () => {};

  constructor(readonly page: Page, readonly baseURL: string) {
    this.enableButton = page.getByRole('button', { name: 'Enable notifications' });
    this.disableButton = page.getByRole('button', { name: 'Disable notifications' });
    this.sendTestButton = page.getByRole('button', { name: 'Send test notification' });
    this.titleField = page.getByRole('textbox', { name: 'Title', exact: true });
    this.bodyField = page.getByRole('textbox', { name: 'Body', exact: true });
    this.alert = page.getByRole('alert');
    this.status = page.getByRole('status');
  }

  /** Expects the status list to show the permission state (default, granted, denied). */
  async expectPermissionShown(state: 'default' | 'granted' | 'denied') {
    await expect(this.status.getByText(`Permission: ${state}`, { exact: true })).toBeVisible();
  }

  /** Expects the status list to say whether this browser is subscribed. */
  async expectSubscribedShown(subscribed: boolean) {
    await expect(this.status.getByText(subscribed ? 'Subscribed' : 'Not subscribed', { exact: true })).toBeVisible();
  }

  /** Opens the page and waits until the WebAssembly app has rendered it. */
  async goto() {
    await this.page.goto(`${this.baseURL}/`);
    await this.waitReady();
  }

  /**
   * Reloads the page and waits until it has rendered again (not for its
   * re-sync with the server, which callers wait for as they need).
   */
  async reload() {
    await this.page.reload();
    await expect(this.enableButton.or(this.disableButton).first()).toBeVisible({ timeout: 30_000 });
  }

  /**
   * The page is ready when the WebAssembly app has rendered and finished its
   * load-time check (support, permission, existing subscription).
   */
  async waitReady() {
    await expect(this.enableButton.or(this.disableButton).first()).toBeVisible({ timeout: 30_000 });
    await expect(this.status.getByText(/^(Subscribed|Not subscribed)$/)).toBeVisible();
  }

  /**
   * Clicks "Enable notifications" and waits until the page says it is
   * subscribed and the server stores the subscription; returns the browser's
   * subscription.
   */
  async enable(): Promise<SubscriptionJSON> {
    await this.enableButton.click();
    await this.expectSubscribedShown(true);
    await expect(this.status.getByText('Server: stores this subscription')).toBeVisible();
    await expect(this.disableButton).toBeEnabled();
    return this.waitForSubscription();
  }

  /** Clicks "Disable notifications" and waits until the page says it is not subscribed. */
  async disable() {
    await this.disableButton.click();
    await this.expectSubscribedShown(false);
    await expect(this.enableButton).toBeVisible();
  }

  /** Fills the test form and clicks "Send test notification". */
  async sendTest(title: string, body: string) {
    await this.titleField.fill(title);
    await this.bodyField.fill(body);
    await this.sendTestButton.click();
  }

  /** Notification.permission, as the page's own script sees it. */
  permission(): Promise<string> {
    return this.page.evaluate(() => Notification.permission);
  }

  /** The browser's current push subscription, or null. */
  subscription(): Promise<SubscriptionJSON | null> {
    return this.page.evaluate(async () => {
      const reg = await navigator.serviceWorker.getRegistration();
      const sub = await reg?.pushManager.getSubscription();
      return sub ? (sub.toJSON() as SubscriptionJSON) : null;
    });
  }

  /** Waits for the browser's push subscription and returns it. */
  async waitForSubscription(): Promise<SubscriptionJSON> {
    let sub: SubscriptionJSON | null = null;
    await expect
      .poll(async () => (sub = await this.subscription())?.endpoint ?? null, { message: 'the browser has a push subscription' })
      .not.toBeNull();
    return sub!;
  }

  /** The applicationServerKey of the current subscription, base64url, or null. */
  applicationServerKey(): Promise<string | null> {
    return this.page.evaluate(async () => {
      const reg = await navigator.serviceWorker.getRegistration();
      const sub = await reg?.pushManager.getSubscription();
      const key = sub?.options.applicationServerKey;
      if (!key) return null;
      let s = '';
      for (const b of new Uint8Array(key)) s += String.fromCharCode(b);
      return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    });
  }

  /** The notifications the service worker has shown and that are still open. */
  notifications(): Promise<ShownNotification[]> {
    return this.page.evaluate(async () => {
      const reg = await navigator.serviceWorker.ready;
      const list = await reg.getNotifications();
      return list.map((n) => ({
        title: n.title,
        body: n.body,
        icon: n.icon,
        badge: n.badge,
        tag: n.tag,
        // structured clone of data, and plain objects for the actions
        data: n.data,
        actions: 'actions' in n ? JSON.parse(JSON.stringify((n as any).actions)) : undefined,
        requireInteraction: n.requireInteraction,
        silent: n.silent,
      }));
    });
  }

  /** Waits until exactly count notifications are shown, and returns them. */
  async waitForNotifications(count: number, timeout?: number): Promise<ShownNotification[]> {
    await this.settle(count, timeout);
    let shown: ShownNotification[] = [];
    await expect
      .poll(async () => (shown = await this.notifications()).length, { message: `${count} notification(s) shown`, timeout })
      .toBe(count);
    return shown;
  }
}

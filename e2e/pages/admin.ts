import { expect, type Locator, type Page } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';
import { e2eDir } from '../lib/kit.mjs';

/** The tabs of the signed-in console. */
export type AdminTab = 'Compose' | 'Broadcasts' | 'Subscriptions' | 'Delivery log';

/**
 * The admin console at /admin: sign-in, the tabs, and the parts of each
 * panel the specs read, found by role and label where the page gives one.
 */
export class AdminPage {
  readonly tokenField: Locator;
  readonly signInButton: Locator;
  readonly signOutButton: Locator;
  readonly tokenError: Locator;

  constructor(readonly page: Page, readonly baseURL: string) {
    this.tokenField = page.getByLabel('Admin token', { exact: true });
    this.signInButton = page.getByRole('button', { name: 'Sign in', exact: true });
    this.signOutButton = page.getByRole('button', { name: 'Sign out', exact: true });
    this.tokenError = page.locator('#admin-token-error');
  }

  async goto() {
    await this.page.goto(`${this.baseURL}/admin`);
  }

  /** Signs in with token; whether it worked is for the caller to check. */
  async signIn(token: string) {
    await this.tokenField.fill(token);
    await this.signInButton.click();
  }

  tab(name: AdminTab): Locator {
    return this.page.getByRole('tab', { name, exact: true });
  }

  async open(name: AdminTab) {
    await this.tab(name).click();
    await expect(this.tab(name)).toHaveAttribute('aria-selected', 'true');
  }

  /** A compose field by its label. */
  field(label: string): Locator {
    return this.page.getByLabel(label, { exact: true });
  }

  /** The error shown at the compose input with that id (compose-title, ...). */
  fieldError(inputID: string): Locator {
    return this.page.locator(`#${inputID}-error`);
  }

  get preview(): Locator {
    return this.page.locator('.notification-preview');
  }

  get payloadJSON(): Locator {
    return this.page.locator('pre.payload-json');
  }

  get payloadSize(): Locator {
    return this.page.locator('p.payload-size');
  }

  get sendButton(): Locator {
    return this.page.locator('#compose-send');
  }

  get sendToMeButton(): Locator {
    return this.page.locator('#compose-send-to-me');
  }

  /** The row of a broadcast in the Broadcasts tab. */
  broadcastRow(id: string): Locator {
    return this.page.locator(`tr[data-broadcast-id="${id}"]`);
  }

  /** The first broadcast row whose title is title. */
  broadcastRowByTitle(title: string): Locator {
    return this.page.locator('tr[data-broadcast-id]').filter({ has: this.page.locator('th[scope=row]', { hasText: title }) });
  }

  /** A number of the open funnel: sent, shown, clicked, closed or ctr. */
  funnel(name: 'sent' | 'shown' | 'clicked' | 'closed' | 'ctr'): Locator {
    return this.page.locator(`section.funnel dd[data-funnel="${name}"]`);
  }

  stat(key: string): Locator {
    return this.page.locator(`dd[data-stat="${key}"]`);
  }

  /**
   * Saves a screenshot of the page into docs/screenshots for the README, when
   * the run was asked to (E2E_SCREENSHOTS=1, as `make screenshots` does).
   */
  async screenshot(name: string) {
    if (!process.env.E2E_SCREENSHOTS) return;
    const dir = path.join(e2eDir, '..', 'docs', 'screenshots');
    fs.mkdirSync(dir, { recursive: true });
    await this.page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
  }
}

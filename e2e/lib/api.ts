import { expect, type APIRequestContext } from '@playwright/test';
import type { BrowserConfig } from '@pushstart/pushtest';
import type { SubscriptionJSON } from '../pages/home';

/** A notification as the kit's payload contract has it (push.Notification). */
export type Notification = {
  title: string;
  body?: string;
  icon?: string;
  badge?: string;
  image?: string;
  tag?: string;
  renotify?: boolean;
  requireInteraction?: boolean;
  silent?: boolean;
  lang?: string;
  dir?: string;
  timestamp?: number;
  actions?: Array<{ action: string; title: string; icon?: string }>;
  data?: unknown;
};

export type SendResult = {
  outcome: 'sent' | 'gone' | 'failed' | 'rejected' | 'unauthorized';
  status: number;
  attempts: number;
  pruned: boolean;
  error?: string;
};

/** Who a broadcast goes to (api.Audience): one of the three; absent means everyone. */
export type Audience = { tags?: string[]; users?: string[]; endpoints?: string[] };

/** A broadcast and its progress (api.BroadcastStatus). */
export type BroadcastStatus = {
  id: string;
  status: 'scheduled' | 'queued' | 'sending' | 'done' | 'canceled';
  title: string;
  audience: string;
  total: number;
  sent: number;
  failed: number;
  pruned: number;
  skipped: number;
  createdAt: string;
  sendAt?: string;
  startedAt?: string;
  finishedAt?: string;
};

/**
 * The kit's HTTP API, called the way a script or an admin would: no Origin
 * or Sec-Fetch-Site header, so cross-origin protection lets it through.
 */
export class KitAPI {
  constructor(
    readonly request: APIRequestContext,
    readonly url: string,
    readonly adminToken: string,
  ) {}

  /** POST /api/subscriptions/test; returns the HTTP status and the reply. */
  async testSend(endpoint: string, notification: Notification): Promise<{ status: number; body: SendResult & { error?: string } }> {
    const r = await this.request.post(`${this.url}/api/subscriptions/test`, { data: { endpoint, notification } });
    return { status: r.status(), body: await r.json().catch(() => ({}) as any) };
  }

  /**
   * POST /api/notifications with the admin token to everyone, then waits
   * until the broadcast is done and returns its final counts.
   */
  async broadcast(
    notification: Notification,
    extra: { ttl?: number; urgency?: string; topic?: string; to?: Audience } = {},
  ): Promise<BroadcastStatus> {
    const accepted = await this.startBroadcast(notification, extra);
    return this.waitForBroadcast(accepted.id);
  }

  /**
   * POST /api/notifications with the admin token, optionally to an audience
   * or at a time: expects 202 Accepted and returns the accepted broadcast,
   * whose pushes go out in the background (see waitForBroadcast).
   */
  async startBroadcast(
    notification: Notification,
    extra: { ttl?: number; urgency?: string; topic?: string; to?: Audience; sendAt?: string } = {},
  ): Promise<BroadcastStatus> {
    const r = await this.request.post(`${this.url}/api/notifications`, {
      headers: { Authorization: `Bearer ${this.adminToken}` },
      data: { notification, ttl: 60, ...extra },
    });
    expect(r.status(), `broadcast answered ${await r.text()}`).toBe(202);
    return r.json();
  }

  /** GET /api/notifications/{id} with the admin token. */
  async broadcastStatus(id: string): Promise<BroadcastStatus> {
    const r = await this.request.get(`${this.url}/api/notifications/${encodeURIComponent(id)}`, {
      headers: { Authorization: `Bearer ${this.adminToken}` },
    });
    expect(r.status(), `GET /api/notifications/${id} answered ${await r.text()}`).toBe(200);
    return r.json();
  }

  /** Polls the broadcast id until it is done (or canceled) and returns its final counts. */
  async waitForBroadcast(id: string, timeout = 30_000): Promise<BroadcastStatus> {
    let last: BroadcastStatus | undefined;
    await expect
      .poll(async () => (last = await this.broadcastStatus(id)).status, {
        message: `broadcast ${id} finished`,
        timeout,
        intervals: [100, 250, 500],
      })
      .toMatch(/^(done|canceled)$/);
    return last!;
  }

  /** POST /api/subscriptions, as the page would. */
  async subscribe(sub: SubscriptionJSON): Promise<{ status: number; body: any }> {
    const r = await this.request.post(`${this.url}/api/subscriptions`, { data: sub });
    return { status: r.status(), body: await r.json().catch(() => ({})) };
  }

  /** DELETE /api/subscriptions. */
  async unsubscribe(endpoint: string): Promise<number> {
    const r = await this.request.delete(`${this.url}/api/subscriptions`, { data: { endpoint } });
    return r.status();
  }

  /** GET /api/vapid-public-key. */
  async vapidPublicKey(): Promise<string> {
    const r = await this.request.get(`${this.url}/api/vapid-public-key`);
    expect(r.status()).toBe(200);
    return (await r.json()).publicKey;
  }

  /** GET /api/local-push. */
  async browserConfig(): Promise<BrowserConfig> {
    const r = await this.request.get(`${this.url}/api/local-push`);
    expect(r.status(), 'GET /api/local-push').toBe(200);
    return r.json();
  }

  /**
   * Whether the server knows endpoint. The API has no read route, so this
   * asks for a test send: 404 means no row. Only for endpoints whose push
   * would be harmless (it shows a notification when the row exists).
   */
  async knows(endpoint: string, notification: Notification = { title: 'probe' }): Promise<boolean> {
    const { status } = await this.testSend(endpoint, notification);
    return status !== 404;
  }
}

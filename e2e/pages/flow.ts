import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, type Locator, type Page } from '@playwright/test';

const e2eDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** One step of the Flow panel, as the page shows it. */
export type FlowStep = {
  actor: string;
  step: string;
  title: string;
  /** The step's named values (its dl), name to value. */
  fields: Record<string, string>;
  detail: string;
  /** When the step happened, in milliseconds since the epoch. */
  at: number;
};

/**
 * The home page's Flow panel: the live log of every step of a push (the
 * page's, the server's, the push service's and the service worker's), its
 * sequence diagram, the "Break it" switches and slow motion.
 */
export class FlowPanel {
  readonly panel: Locator;
  readonly log: Locator;
  readonly diagram: Locator;
  readonly slowMotion: Locator;
  readonly breakCard: Locator;
  readonly subscribeAgain: Locator;

  constructor(readonly page: Page) {
    this.log = page.getByRole('log');
    this.panel = page.locator('#flow');
    this.diagram = page.getByRole('img', { name: 'Sequence diagram of the push flow' });
    this.slowMotion = page.getByRole('checkbox', { name: 'Slow motion' });
    this.breakCard = page.locator('section').filter({ has: page.getByRole('heading', { name: 'Break it', exact: true }) });
    this.subscribeAgain = page.getByRole('button', { name: 'Subscribe again' });
  }

  /** A "Break it" button by its name. */
  breakButton(name: string): Locator {
    return this.breakCard.getByRole('button', { name, exact: true });
  }

  /** Every step shown so far, oldest first. */
  steps(): Promise<FlowStep[]> {
    return this.log.evaluate((ol) =>
      Array.from(ol.querySelectorAll('li.flow-entry')).map((li) => {
        const fields: Record<string, string> = {};
        for (const dt of Array.from(li.querySelectorAll('dt'))) {
          const dd = dt.nextElementSibling;
          if (dd && dd.tagName === 'DD') fields[(dt.textContent ?? '').trim()] = (dd.textContent ?? '').trim();
        }
        return {
          actor: li.getAttribute('data-actor') ?? '',
          step: li.getAttribute('data-step') ?? '',
          title: (li.querySelector('.flow-title')?.textContent ?? '').trim(),
          fields,
          detail: (li.querySelector('pre')?.textContent ?? '').trim(),
          at: Date.parse(li.querySelector('time')?.getAttribute('datetime') ?? ''),
        };
      }),
    );
  }

  /** The number of steps shown so far, to look only at what follows. */
  async count(): Promise<number> {
    return (await this.steps()).length;
  }

  /** The steps after the first `from`. */
  async stepsSince(from: number): Promise<FlowStep[]> {
    return (await this.steps()).slice(from);
  }

  /**
   * Waits until the steps after `from` include, in this order, each of
   * `wanted` ("actor:step"), and returns the steps from the first of them
   * on. Steps of an earlier push that reached the page after `from` was read
   * (its stream or its worker's message late) come before that one and are
   * left out.
   */
  async waitForSequence(from: number, wanted: string[], timeout = 30_000): Promise<FlowStep[]> {
    let got: FlowStep[] = [];
    await expect
      .poll(
        async () => {
          got = await this.stepsSince(from);
          return subsequence(
            got.map((s) => `${s.actor}:${s.step}`),
            wanted,
          );
        },
        { message: `the Flow panel shows ${wanted.join(' → ')}`, timeout, intervals: [100, 250, 500] },
      )
      .toEqual(wanted);
    return got.slice(got.findIndex((s) => `${s.actor}:${s.step}` === wanted[0]));
  }

  /** The first step after `from` of actor and step, or undefined. */
  async find(from: number, actor: string, step: string): Promise<FlowStep | undefined> {
    return (await this.stepsSince(from)).find((s) => s.actor === actor && s.step === step);
  }

  /**
   * Saves a screenshot of the page into docs/screenshots for the README, when
   * the run was asked to (E2E_SCREENSHOTS=1, as `make screenshots` does).
   */
  async screenshot(name: string, startAt?: string) {
    if (!process.env.E2E_SCREENSHOTS) return;
    const dir = path.join(e2eDir, '..', 'docs', 'screenshots');
    fs.mkdirSync(dir, { recursive: true });
    // The panel alone, on a tall window: the diagram, and the log from the
    // newest step called startAt (say, the encryption) on.
    await this.page.setViewportSize({ width: 1280, height: 1300 });
    if (startAt) {
      await this.log
        .locator(`li.flow-entry[data-step="${startAt}"]`)
        .last()
        .evaluate((li) => li.scrollIntoView({ block: 'start' }));
    }
    await this.panel.screenshot({ path: path.join(dir, `${name}.png`) });
  }
}

/** The longest prefix of `wanted` found in `seen` in order (not necessarily adjacent). */
export function subsequence(seen: string[], wanted: string[]): string[] {
  const out: string[] = [];
  let i = 0;
  for (const s of seen) {
    if (i < wanted.length && s === wanted[i]) {
      out.push(s);
      i++;
    }
  }
  return out;
}

/** Decodes base64url (with or without padding) to its bytes' count. */
export function base64urlLength(s: string): number {
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64').length;
}

/** Driving the code-server workbench from Playwright: polling, the command palette, the dashboard's frame. */
import * as path from 'node:path';
import type { Frame, Page } from 'playwright-core';

/** Polls `probe` until it returns something other than undefined/false; fails naming `what` after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 300): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function screenshot(page: Page, dir: string, name: string): Promise<void> {
  await page.screenshot({ path: path.join(dir, `${name}.png`) });
}

/** Runs a command from the palette (F1) by its exact title. */
export async function command(page: Page, title: string, debugShots?: string): Promise<void> {
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
  await page.keyboard.type(title);
  // Click the row with exactly this title ("ConvBERT: Train" also matches "ConvBERT: Stop Training", ranked first).
  const row = await page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label="${title}"], .quick-input-list .monaco-list-row[aria-label^="${title},"]`, { timeout: 15_000 });
  if (debugShots) await screenshot(page, debugShots, `palette-${title.replace(/\W+/g, '-')}`);
  await row.click();
}

/** The dashboard's frame: the webview's inner page, found by the inspection object the app installs. */
export async function dashboardFrame(page: Page): Promise<Frame> {
  // A panel that was hidden and revealed again can leave its old (hidden) frame beside the new one for a while:
  // the visible one is wanted; a hidden one only when no visible one has come after a few seconds.
  const t0 = Date.now();
  return until('the dashboard webview', async () => {
    let hidden: Frame | undefined;
    for (const f of page.frames()) {
      // Shown: laid out (a frame inside a display:none panel has no viewport) and its tab bar visible to Playwright.
      const laidOut = await f.evaluate<boolean | null>("typeof window.__convbertDashboard === 'object' ? window.innerWidth > 0 && window.innerHeight > 0 : null").catch(() => null);
      if (laidOut === null) continue;
      if (laidOut && (await f.locator('vscode-tab-header').first().isVisible().catch(() => false))) return f;
      hidden ??= f;
    }
    return Date.now() - t0 > 5000 ? hidden : undefined;
  }, 60_000, 500);
}

/** Opens a workspace file through Quick Open (Ctrl+P) and waits for its editor. */
export async function quickOpen(page: Page, name: string): Promise<void> {
  await page.keyboard.press('Control+P');
  await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
  await page.keyboard.type(name);
  await page.waitForSelector('.quick-input-list .monaco-list-row', { timeout: 15_000 });
  await page.keyboard.press('Enter');
  await page.waitForSelector(`${EDITOR} .view-lines`, { timeout: 15_000 });
}

/** The text editor (not the chat input, which is a Monaco editor too). */
export const EDITOR = '.editor-instance .monaco-editor';

/** Named checks with a ✔/✘ line each, a screenshot on failure, and the closing "<label>: N passed, M failed" line. */
export class Checks {
  readonly results: { name: string; ok: boolean; detail?: string }[] = [];
  page: Page | undefined;
  private readonly t0 = Date.now();

  constructor(
    private readonly label: string,
    private readonly shots: string,
  ) {}

  log(...a: unknown[]): void {
    console.log(`[${this.label} ${((Date.now() - this.t0) / 1000).toFixed(1)}s]`, ...a);
  }

  async check(name: string, fn: () => Promise<string | void>): Promise<boolean> {
    try {
      const detail = await fn();
      this.results.push({ name, ok: true, ...(detail ? { detail } : {}) });
      this.log(`✔ ${name}${detail ? ` — ${detail}` : ''}`);
      return true;
    } catch (e) {
      const detail = e instanceof Error ? e.message.split('\n')[0] : String(e);
      this.results.push({ name, ok: false, ...(detail ? { detail } : {}) });
      this.log(`✘ ${name} — ${detail}`);
      if (this.page) await screenshot(this.page, this.shots, `${this.label}-failed-${this.results.length}`).catch(() => undefined);
      return false;
    }
  }

  /** Prints the closing line; `extraFailures` counts a crash outside the checks. Returns the exit code. */
  summary(extraFailures = 0): number {
    const passed = this.results.filter((r) => r.ok).length;
    const failed = this.results.length - passed + extraFailures;
    console.log(`${this.label}: ${passed} passed, ${failed} failed`);
    return failed === 0 && passed > 0 ? 0 : 1;
  }
}

/**
 * Drives the real dashboard bundle in headless Chromium: the page is `dashboardHtml(…)` with its real CSP, served
 * with the bundle from a tiny HTTP server on 127.0.0.1; a fake `acquireVsCodeApi` records what the webview posts
 * and keeps its state. Everything the page tries to load from anywhere else is blocked and recorded, as are CSP
 * violations, console errors and warnings, and uncaught exceptions.
 *
 * `page.evaluate` bodies run in the browser; they are written against the small `PageGlobals` interface below
 * because the root tsconfig (which type-checks this file) has no DOM library.
 */
import { after, before } from 'node:test';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import * as esbuild from 'esbuild';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { dashboardHtml } from '../../src/extension/webview-html';
import type { FromWebviewMessage, ToWebviewBody } from '../../src/protocol/webview';
import { toWebview } from '../../src/protocol/webview';
import { THEMES, type ThemeName } from './themes';

export const ROOT = resolve(__dirname, '../..');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
export const SCREENSHOTS = join(ROOT, 'test-results', 'webview');

const BUNDLE_JS = join(ROOT, 'dist/webview/dashboard.js');
const BUNDLE_CSS = join(ROOT, 'dist/webview/dashboard.css');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Makes sure `dist/webview/dashboard.{js,css}` is built from the current sources, with the options of the webview
 * entry in `scripts/build.mjs` (importing that script would build every entry). Skips the work when the bundle is
 * newer than every source it is made from.
 */
export async function ensureBundle(): Promise<void> {
  let built = 0;
  try {
    built = Math.min(statSync(BUNDLE_JS).mtimeMs, statSync(BUNDLE_CSS).mtimeMs);
  } catch {
    built = 0;
  }
  const sources = Math.max(newestMtime(join(ROOT, 'webview/src')), newestMtime(join(ROOT, 'src/protocol')), newestMtime(join(ROOT, 'src/core/cost')));
  if (built > sources) return;
  const result = await esbuild.build({
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    sourcemap: true,
    logLevel: 'warning',
    entryPoints: [join(ROOT, 'webview/src/main.ts')],
    outfile: BUNDLE_JS,
    loader: { '.css': 'css' },
    write: false,
  });
  mkdirSync(join(ROOT, 'dist/webview'), { recursive: true });
  for (const file of result.outputFiles) {
    const tmp = `${file.path}.${process.pid}.tmp`;
    writeFileSync(tmp, file.contents);
    renameSync(tmp, file.path);
  }
}

export interface Served {
  origin: string;
  /** Paths requested from the server, in order. */
  requests: string[];
  nonce: string;
  close(): Promise<void>;
}

/** Serves `/` (the dashboard HTML) and the bundle. */
export async function serve(): Promise<Served> {
  const requests: string[] = [];
  const nonce = randomBytes(16).toString('base64');
  let origin = '';
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push(path);
    const send = (type: string, body: string | Buffer) => {
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (path === '/') {
      send(
        'text/html; charset=utf-8',
        dashboardHtml({ scriptUri: `${origin}/dist/webview/dashboard.js`, styleUri: `${origin}/dist/webview/dashboard.css`, cspSource: origin, nonce, title: 'ConvBERT Studio dashboard' }),
      );
    } else if (path === '/dist/webview/dashboard.js') send('text/javascript; charset=utf-8', readFileSync(BUNDLE_JS));
    else if (path === '/dist/webview/dashboard.css') send('text/css; charset=utf-8', readFileSync(BUNDLE_CSS));
    else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    requests,
    nonce,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not at ${CHROMIUM}: install it (Debian: apt-get install chromium) or set CHROMIUM_PATH`);
  return chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, headless: true, timeout: 30_000 });
}

/** What the init script puts on `window`, for `page.evaluate` bodies. */
export interface PageGlobals {
  __test: { posted: FromWebviewMessage[]; state: unknown; violations: { directive: string; blocked: string; sample: string }[] };
  __convbertDashboard: {
    charts(): Record<string, ChartInfo>;
    view(): Record<string, unknown>;
    dropped(): string[];
    renders(): Record<string, number>;
    settled(): Promise<void>;
  };
  postMessage(message: unknown, target: string, transfer?: unknown[]): void;
}
export interface ChartInfo {
  type: string;
  labels: unknown[];
  datasets: { label: string; role?: string; runId?: string; kind?: string; hidden: boolean; data: unknown[]; borderColor: unknown; backgroundColor: unknown }[];
  scales: Record<string, { type: string; min: number; max: number; title: string; ticks: number[]; tickColor: unknown; gridColor: unknown }>;
  area: { left: number; top: number; right: number; bottom: number };
  tooltip?: { title: string[]; body: string[] };
  width: number;
  height: number;
}

/**
 * Runs in the page before any of its scripts: the fake VS Code API, the theme (variables on <html>, class on
 * <body>, as VS Code does), the CSP listener. Plain JavaScript text: a compiled function would carry tsx's
 * helpers (`__name`) that do not exist in the page.
 */
function initScript(arg: { state: unknown; vars: Record<string, string>; bodyClass: string }): string {
  return `(() => {
  const arg = ${JSON.stringify(arg)};
  const test = { posted: [], state: arg.state === null ? undefined : arg.state, violations: [] };
  window.__test = test;
  let acquired = false;
  window.acquireVsCodeApi = () => {
    if (acquired) throw new Error('An instance of the VS Code API has already been acquired');
    acquired = true;
    return Object.freeze({
      postMessage: (m) => { test.posted.push(JSON.parse(JSON.stringify(m))); },
      getState: () => test.state,
      setState: (s) => { test.state = JSON.parse(JSON.stringify(s)); return s; },
    });
  };
  let varsSet = false;
  let bodySet = false;
  const apply = () => {
    if (document.documentElement && !varsSet) {
      for (const [k, v] of Object.entries(arg.vars)) document.documentElement.style.setProperty(k, v);
      varsSet = true;
    }
    if (document.body && !bodySet) {
      document.body.className = arg.bodyClass;
      bodySet = true;
    }
    return varsSet && bodySet;
  };
  if (!apply()) {
    const obs = new MutationObserver(() => { if (apply()) obs.disconnect(); });
    obs.observe(document, { childList: true, subtree: true });
  }
  document.addEventListener('securitypolicyviolation', (e) => test.violations.push({ directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample }));
})();`;
}

export interface DashboardOptions {
  theme?: ThemeName;
  /** What `getState()` returns at load (a restored panel). */
  state?: unknown;
  viewport?: { width: number; height: number };
}

export class Dashboard {
  /** Console errors/warnings, uncaught exceptions, and requests that left 127.0.0.1 (blocked). */
  readonly problems: string[] = [];
  readonly requested: string[] = [];
  readonly blocked: string[] = [];

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    readonly served: Served,
  ) {}

  static async open(browser: Browser, served: Served, options: DashboardOptions = {}): Promise<Dashboard> {
    const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 900 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const d = new Dashboard(context, page, served);
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') d.problems.push(`console.${msg.type()}: ${msg.text()}`);
    });
    page.on('pageerror', (e) => d.problems.push(`page error: ${e.message}`));
    page.on('request', (r) => d.requested.push(r.url()));
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${served.origin}/`)) return route.continue();
      d.blocked.push(url);
      return route.abort('blockedbyclient');
    });
    const theme = THEMES[options.theme ?? 'dark'];
    await page.addInitScript({ content: initScript({ state: options.state ?? null, vars: theme.vars, bodyClass: theme.bodyClass }) });
    await page.goto(`${served.origin}/`, { waitUntil: 'load' });
    await page.waitForFunction(() => (globalThis as unknown as Partial<PageGlobals>).__convbertDashboard !== undefined, undefined, { timeout: 10_000 });
    return d;
  }

  /** Posts a host → webview message (the version is added) and waits for the render. */
  async send(body: ToWebviewBody): Promise<void> {
    await this.sendRaw(toWebview(body));
  }

  /** Posts anything as a host message, as VS Code would deliver it (structured clone: typed arrays survive). */
  async sendRaw(message: unknown): Promise<void> {
    await this.page.evaluate((m) => {
      const g = globalThis as unknown as PageGlobals;
      g.postMessage(m, '*');
    }, message);
    await this.settled();
  }

  async settled(): Promise<void> {
    // The message event is dispatched in a later task than postMessage: let it run, then wait for the frame.
    await this.page.evaluate(() => new Promise((ok) => setTimeout(ok, 0)));
    await this.page.evaluate(() => (globalThis as unknown as PageGlobals).__convbertDashboard.settled());
  }

  posted(): Promise<FromWebviewMessage[]> {
    return this.page.evaluate(() => (globalThis as unknown as PageGlobals).__test.posted);
  }

  state(): Promise<unknown> {
    return this.page.evaluate(() => (globalThis as unknown as PageGlobals).__test.state);
  }

  charts(): Promise<Record<string, ChartInfo>> {
    return this.page.evaluate(() => (globalThis as unknown as PageGlobals).__convbertDashboard.charts());
  }

  dropped(): Promise<string[]> {
    return this.page.evaluate(() => (globalThis as unknown as PageGlobals).__convbertDashboard.dropped());
  }

  violations(): Promise<PageGlobals['__test']['violations']> {
    return this.page.evaluate(() => (globalThis as unknown as PageGlobals).__test.violations);
  }

  /** Switches tab by clicking its header, as a user would. */
  async showTab(title: 'Loss' | 'Costs' | 'Attention vs Conv' | 'Sweep'): Promise<void> {
    await this.page.locator('vscode-tab-header', { hasText: title }).click();
    await this.settled();
  }

  /** Applies a theme the way VS Code does: variables on <html>, class on <body>. */
  async setTheme(name: ThemeName): Promise<void> {
    const theme = THEMES[name];
    await this.page.evaluate(
      ({ vars, bodyClass }) => {
        const doc = (globalThis as unknown as { document: { documentElement: { style: { cssText: string; setProperty(k: string, v: string): void } }; body: { className: string } } }).document;
        doc.documentElement.style.cssText = '';
        for (const [k, v] of Object.entries(vars)) doc.documentElement.style.setProperty(k, v);
        doc.body.className = bodyClass;
      },
      { vars: theme.vars, bodyClass: theme.bodyClass },
    );
    // The theme watcher re-renders on the next frame.
    await this.page.evaluate(() => new Promise((ok) => (globalThis as unknown as { requestAnimationFrame(cb: () => void): void }).requestAnimationFrame(() => ok(undefined))));
    await this.settled();
  }

  async screenshot(name: string): Promise<string> {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const path = join(SCREENSHOTS, `${name}.png`);
    await this.page.screenshot({ path, fullPage: true });
    return path;
  }

  /** Everything that should never happen: CSP violations, console errors/warnings, page errors, requests elsewhere. */
  async assertClean(): Promise<void> {
    const violations = await this.violations();
    const extraRequests = this.requested.filter((u) => !/^http:\/\/127\.0\.0\.1:\d+\/(dist\/webview\/dashboard\.(js|css))?$/.test(u));
    const report = [
      ...violations.map((v) => `CSP violation: ${v.directive} blocked ${v.blocked || '(inline)'} ${v.sample}`),
      ...this.problems,
      ...this.blocked.map((u) => `request left the page: ${u}`),
      ...extraRequests.map((u) => `unexpected request: ${u}`),
    ];
    if (report.length > 0) throw new Error(`the dashboard page was not clean:\n${report.join('\n')}`);
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}

/**
 * Per test file: one browser and one page server (started before the first test, closed after the last), and
 * `withDashboard`, which opens a dashboard, runs the test body, asserts the page stayed clean (no CSP violation,
 * console error or request leaving it) and closes it.
 */
export function dashboardSuite(): {
  withDashboard(fn: (d: Dashboard) => Promise<void>, options?: DashboardOptions): Promise<void>;
  browser(): Browser;
  served(): Served;
} {
  let browser: Browser | undefined;
  let served: Served | undefined;
  before(async () => {
    await ensureBundle();
    served = await serve();
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await served?.close();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the dashboard suite is used before its `before` hook ran');
    return value;
  };
  return {
    browser: () => started(browser),
    served: () => started(served),
    async withDashboard(fn, options = {}) {
      const d = await Dashboard.open(started(browser), started(served), options);
      try {
        await fn(d);
        await d.assertClean();
      } finally {
        await d.close();
      }
    },
  };
}

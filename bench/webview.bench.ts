/**
 * The dashboard's first paint in headless Chromium: the real bundle inside `dashboardHtml` (real CSP), served from
 * 127.0.0.1, with a fake `acquireVsCodeApi` that answers `ready` with a snapshot of two runs of 2 000 points each
 * (as the extension host does). For each fresh page load it reads, from navigation start:
 *   - first contentful paint (the "Loading…"/empty state: the bundle ran),
 *   - the first loss chart drawn with data (`performance.mark('convbert:first-chart')` in the Loss view),
 * and prints the median (and range) over the loads. Target: both under 1 s.
 *
 *   npx tsx bench/webview.bench.ts [loads=9]
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { toWebview } from '../src/protocol/webview';
import { lossPoints, run } from '../test/webview/fixtures';
import { ensureBundle, launch, ROOT, serve } from '../test/webview/harness';
import { THEMES } from '../test/webview/themes';

const LOADS = Math.max(1, Number(process.argv[2] ?? 9) || 9);
const POINTS = 2000;

function initScript(snapshot: unknown, vars: Record<string, string>): string {
  return `(() => {
  const snapshot = ${JSON.stringify(snapshot)};
  const vars = ${JSON.stringify(vars)};
  window.acquireVsCodeApi = () => ({
    postMessage: (m) => { if (m && m.type === 'ready') setTimeout(() => window.postMessage(snapshot, '*'), 0); },
    getState: () => undefined,
    setState: () => undefined,
  });
  new MutationObserver((_, obs) => {
    if (document.documentElement && !document.documentElement.style.length) for (const [k, v] of Object.entries(vars)) document.documentElement.style.setProperty(k, v);
    if (document.body) { document.body.className = 'vscode-dark'; obs.disconnect(); }
  }).observe(document, { childList: true, subtree: true });
})();`;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;

async function main(): Promise<void> {
  await ensureBundle();
  const kib = (p: string) => (statSync(join(ROOT, p)).size / 1024).toFixed(0);
  const snapshot = toWebview({
    type: 'snapshot',
    runs: [run('a', 'groupbert-mini', lossPoints(POINTS, 1)), run('b', 'bert-mini', lossPoints(POINTS, 2, { floor: 2.4 }))],
    selectedRunIds: ['a', 'b'],
    costs: [],
  });
  const served = await serve();
  const browser = await launch();
  const fcp: number[] = [];
  const chart: number[] = [];
  const domReady: number[] = [];
  try {
    for (let i = 0; i < LOADS + 1; i++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
      const page = await context.newPage();
      await page.addInitScript({ content: initScript(snapshot, THEMES.dark.vars) });
      await page.goto(`${served.origin}/`, { waitUntil: 'load' });
      await page.waitForFunction('performance.getEntriesByName("convbert:first-chart").length > 0 && performance.getEntriesByType("paint").some((e) => e.name === "first-contentful-paint")', undefined, {
        timeout: 20_000,
      });
      const t = (await page.evaluate(`({
        fcp: performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint').startTime,
        chart: performance.getEntriesByName('convbert:first-chart')[0].startTime,
        dom: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
      })`)) as { fcp: number; chart: number; dom: number };
      await context.close();
      if (i === 0) continue; // the first load warms the browser process up
      fcp.push(t.fcp);
      chart.push(t.chart);
      domReady.push(t.dom);
    }
  } finally {
    await browser.close();
    await served.close();
  }
  console.log(`dashboard first paint, headless Chromium, ${LOADS} loads (+1 warm-up), bundle ${kib('dist/webview/dashboard.js')} KiB JS + ${kib('dist/webview/dashboard.css')} KiB CSS`);
  console.log(`  navigation → DOMContentLoaded (bundle parsed and run):   ${fmt(domReady)}`);
  console.log(`  navigation → first contentful paint:                    ${fmt(fcp)}`);
  console.log(`  navigation → first loss chart drawn (2 × ${POINTS} points):  ${fmt(chart)}`);
  const ok = median(fcp) < 1000 && median(chart) < 1000;
  console.log(`  target < 1 s: ${ok ? 'met' : 'NOT met'}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});

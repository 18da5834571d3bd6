/**
 * The dashboard as a whole in headless Chromium: the CSP is live and never violated, nothing leaves the page,
 * themes recolour everything, view state survives a reload, tabs work from the keyboard. Saves screenshots of
 * every view in the three themes to test-results/webview/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ToWebviewBody } from '../../src/protocol/webview';
import { costEntries, lossPoints, probe, run } from './fixtures';
import { Dashboard, dashboardSuite } from './harness';
import type { ThemeName } from './themes';

const suite = dashboardSuite();
const { withDashboard } = suite;

const { groupbert, bert } = costEntries();
const snapshot: ToWebviewBody = {
  type: 'snapshot',
  runs: [
    run('run-a', 'groupbert-mini', lossPoints(2000, 1), { probeSteps: [100, 200, 300] }),
    run('run-b', 'bert-mini', lossPoints(2000, 2, { floor: 2.4, tau: 500 }), { state: 'completed' }),
    run('run-c', 'groupbert-mini-lr3e-4', lossPoints(900, 3, { floor: 2.1, tau: 250 }), { state: 'stopped' }),
  ],
  selectedRunIds: ['run-a', 'run-b', 'run-c'],
  costs: [groupbert, bert],
};

async function loadEverything(d: Dashboard): Promise<void> {
  await d.send(snapshot);
  await d.showTab('Attention vs Conv');
  await d.page.waitForFunction(() => (globalThis as unknown as { __test: { posted: { type: string }[] } }).__test.posted.some((m) => m.type === 'requestProbe'));
  await d.send(probe('run-a', 300).message);
  await d.showTab('Loss');
}

test('the CSP is in force: the page loads clean, and control attempts (inline script, string eval, fetch) are refused', async () => {
  const d = await Dashboard.open(suite.browser(), suite.served());
  try {
    await loadEverything(d);
    await d.showTab('Costs');
    await d.showTab('Attention vs Conv');
    const csp = await d.page.locator('meta[http-equiv=Content-Security-Policy]').getAttribute('content');
    assert.equal(
      csp,
      `default-src 'none'; img-src ${suite.served().origin} data:; style-src ${suite.served().origin} 'nonce-${suite.served().nonce}'; script-src 'nonce-${suite.served().nonce}'; font-src ${suite.served().origin}; connect-src 'none'`,
    );
    await d.assertClean();
    // Controls: prove the listener and the policy work, so "no violations" above means something.
    // (A string timer runs as the page's own code; `eval` inside page.evaluate would not: CDP exempts it.)
    await d.page.evaluate(`setTimeout('window.__evaluated = 1', 0)`);
    await d.page.evaluate(`(() => { const s = document.createElement('script'); s.textContent = 'window.__inline = 1'; document.body.appendChild(s); })()`);
    await d.page.evaluate(`fetch('https://example.com/x').catch(() => undefined)`);
    await d.page.waitForTimeout(100);
    const violations = await d.violations();
    assert.ok(violations.some((v) => v.directive.startsWith('script-src')), 'inline script refused');
    assert.ok(violations.some((v) => v.directive.startsWith('connect-src')), 'fetch refused');
    assert.equal(await d.page.evaluate('window.__inline'), undefined);
    assert.equal(await d.page.evaluate('window.__evaluated'), undefined, 'string code refused (no unsafe-eval)');
    assert.deepEqual(d.blocked, [], 'the CSP stopped the fetch before it left');
    assert.deepEqual(suite.served().requests.filter((p) => p !== '/' && !p.startsWith('/dist/webview/dashboard.')), []);
  } finally {
    await d.close();
  }
});

interface Colours {
  body: string;
  tick: unknown;
  grid: unknown;
  runA: unknown;
  attentionBar: unknown;
  label: number[];
}

async function colours(d: Dashboard): Promise<Colours> {
  await d.showTab('Loss');
  const loss = (await d.charts()).loss!;
  const body = (await d.page.evaluate('getComputedStyle(document.body).backgroundColor')) as string;
  await d.showTab('Costs');
  const costs = (await d.charts())['costs-params-0']!;
  await d.showTab('Attention vs Conv');
  // The most opaque pixel of the first row label of the attention heatmap: the label colour.
  const label = (await d.page.evaluate(`(() => {
    const c = document.getElementById('attention-map');
    const copy = document.createElement('canvas'); copy.width = c.width; copy.height = c.height;
    const x = copy.getContext('2d', { willReadFrequently: true }); x.drawImage(c, 0, 0);
    const cell = +c.dataset.cell, ox = +c.dataset.originX, oy = +c.dataset.originY;
    const d = x.getImageData(ox - 50, oy + 2, 46, cell - 4).data;
    let best = 3; for (let i = 3; i < d.length; i += 4) if (d[i] > d[best]) best = i;
    return [d[best - 3], d[best - 2], d[best - 1]];
  })()`)) as number[];
  return {
    body,
    tick: loss.scales.x!.tickColor,
    grid: loss.scales.y!.gridColor,
    // The first series colour goes to the run that started first: run-c (the host lists the newest first).
    runA: loss.datasets.find((x) => x.runId === 'run-c' && x.role === 'train')!.borderColor,
    attentionBar: costs.datasets.find((x) => x.kind === 'attention')!.backgroundColor,
    label,
  };
}

test('themes: light, dark and high contrast recolour charts, heatmap labels and the page; screenshots of every view', async () => {
  await withDashboard(async (d) => {
    await loadEverything(d);
    const seen: Partial<Record<ThemeName, Colours>> = {};
    const expected: Record<ThemeName, { body: string; tick: string; runA: string; attention: string; label: number[] }> = {
      dark: { body: 'rgb(31, 31, 31)', tick: '#cccccc', runA: '#3794ff', attention: '#3794ff', label: [204, 204, 204] },
      light: { body: 'rgb(255, 255, 255)', tick: '#616161', runA: '#1a85ff', attention: '#1a85ff', label: [97, 97, 97] },
      'high-contrast': { body: 'rgb(0, 0, 0)', tick: '#ffffff', runA: '#3794ff', attention: '#3794ff', label: [255, 255, 255] },
    };
    for (const name of ['dark', 'light', 'high-contrast'] as const) {
      if (name !== 'dark') await d.setTheme(name);
      const c = await colours(d);
      seen[name] = c;
      const want = expected[name];
      assert.equal(c.body, want.body, `${name}: page background`);
      assert.equal(c.tick, want.tick, `${name}: axis text`);
      assert.equal(c.runA, want.runA, `${name}: run colour`);
      assert.equal(c.attentionBar, want.attention, `${name}: module kind colour`);
      assert.ok(
        c.label.every((v, i) => Math.abs(v - want.label[i]!) <= 40),
        `${name}: heatmap labels drawn in the theme foreground (${c.label} vs ${want.label})`,
      );
      // Screenshots of each view in this theme.
      await d.screenshot(`${name}-attention`);
      await d.showTab('Costs');
      await d.screenshot(`${name}-costs`);
      await d.showTab('Loss');
      await d.screenshot(`${name}-loss`);
    }
    assert.equal(seen['high-contrast']!.grid, 'rgba(111, 195, 223, 0.6)', 'high contrast grid from contrastBorder');
    assert.notEqual(seen.dark!.grid, seen.light!.grid);
  });
});

test('view state is saved with setState and restored from getState on load', async () => {
  let saved: unknown;
  await withDashboard(async (d) => {
    await loadEverything(d);
    // Smoothing 0.80 by keyboard, log-x on, attention head 3 of layer 1, then the Costs tab in table mode.
    const slider = d.page.locator('.loss-view input[type=range]');
    await slider.focus();
    await d.page.keyboard.press('End');
    for (let i = 0; i < 19; i++) await d.page.keyboard.press('ArrowLeft');
    await d.page.locator('.loss-view vscode-checkbox[label="Log scale"]').click();
    await d.showTab('Attention vs Conv');
    await d.page.locator('[data-control=probe-layer]').focus();
    await d.page.keyboard.press('Space');
    await d.page.keyboard.press('ArrowDown');
    await d.page.keyboard.press('Enter');
    await d.page.locator('[data-control=probe-head]').focus();
    await d.page.keyboard.press('Space');
    for (let i = 0; i < 3; i++) await d.page.keyboard.press('ArrowDown');
    await d.page.keyboard.press('Enter');
    await d.showTab('Costs');
    await d.page.locator('[data-control=cost-display] vscode-radio[value=table]').click();
    await d.page.locator('[data-control=cost-pass] vscode-radio[value=backward]').click();
    await d.settled();
    saved = await d.state();
    assert.deepEqual(saved, { v: 1, tab: 'costs', smoothing: 0.8, xAxis: 'step', logX: true, costPass: 'backward', costDisplay: 'table', attention: { runId: 'run-a', layer: 1, head: 2, step: null } });
  });

  // A new page (the panel revived after a restart or after being hidden) with that state.
  await withDashboard(
    async (d) => {
      await d.send(snapshot);
      assert.equal(await d.page.locator('vscode-tab-header[data-tab=costs]').getAttribute('aria-selected'), 'true', 'the Costs tab is open');
      assert.equal(await d.page.locator('table.cost-table').count(), 2, 'in table mode');
      assert.match(await d.page.locator('table.cost-table caption').first().innerText(), /backward FLOPs/);
      await d.showTab('Loss');
      assert.equal(await d.page.locator('.loss-view input[type=range]').inputValue(), '0.8');
      const loss = (await d.charts()).loss!;
      assert.equal(loss.scales.x!.type, 'logarithmic');
      await d.showTab('Attention vs Conv');
      await d.page.waitForFunction(() => (globalThis as unknown as { __test: { posted: { type: string }[] } }).__test.posted.some((m) => m.type === 'requestProbe'));
      await d.send(probe('run-a', 300).message);
      assert.match(await d.page.locator('.attention-view figcaption').first().innerText(), /layer 1 · head 3 of 4/);
    },
    { state: saved },
  );

  // Garbage in the saved state: defaults, no crash.
  await withDashboard(
    async (d) => {
      await d.send(snapshot);
      assert.equal(await d.page.locator('vscode-tab-header[data-tab=loss]').getAttribute('aria-selected'), 'true');
      assert.equal(await d.page.locator('.loss-view input[type=range]').inputValue(), '0.6');
    },
    { state: { v: 1, tab: 'nowhere', smoothing: 'lots', attention: 5 } },
  );
});

test('tabs work from the keyboard', async () => {
  await withDashboard(async (d) => {
    await d.send(snapshot);
    await d.page.locator('vscode-tab-header[data-tab=loss]').focus();
    await d.page.keyboard.press('ArrowRight');
    await d.page.keyboard.press('Enter');
    await d.settled();
    assert.equal(((await d.state()) as { tab: string }).tab, 'costs');
    assert.ok((await d.charts())['costs-params-0'], 'the Costs view rendered when shown');
    await d.page.keyboard.press('ArrowRight');
    await d.page.keyboard.press('Enter');
    await d.settled();
    assert.equal(((await d.state()) as { tab: string }).tab, 'attention');
  });
});

test('the host\'s showView switches the visible tab, persists it, and renders the view; a replay keeps the tab', async () => {
  await withDashboard(async (d) => {
    const selected = async () => d.page.locator('vscode-tab-header[aria-selected=true]').getAttribute('data-tab');
    const visible = async () => d.page.evaluate(`[...document.querySelectorAll('vscode-tab-panel')].filter((p) => !p.hidden && p.offsetHeight > 0).map((p) => p.dataset.tab)`);
    await d.send(snapshot);
    assert.equal(await selected(), 'loss');
    assert.equal(((await d.charts())['costs-params-0']), undefined, 'the Costs view is not drawn while hidden');

    // Show Costs: the Costs tab is shown and drawn, as if clicked, and the choice is persisted.
    await d.send({ type: 'showView', view: 'costs' });
    assert.equal(await selected(), 'costs');
    assert.deepEqual(await visible(), ['costs']);
    assert.equal(((await d.state()) as { tab: string }).tab, 'costs');
    assert.ok((await d.charts())['costs-params-0'], 'the Costs view rendered when shown');
    await d.screenshot('show-view-costs');

    await d.send({ type: 'showView', view: 'attention' });
    assert.equal(await selected(), 'attention');
    assert.deepEqual(await visible(), ['attention']);
    await d.page.waitForFunction(() => (globalThis as unknown as { __test: { posted: { type: string }[] } }).__test.posted.some((m) => m.type === 'requestProbe'));

    // A bad view is dropped with a reason and changes nothing.
    await d.sendRaw({ v: 1, type: 'showView', view: 'settings' });
    assert.match((await d.dropped()).at(-1) ?? '', /`showView` message: \/view/);
    assert.equal(await selected(), 'attention');

    // The user picks Loss; the host replaying its data (panel visible again) does not move the tab.
    await d.showTab('Loss');
    await d.send(snapshot);
    assert.equal(await selected(), 'loss');
    assert.equal(((await d.state()) as { tab: string }).tab, 'loss');
    // Keyboard navigation starts from the tab the host chose.
    await d.send({ type: 'showView', view: 'costs' });
    await d.page.locator('vscode-tab-header[data-tab=costs]').focus();
    await d.page.keyboard.press('ArrowRight');
    await d.page.keyboard.press('Enter');
    await d.settled();
    assert.equal(await selected(), 'attention');
  });
});

test('a narrow panel stacks the views; wide cost comparisons wrap', async () => {
  await withDashboard(
    async (d) => {
      await loadEverything(d);
      await d.screenshot('narrow-loss');
      await d.showTab('Costs');
      const boxes = await d.page.locator('.cost-column').evaluateAll((els) => els.map((e) => (e as unknown as { getBoundingClientRect(): { x: number; y: number } }).getBoundingClientRect()));
      assert.ok(boxes[1]!.y > boxes[0]!.y, 'stacked');
      await d.screenshot('narrow-costs');
      await d.showTab('Attention vs Conv');
      await d.screenshot('narrow-attention');
    },
    { viewport: { width: 520, height: 900 } },
  );
});

/**
 * The Attention vs Conv view in headless Chromium: heatmap geometry and token labels, pixel colours against the
 * probe values, the conv map's band, head and layer choice, the step slider asking the host for missing probes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { viridis } from '../../webview/src/colormap';
import { KERNEL, KERNEL_HALF, probe, run, TOKENS, lossPoints } from './fixtures';
import { Dashboard, dashboardSuite } from './harness';

const suite = dashboardSuite();
const { withDashboard } = suite;

const T = TOKENS.length;
const STEPS = [100, 200, 300];
const snapshot = {
  type: 'snapshot' as const,
  runs: [run('run-a', 'groupbert-mini', lossPoints(300, 1), { probeSteps: STEPS }), run('run-b', 'no-probes', lossPoints(10, 2))],
  selectedRunIds: ['run-a'],
  costs: [],
};

interface Heatmap {
  width: number;
  height: number;
  cssWidth: number;
  rows: number;
  cols: number;
  cell: number;
  originX: number;
  originY: number;
  min: number;
  max: number;
  tokens: string[];
  /** RGB at each cell's centre, row-major. */
  cells: number[][];
  /** Per row, how many painted pixels the label strip left of the grid has. */
  rowLabelInk: number[];
  /** Per column, painted pixels in the label strip below the grid. */
  colLabelInk: number[];
  ariaLabel: string;
}

async function heatmap(d: Dashboard, id: string): Promise<Heatmap> {
  return (await d.page.evaluate(`(() => {
    const c = document.getElementById(${JSON.stringify(id)});
    const ds = c.dataset;
    const dpr = c.width / parseFloat(c.style.width);
    // Read from a copy made for readback (reading the visible canvas repeatedly makes Chromium warn).
    const copy = document.createElement('canvas');
    copy.width = c.width;
    copy.height = c.height;
    const ctx = copy.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(c, 0, 0);
    const cell = +ds.cell, ox = +ds.originX, oy = +ds.originY, rows = +ds.rows, cols = +ds.cols;
    const px = (x, y) => Array.from(ctx.getImageData(Math.floor(x * dpr), Math.floor(y * dpr), 1, 1).data);
    const cells = [];
    for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) cells.push(px(ox + (k + 0.5) * cell, oy + (r + 0.5) * cell).slice(0, 3));
    const ink = (x0, y0, w, h) => { const d = ctx.getImageData(Math.floor(x0 * dpr), Math.floor(y0 * dpr), Math.max(1, Math.floor(w * dpr)), Math.max(1, Math.floor(h * dpr))).data; let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 64) n++; return n; };
    const rowLabelInk = [], colLabelInk = [];
    for (let r = 0; r < rows; r++) rowLabelInk.push(ink(ox - 60, oy + r * cell + 2, 56, cell - 4));
    for (let k = 0; k < cols; k++) colLabelInk.push(ink(ox + k * cell + 2, oy + rows * cell + 4, cell - 4, 40));
    return { width: c.width, height: c.height, cssWidth: parseFloat(c.style.width), rows, cols, cell, originX: ox, originY: oy, min: +ds.min, max: +ds.max,
      tokens: JSON.parse(ds.tokens), cells, rowLabelInk, colLabelInk, ariaLabel: c.getAttribute('aria-label') };
  })()`)) as Heatmap;
}

/** The colour the app must paint for `v` (a float32) on a [lo, hi] scale (its 256-entry viridis table). */
function colourOf(v: number, lo: number, hi: number): number[] {
  const k = Math.min(255, Math.max(0, Math.round(((Math.fround(v) - lo) * 255) / (hi - lo))));
  return viridis(k / 255);
}

function assertCells(h: Heatmap, values: number[], what: string): void {
  const lo = Math.min(0, ...values);
  const hi = Math.max(...values);
  assert.equal(h.min, lo);
  assert.ok(Math.abs(h.max - hi) < 1e-6, `${what}: scale max ${h.max} vs ${hi}`);
  values.forEach((v, i) => {
    const want = colourOf(v, lo, hi);
    const got = h.cells[i]!;
    assert.ok(
      got.every((c, ch) => Math.abs(c - want[ch]!) <= 2),
      `${what}: cell (${Math.floor(i / T)}, ${i % T}) = ${v} painted ${got}, expected ${want}`,
    );
  });
}

const posted = async (d: Dashboard, type: string) => (await d.posted()).filter((m) => m.type === type);

async function openAttention(d: Dashboard): Promise<void> {
  await d.send(snapshot);
  await d.showTab('Attention vs Conv');
  // The request is sent once the slider has rested (120 ms).
  await d.page.waitForFunction(() => (globalThis as unknown as { __test: { posted: { type: string }[] } }).__test.posted.some((m) => m.type === 'requestProbe'), undefined, { timeout: 5000 });
}

test('the latest probe is requested once; the attention heatmap shows the head average with token labels on both axes', async () => {
  await withDashboard(async (d) => {
    await openAttention(d);
    assert.deepEqual(await posted(d, 'requestProbe'), [{ v: 1, type: 'requestProbe', runId: 'run-a', step: 300 }]);
    assert.match(await d.page.locator('.attention-view .status').innerText(), /Loading probes at step 300/);
    const fixture = probe('run-a', 300);
    await d.send(fixture.message);
    assert.equal((await posted(d, 'requestProbe')).length, 1, 'no second request for a probe that arrived');
    assert.equal(await d.page.locator('.attention-view .status').innerText(), '');

    const h = await heatmap(d, 'attention-map');
    assert.equal(h.rows, T);
    assert.equal(h.cols, T);
    assert.deepEqual(h.tokens, TOKENS);
    assert.equal(h.width, Math.round(h.cssWidth), 'device pixels = CSS pixels × devicePixelRatio (1 here)');
    assert.ok(h.cell >= 12, `cells big enough to read (${h.cell}px)`);
    assert.ok(h.originX > 40 && h.originX + T * h.cell < h.width, 'room for row labels on the left and the colour bar on the right');
    assert.ok(h.originY + T * h.cell + 30 < h.height, 'room for column labels below');
    // Every label leaves ink beside its row / below its column ("." is the smallest: a pixel or two).
    h.rowLabelInk.forEach((n, r) => assert.ok(n >= 1, `row label ${r} (${TOKENS[r]}) is drawn`));
    h.colLabelInk.forEach((n, c) => assert.ok(n >= 1, `column label ${c} (${TOKENS[c]}) is drawn`));
    assert.match(h.ariaLabel, new RegExp(`layer 0, average of 4 heads, step 300: 13 query tokens .* ${TOKENS.join(' ').replace(/[[\].]/g, '\\$&')}`));

    const heads = fixture.attention[0]!;
    const average = heads[0]!.map((_, i) => heads.reduce((s, hd) => s + hd[i]!, 0) / heads.length);
    assertCells(h, average, 'head average');
    assert.match(await d.page.locator('.attention-view figcaption').first().innerText(), /layer 0 · average of 4 heads/);
  });
});

test('the conv token-mixing map has the kernel on a band of the diagonal and the lowest colour elsewhere', async () => {
  await withDashboard(async (d) => {
    await openAttention(d);
    const fixture = probe('run-a', 300);
    await d.send(fixture.message);
    const h = await heatmap(d, 'conv-map');
    assert.equal(h.rows, T);
    assert.deepEqual(h.tokens, TOKENS);
    const off = viridis(0);
    const max = Math.max(...fixture.convMap.map(Math.fround));
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < T; j++) {
        const got = h.cells[i * T + j]!;
        const offset = j - i;
        if (Math.abs(offset) > KERNEL_HALF) assert.deepEqual(got, off, `(${i}, ${j}) is off the band`);
        else {
          const want = colourOf(fixture.convMap[i * T + j]!, 0, max);
          assert.ok(got.every((c, ch) => Math.abs(c - want[ch]!) <= 2), `(${i}, ${j}) is on the band at offset ${offset}: ${got} vs ${want}`);
          assert.notDeepEqual(got, off);
        }
      }
    }
    assert.match(h.ariaLabel, /within ±3 tokens of the diagonal/);
    const kernel = (await d.charts())['conv-kernel']!;
    assert.deepEqual(kernel.labels, ['-3', '-2', '-1', '0', '+1', '+2', '+3']);
    assert.deepEqual(
      (kernel.datasets[0]!.data as number[]).map((v) => Number(v.toFixed(6))),
      KERNEL,
    );
  });
});

test('padding tokens are left out of the maps', async () => {
  await withDashboard(async (d) => {
    await openAttention(d);
    const fixture = probe('run-a', 300, { pad: 3 });
    await d.send(fixture.message);
    const att = await heatmap(d, 'attention-map');
    assert.equal(att.rows, T);
    assert.deepEqual(att.tokens, TOKENS);
    const heads = fixture.attention[0]!;
    assertCells(att, heads[0]!.map((_, i) => heads.reduce((s, hd) => s + hd[i]!, 0) / heads.length), 'real tokens only');
    assert.match(await d.page.locator('.attention-view figure .note').first().innerText(), /13 real tokens \(3 padding tokens left out\)/);
    assert.equal((await heatmap(d, 'conv-map')).rows, T);
  });
});

test('choosing a head and a layer with the keyboard redraws; a layer without conv says so', async () => {
  await withDashboard(async (d) => {
    await openAttention(d);
    const fixture = probe('run-a', 300);
    await d.send(fixture.message);
    // Head select: open with Space, move down twice (average → head 1 → head 2), accept with Enter.
    await d.page.locator('[data-control=probe-head]').focus();
    await d.page.keyboard.press('Space');
    await d.page.keyboard.press('ArrowDown');
    await d.page.keyboard.press('ArrowDown');
    await d.page.keyboard.press('Enter');
    await d.settled();
    assert.equal(((await d.state()) as { attention: { head: number } }).attention.head, 1);
    assertCells(await heatmap(d, 'attention-map'), fixture.attention[0]![1]!, 'head 2 of layer 0');

    // Layer select → layer 3 (no conv module in the fixture past layer 1).
    await d.page.locator('[data-control=probe-layer]').focus();
    await d.page.keyboard.press('Space');
    for (let i = 0; i < 3; i++) await d.page.keyboard.press('ArrowDown');
    await d.page.keyboard.press('Enter');
    await d.settled();
    assert.equal(((await d.state()) as { attention: { layer: number } }).attention.layer, 3);
    assertCells(await heatmap(d, 'attention-map'), fixture.attention[3]![1]!, 'head 2 of layer 3');
    assert.equal(await d.page.locator('#conv-map').isHidden(), true);
    assert.match(await d.page.locator('.attention-view figure').nth(1).innerText(), /Layer 3 has no convolution module/);
    // The distance table marks the current layer and lists each head's mean distance.
    const rows = await d.page.locator('table.distance-table tbody tr').allInnerTexts();
    assert.equal(rows.length, 4);
    const md = fixture.message.layers[3]!.meanDistance!;
    assert.equal(rows[3]!.split('\t').slice(1, 5).join(' '), md.map((v) => v.toFixed(2)).join(' '));
    assert.equal(await d.page.locator('table.distance-table tr[aria-current=true]').getAttribute('data-layer'), '3');
  });
});

test('the step slider asks the host for a probe it does not have, shows when one is missing, and uses the cache', async () => {
  await withDashboard(async (d) => {
    await openAttention(d);
    await d.send(probe('run-a', 300).message);
    const slider = d.page.locator('[data-control=probe-step]');
    assert.equal(await slider.getAttribute('aria-valuetext'), 'step 300, 3 of 3');
    await slider.focus();
    await d.page.keyboard.press('ArrowLeft');
    await d.settled();
    assert.match(await d.page.locator('.attention-view output').innerText(), /step 200 \(2 of 3\)/);
    await d.page.waitForTimeout(300);
    assert.deepEqual((await posted(d, 'requestProbe')).at(-1), { v: 1, type: 'requestProbe', runId: 'run-a', step: 200 });
    assert.match(await d.page.locator('.attention-view .status').innerText(), /Loading probes at step 200/);
    assert.equal(await d.page.locator('.maps').getAttribute('class'), 'maps stale', 'the last maps stay up, dimmed');
    await d.send({ type: 'probeMissing', runId: 'run-a', step: 200, reason: 'the file is gone' });
    assert.match(await d.page.locator('.attention-view .status').innerText(), /not available: the file is gone/);

    // Holding the key: only the step it rests on is requested.
    await d.page.keyboard.press('ArrowLeft');
    await d.page.keyboard.press('ArrowRight');
    await d.page.keyboard.press('ArrowLeft');
    await d.page.waitForTimeout(300);
    const requests = (await posted(d, 'requestProbe')).map((m) => (m.type === 'requestProbe' ? m.step : -1));
    assert.deepEqual(requests, [300, 200, 100]);
    const p100 = probe('run-a', 100);
    await d.send(p100.message);
    assertCells(await heatmap(d, 'attention-map'), p100.attention[0]![0]!.map((_, i) => p100.attention[0]!.reduce((s, hd) => s + hd[i]!, 0) / 4), 'step 100');
    // Back to 300: cached, no request.
    await d.page.keyboard.press('End');
    await d.settled();
    await d.page.waitForTimeout(200);
    assert.equal((await posted(d, 'requestProbe')).length, 3);
    assert.equal(((await d.state()) as { attention: { step: number } }).attention.step, 300);

    // A new probe step arrives during training: the slider grows.
    await d.send({ type: 'probeIndex', runId: 'run-a', steps: [...STEPS, 400] });
    assert.equal(await slider.getAttribute('max'), '3');
  });
});

test('a run without probes, and no runs at all, explain themselves', async () => {
  await withDashboard(async (d) => {
    await d.send({ ...snapshot, runs: [snapshot.runs[1]!], selectedRunIds: ['run-b'] });
    await d.showTab('Attention vs Conv');
    assert.match(await d.page.locator('.attention-view .empty').innerText(), /No probes yet/);
    await d.page.waitForTimeout(200);
    assert.equal((await posted(d, 'requestProbe')).length, 0);
  });
});

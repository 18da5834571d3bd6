/** The Costs view in headless Chromium: stacked bars equal the cost report's per-layer module sums; table; comparison. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CostReport, ModuleCost } from '../../src/core/cost/types';
import { computeCost } from '../../src/core/cost';
import { resolveSpec } from '../../src/core/spec/resolve';
import { costEntries } from './fixtures';
import { type ChartInfo, dashboardSuite } from './harness';

const suite = dashboardSuite();
const { withDashboard } = suite;

const { groupbert, bert } = costEntries();

/** Per layer, the sum of `value` over the layer's modules of `kind`, straight from the report. */
function expected(report: CostReport, kind: string, value: (m: ModuleCost) => number): number[] {
  return report.layers.map((layer) => {
    let sum = 0;
    for (const m of layer.modules) if (m.kind === kind) sum += value(m);
    return sum;
  });
}
const fwd = (m: ModuleCost) => m.forward.matmul + m.forward.elementwise;
const bwd = (m: ModuleCost) => m.backward.matmul + m.backward.elementwise;

function assertBars(chart: ChartInfo, report: CostReport, value: (m: ModuleCost) => number, what: string): void {
  assert.equal(chart.type, 'bar');
  assert.deepEqual(
    chart.labels,
    report.layers.map((l) => String(l.index)),
  );
  const kinds = [...new Set(report.layers.flatMap((l) => l.modules.map((m) => m.kind)))].sort();
  assert.deepEqual(chart.datasets.map((x) => x.kind).sort(), kinds, `${what}: one stack segment per module kind present`);
  for (const ds of chart.datasets) assert.deepEqual(ds.data, expected(report, ds.kind!, value), `${what}: ${ds.kind}`);
  // The stacks add up to the layer totals of the report.
  report.layers.forEach((layer, i) => {
    const total = chart.datasets.reduce((s, ds) => s + (ds.data[i] as number), 0);
    assert.equal(total, layer.modules.reduce((s, m) => s + value(m), 0));
  });
  assert.ok(chart.width > 200 && chart.height > 150);
}

test('one report: parameter and FLOP bars per layer, stacked by module kind, equal the report; forward/backward toggle', async () => {
  await withDashboard(async (d) => {
    await d.send({ type: 'snapshot', runs: [], selectedRunIds: [], costs: [groupbert] });
    await d.showTab('Costs');
    let charts = await d.charts();
    assertBars(charts['costs-params-0']!, groupbert.report, (m) => m.params, 'params');
    assertBars(charts['costs-flops-0']!, groupbert.report, fwd, 'forward FLOPs');
    // Layers 0–1 have conv, 2–3 do not; two GFFNs per layer add up into one segment.
    const gffn = charts['costs-params-0']!.datasets.find((x) => x.kind === 'gffn')!;
    assert.equal(gffn.data[0], groupbert.report.layers[0]!.modules.filter((m) => m.kind === 'gffn').reduce((s, m) => s + m.params, 0));
    assert.deepEqual(charts['costs-params-0']!.datasets.find((x) => x.kind === 'conv')!.data.slice(2), [0, 0]);
    // Kind colours come from the theme's chart colours.
    assert.equal(charts['costs-params-0']!.datasets.find((x) => x.kind === 'attention')!.backgroundColor, '#3794ff');
    assert.match((await d.page.locator('#costs-params-0').getAttribute('aria-label')) ?? '', /Parameters per layer, groupbert-mini-conv-lower: 4 layers, attention .*, conv .*, GFFN/);

    await d.page.locator('[data-control=cost-pass] vscode-radio[value=backward]').click();
    await d.settled();
    charts = await d.charts();
    assertBars(charts['costs-flops-0']!, groupbert.report, bwd, 'backward FLOPs');
    assertBars(charts['costs-params-0']!, groupbert.report, (m) => m.params, 'params after the toggle');
    await d.page.locator('[data-control=cost-pass] vscode-radio[value=both]').click();
    await d.settled();
    assertBars((await d.charts())['costs-flops-0']!, groupbert.report, (m) => fwd(m) + bwd(m), 'training FLOPs');
    assert.equal(((await d.state()) as { costPass: string }).costPass, 'both');
    assert.match(await d.page.locator('.costs-view > .key').innerText(), /multiply-add = 2 FLOPs/);
  });
});

test('the table view lists every module with its exact figures and sums to the report totals', async () => {
  await withDashboard(async (d) => {
    await d.send({ type: 'snapshot', runs: [], selectedRunIds: [], costs: [groupbert] });
    await d.showTab('Costs');
    await d.page.locator('[data-control=cost-display] vscode-radio[value=table]').click();
    await d.settled();
    assert.equal(Object.keys(await d.charts()).filter((k) => k.startsWith('costs-')).length, 0, 'charts are gone in table mode');
    const r = groupbert.report;
    const rows = (await d.page.locator('table.cost-table tbody tr').evaluateAll((trs) =>
      trs.map((tr) => {
        const cells = (tr as unknown as { children: ArrayLike<{ textContent: string | null; getAttribute(n: string): string | null }> }).children;
        return Array.from(cells).map((c) => c.getAttribute('data-value') ?? c.textContent ?? '');
      }),
    )) as string[][];
    const modules = [r.embeddings, ...r.layers.flatMap((l) => l.modules), ...r.heads];
    assert.equal(rows.length, modules.length + r.layers.length, 'a row per module plus a subtotal per layer');
    for (const m of modules) {
      const row = rows.find((x) => x[0] === m.name);
      assert.ok(row, m.name);
      assert.deepEqual(row.slice(1), [m.kind, String(m.params), String(fwd(m)), String(m.activationBytes)]);
    }
    for (const layer of r.layers) {
      const row = rows.find((x) => x[0] === `layer ${layer.index}`)!;
      assert.equal(Number(row[2]), layer.params);
    }
    const total = await d.page.locator('table.cost-table tfoot td[data-value]').first().getAttribute('data-value');
    assert.equal(Number(total), r.totals.params);
    assert.equal(await d.page.locator('table.cost-table thead th[scope=col]').count(), 5);
    assert.match(await d.page.locator('table.cost-table caption').innerText(), /parameters and forward FLOPs per module/);
  });
});

test('two reports side by side: same y scale, a comparison table, and the costs message replaces them', async () => {
  await withDashboard(async (d) => {
    await d.send({ type: 'snapshot', runs: [], selectedRunIds: [], costs: [groupbert, bert] });
    await d.showTab('Costs');
    const charts = await d.charts();
    assertBars(charts['costs-params-0']!, groupbert.report, (m) => m.params, 'A params');
    assertBars(charts['costs-params-1']!, bert.report, (m) => m.params, 'B params');
    assertBars(charts['costs-flops-1']!, bert.report, fwd, 'B FLOPs');
    assert.equal(charts['costs-params-0']!.scales.y!.max, charts['costs-params-1']!.scales.y!.max, 'bars compare by height');
    assert.equal(charts['costs-flops-0']!.scales.y!.max, charts['costs-flops-1']!.scales.y!.max);
    const boxes = await d.page.locator('.cost-column').evaluateAll((els) => els.map((e) => (e as unknown as { getBoundingClientRect(): { x: number; y: number } }).getBoundingClientRect()));
    assert.equal(boxes.length, 2);
    assert.ok(boxes[1]!.x > boxes[0]!.x && Math.abs(boxes[1]!.y - boxes[0]!.y) < 1, 'side by side');
    const compare = await d.page.locator('table.compare-table tbody tr').allInnerTexts();
    assert.equal(compare.length, 7);
    const ratio = bert.report.totals.params / groupbert.report.totals.params;
    assert.match(compare[0]!, new RegExp(`${ratio.toFixed(2)}×`));

    await d.send({ type: 'costs', costs: [bert] });
    const after = await d.charts();
    assert.equal(after['costs-params-1'], undefined);
    assertBars(after['costs-params-0']!, bert.report, (m) => m.params, 'replaced');
    assert.equal(await d.page.locator('table.compare-table').count(), 0);

    await d.page.locator('[data-action=export-costs-csv]').click();
    const csv = (await d.posted()).find((m) => m.type === 'exportFile');
    assert.ok(csv && csv.type === 'exportFile' && csv.name === 'costs.csv');
    const lines = csv.data.trimEnd().split('\r\n');
    const modules = [bert.report.embeddings, ...bert.report.layers.flatMap((l) => l.modules), ...bert.report.heads];
    assert.equal(lines.length, 1 + modules.length);
    assert.equal(lines[2], `bert-mini,${modules[1]!.name},attention,0,${modules[1]!.params},${modules[1]!.forward.matmul},${modules[1]!.forward.elementwise},${modules[1]!.backward.matmul},${modules[1]!.backward.elementwise},${modules[1]!.activationBytes}`);
  });
});

test('issue #9 (15): two reports of different batch sizes: each column says its own batch × sequence', async () => {
  // A batch-4 run beside a batch-8 one (Compare Runs takes each run's spec snapshot).
  const spec = (batchSize: number) => computeCost(resolveSpec({ version: 1, name: `b${batchSize}`, extends: 'bert-tiny', training: { batchSize, sequenceLength: 32 } }));
  const a = { label: 'batch 8', report: spec(8) };
  const b = { label: 'batch 4', report: spec(4) };
  assert.equal(a.report.batchSize, 8);
  assert.equal(b.report.batchSize, 4);
  await withDashboard(async (d) => {
    await d.send({ type: 'snapshot', runs: [], selectedRunIds: [], costs: [a, b] });
    await d.showTab('Costs');
    for (const display of ['chart', 'table']) {
      if (display === 'table') {
        await d.page.locator('[data-control=cost-display] vscode-radio[value=table]').click();
        await d.settled();
      }
      const notes = await d.page.locator('.cost-column .step-tokens').allInnerTexts();
      assert.deepEqual(notes, ['FLOPs per step of 8 × 32 tokens.', 'FLOPs per step of 4 × 32 tokens.'], display);
      const footnote = await d.page.locator('.costs-view > p.key').last().innerText();
      assert.doesNotMatch(footnote, /8 × 32/, 'no one footnote claims one batch for both');
    }
    const tokens = (await d.page.locator('table.compare-table tbody tr').allInnerTexts()).find((t) => t.startsWith('Tokens per step'));
    assert.match(tokens ?? '', /256\s+128\s+0\.50×/);
  });
});

test('no report: an explanation, no charts', async () => {
  await withDashboard(async (d) => {
    await d.send({ type: 'snapshot', runs: [], selectedRunIds: [], costs: [] });
    await d.showTab('Costs');
    assert.match(await d.page.locator('.costs-view .empty').innerText(), /No cost report/);
    assert.equal(Object.keys(await d.charts()).filter((k) => k.startsWith('costs-')).length, 0);
  });
});

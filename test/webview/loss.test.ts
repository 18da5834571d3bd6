/** The Loss view in headless Chromium: what is plotted, smoothing, log-x, overlays, incremental updates, exports. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFromWebviewMessage, type MetricPoint } from '../../src/protocol/webview';
import { lossPoints, run } from './fixtures';
import { type ChartInfo, dashboardSuite } from './harness';

const { withDashboard } = dashboardSuite();

/** TensorBoard's debiased EMA, written out here independently of the app's. */
function ema(values: number[], w: number): number[] {
  let acc = 0;
  return values.map((v, i) => {
    acc = acc * w + (1 - w) * v;
    return w === 0 ? v : acc / (1 - w ** (i + 1));
  });
}

type XY = { x: number; y: number };
const dataset = (chart: ChartInfo, runId: string, role: string) => {
  const d = chart.datasets.find((x) => x.runId === runId && x.role === role);
  assert.ok(d, `dataset ${runId}/${role}`);
  return { ...d, data: d.data as XY[] };
};
const near = (a: number, b: number, eps = 1e-9) => Math.abs(a - b) <= eps * Math.max(1, Math.abs(b));

const A = [{ step: 0, loss: 10.5 }, ...lossPoints(2000, 1)];
const B = lossPoints(1200, 2, { floor: 2.4, evalEvery: 200 });
const snapshot = {
  type: 'snapshot' as const,
  runs: [run('run-a', 'groupbert-mini', A), run('run-b', 'bert-mini', B, { state: 'completed' }), run('run-c', 'idle', lossPoints(50, 3))],
  selectedRunIds: ['run-a', 'run-b'],
  costs: [],
};

test('the webview says ready first and waits; a snapshot plots every point of the selected runs', async () => {
  await withDashboard(async (d) => {
    await d.settled();
    assert.deepEqual(await d.posted(), [{ v: 1, type: 'ready' }], 'nothing but ready before the host speaks');
    assert.match(await d.page.locator('.loss-view .empty').innerText(), /Waiting for data/);

    await d.send(snapshot);
    const chart = (await d.charts()).loss!;
    assert.equal(chart.scales.x!.type, 'linear');
    assert.deepEqual([...new Set(chart.datasets.map((x) => x.runId))], ['run-a', 'run-b'], 'only the selected runs, in host order');
    for (const [id, points] of [
      ['run-a', A],
      ['run-b', B],
    ] as const) {
      const raw = dataset(chart, id, 'train-raw');
      assert.equal(raw.data.length, points.length);
      raw.data.forEach((p, i) => assert.deepEqual(p, { x: points[i]!.step, y: points[i]!.loss }));
      const val = dataset(chart, id, 'val');
      const withVal = (points as MetricPoint[]).filter((p) => p.valLoss !== undefined);
      assert.equal(val.data.length, withVal.length);
      val.data.forEach((p, i) => assert.deepEqual(p, { x: withVal[i]!.step, y: withVal[i]!.valLoss }));
    }
    // Distinct, theme-derived colours per run, in the order the runs started (the host lists the newest first:
    // run-c is the oldest and takes the first colour); validation shares its run's colour.
    assert.equal(dataset(chart, 'run-a', 'train').borderColor, '#89d185');
    assert.equal(dataset(chart, 'run-b', 'train').borderColor, '#d18616');
    assert.equal(dataset(chart, 'run-b', 'val').borderColor, '#d18616');
    assert.ok(chart.width > 600 && chart.height >= 400, `chart drawn at ${chart.width}×${chart.height}`);

    const label = (await d.page.locator('#loss-chart').getAttribute('aria-label')) ?? '';
    assert.match(label, /Loss curves of 2 runs/);
    assert.match(label, /groupbert-mini #run-a \(running\): 2001 training points/);
    assert.equal(await d.page.locator('#loss-chart').getAttribute('role'), 'img');
  });
});

test('the smoothing slider applies a debiased EMA to the training curve (checked against an independent EMA)', async () => {
  await withDashboard(async (d) => {
    await d.send(snapshot);
    const ys = A.map((p) => p.loss!);
    const check = async (w: number) => {
      const chart = (await d.charts()).loss!;
      const smoothed = dataset(chart, 'run-a', 'train').data;
      const want = ema(ys, w);
      assert.equal(smoothed.length, want.length);
      smoothed.forEach((p, i) => assert.ok(near(p.y, want[i]!), `w=${w} step ${p.x}: ${p.y} ≠ ${want[i]}`));
      assert.equal(dataset(chart, 'run-a', 'train-raw').hidden, w === 0, 'the faint raw curve shows only when smoothing');
      return smoothed;
    };
    await check(0.6); // the default
    const slider = d.page.locator('.loss-view input[type=range]');
    await slider.focus();
    await d.page.keyboard.press('Home');
    await d.settled();
    const raw = await check(0);
    raw.forEach((p, i) => assert.equal(p.y, ys[i]));
    for (let i = 0; i < 5; i++) await d.page.keyboard.press('ArrowRight');
    await d.settled();
    assert.equal(await d.page.locator('.loss-view output').innerText(), '0.05');
    await check(0.05);
    await d.page.keyboard.press('End');
    await d.settled();
    const heavy = await check(0.99);
    // Heavier smoothing, smaller step-to-step wiggle.
    const wiggle = (ps: XY[]) => ps.slice(1).reduce((s, p, i) => s + Math.abs(p.y - ps[i]!.y), 0);
    assert.ok(wiggle(heavy) < wiggle(raw) / 10);
    assert.equal(await slider.getAttribute('aria-valuetext'), 'smoothing 0.99');
  });
});

test('log-scale steps: a logarithmic x axis without step 0', async () => {
  await withDashboard(async (d) => {
    await d.send(snapshot);
    await d.page.locator('.loss-view vscode-checkbox[label="Log scale"]').click();
    await d.settled();
    const chart = (await d.charts()).loss!;
    assert.equal(chart.scales.x!.type, 'logarithmic');
    const raw = dataset(chart, 'run-a', 'train-raw').data;
    assert.equal(raw.length, A.length - 1);
    assert.equal(raw[0]!.x, 1);
    assert.ok(chart.scales.x!.min >= 1 && chart.scales.x!.min <= 1);
    // The EMA starts at the first plotted point.
    assert.ok(near(dataset(chart, 'run-a', 'train').data[0]!.y, A[1]!.loss!));
    // Space toggles it back: the checkbox is keyboard-usable.
    await d.page.locator('.loss-view vscode-checkbox[label="Log scale"]').focus();
    await d.page.keyboard.press('Space');
    await d.settled();
    assert.equal((await d.charts()).loss!.scales.x!.type, 'linear');
  });
});

test('metrics and eval messages merge by step; a run is added by a run message; selection goes to the host', async () => {
  await withDashboard(async (d) => {
    await d.send(snapshot);
    await d.send({ type: 'metrics', runId: 'run-b', points: [{ step: 1201, loss: 2.2 }, { step: 1202, loss: 2.1 }, { step: 5, loss: 99 }] });
    await d.send({ type: 'eval', runId: 'run-b', step: 1202, loss: 2.3, accuracy: 0.4 });
    let chart = (await d.charts()).loss!;
    const raw = dataset(chart, 'run-b', 'train-raw').data;
    assert.equal(raw.length, B.length + 2);
    assert.deepEqual(raw[4], { x: 5, y: 99 }, 'a later value for a step replaces the earlier one');
    assert.deepEqual(raw[raw.length - 1], { x: 1202, y: 2.1 });
    assert.deepEqual(dataset(chart, 'run-b', 'val').data.at(-1), { x: 1202, y: 2.3 });

    await d.send({ type: 'run', run: { id: 'run-d', name: 'fresh', state: 'starting' } });
    assert.equal(await d.page.locator('.run-list vscode-checkbox').count(), 4);
    // Untick run-a: the host is told, and its curves go.
    await d.page.locator('.run-list vscode-checkbox[data-run-id="run-a"]').click();
    await d.settled();
    const posted = await d.posted();
    assert.deepEqual(posted.at(-1), { v: 1, type: 'selectRuns', runIds: ['run-b'] });
    assert.ok(parseFromWebviewMessage(posted.at(-1)).ok);
    chart = (await d.charts()).loss!;
    assert.deepEqual([...new Set(chart.datasets.map((x) => x.runId))], ['run-b']);
    // Colours stay with their runs when the selection changes.
    assert.equal(dataset(chart, 'run-b', 'train').borderColor, '#d18616');
    // A snapshot replaces (a hidden panel shown again gets a full replay): no duplicated points.
    await d.send(snapshot);
    assert.equal(dataset((await d.charts()).loss!, 'run-a', 'train-raw').data.length, A.length);
  });
});

test('issue #9 (14): two runs of one spec are told apart (short id, start time); a new run goes first and no colour moves', async () => {
  const older = '20250301-090000-000-aaaaaa';
  const newer = '20250301-100500-000-bbbbbb';
  const newest = '20250302-080000-000-cccccc';
  const local = (iso: string) => {
    const t = new Date(iso);
    const p = (n: number) => String(n).padStart(2, '0');
    return `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())} ${p(t.getHours())}:${p(t.getMinutes())}`;
  };
  await withDashboard(async (d) => {
    await d.send({
      type: 'snapshot',
      runs: [run(newer, 'tiny', lossPoints(30, 5), { state: 'completed', createdAt: '2025-03-01T10:05:00.000Z' }), run(older, 'tiny', lossPoints(30, 6), { state: 'completed', createdAt: '2025-03-01T09:00:00.000Z' })],
      selectedRunIds: [older, newer],
      costs: [],
    });
    const details = await d.page.locator('.run-list .run-detail').allInnerTexts();
    assert.deepEqual(details, [`#bbbbbb · ${local('2025-03-01T10:05:00.000Z')} · completed · wasm`, `#aaaaaa · ${local('2025-03-01T09:00:00.000Z')} · completed · wasm`]);
    let chart = (await d.charts()).loss!;
    assert.equal(dataset(chart, older, 'train').label, 'tiny #aaaaaa · training');
    assert.equal(dataset(chart, newer, 'val').label, 'tiny #bbbbbb · validation');
    const before = { older: dataset(chart, older, 'train').borderColor, newer: dataset(chart, newer, 'train').borderColor };
    assert.notEqual(before.older, before.newer);
    // A run starts while the panel is open: listed first, with the next colour; the others keep theirs.
    await d.send({ type: 'run', run: { id: newest, name: 'tiny', state: 'starting' } });
    await d.send({ type: 'metrics', runId: newest, points: [{ step: 1, loss: 9 }] });
    await d.page.locator(`.run-list vscode-checkbox[data-run-id="${newest}"]`).click();
    await d.settled();
    const order = await d.page.locator('.run-list vscode-checkbox').evaluateAll((els) => els.map((e) => e.getAttribute('data-run-id')));
    assert.deepEqual(order, [newest, newer, older]);
    chart = (await d.charts()).loss!;
    assert.equal(dataset(chart, older, 'train').borderColor, before.older);
    assert.equal(dataset(chart, newer, 'train').borderColor, before.newer);
    assert.ok(![before.older, before.newer].includes(dataset(chart, newest, 'train').borderColor));
    // The host's next snapshot (newest first) keeps the same colours.
    await d.send({
      type: 'snapshot',
      runs: [run(newest, 'tiny', [{ step: 1, loss: 9 }], { createdAt: '2025-03-02T08:00:00.000Z' }), run(newer, 'tiny', lossPoints(30, 5), { state: 'completed', createdAt: '2025-03-01T10:05:00.000Z' }), run(older, 'tiny', lossPoints(30, 6), { state: 'completed', createdAt: '2025-03-01T09:00:00.000Z' })],
      selectedRunIds: [newest, newer, older],
      costs: [],
    });
    const again = (await d.charts()).loss!;
    assert.equal(dataset(again, older, 'train').borderColor, before.older);
    assert.equal(dataset(again, newer, 'train').borderColor, before.newer);
  });
});

test('issue #9 (2): a snapshot after a resume from an earlier step replaces the curve: no old points are kept', async () => {
  await withDashboard(async (d) => {
    const old = lossPoints(147, 7);
    await d.send({ type: 'snapshot', runs: [run('run-r', 'resumed', old)], selectedRunIds: ['run-r'], costs: [] });
    assert.equal(dataset((await d.charts()).loss!, 'run-r', 'train-raw').data.length, 147);
    // What the host sends when the resumed run's `started` says step 0: the run anew, then the new points.
    await d.send({ type: 'snapshot', runs: [run('run-r', 'resumed', [])], selectedRunIds: ['run-r'], costs: [] });
    await d.send({ type: 'metrics', runId: 'run-r', points: Array.from({ length: 14 }, (_, i) => ({ step: i + 1, loss: 50 + i })) });
    const raw = dataset((await d.charts()).loss!, 'run-r', 'train-raw').data;
    assert.deepEqual(raw.map((p) => p.x), Array.from({ length: 14 }, (_, i) => i + 1));
    assert.equal(raw[0]!.y, 50);
  });
});

test('export: PNG (a data URL the host can decode, on the theme background) and CSV with every plotted value', async () => {
  await withDashboard(async (d) => {
    await d.send(snapshot);
    await d.page.locator('[data-action=export-loss-png]').click();
    await d.page.locator('[data-action=export-loss-csv]').click();
    const posted = (await d.posted()).filter((m) => m.type === 'exportFile');
    assert.equal(posted.length, 2);
    const [png, csv] = posted;
    for (const m of posted) assert.ok(parseFromWebviewMessage(m).ok, 'valid protocol messages');
    assert.ok(png && png.type === 'exportFile' && png.kind === 'png' && png.name === 'loss.png');
    const bytes = Buffer.from(png.data.slice('data:image/png;base64,'.length), 'base64');
    assert.equal(bytes.subarray(1, 4).toString(), 'PNG');
    const width = bytes.readUInt32BE(16);
    const height = bytes.readUInt32BE(20);
    const size = await d.page.evaluate('[document.getElementById("loss-chart").width, document.getElementById("loss-chart").height]');
    assert.deepEqual([width, height], [(size as number[])[0]! + 32, (size as number[])[1]! + 22 + 32], 'the chart plus margins and a title');
    // Drawn on the theme's editor background, not transparent (decoded in the page: img-src allows data:).
    const corner = await d.page.evaluate(`new Promise((ok, fail) => {
      const img = new Image();
      img.onload = () => { const c = document.createElement('canvas'); c.width = img.width; c.height = img.height; const x = c.getContext('2d'); x.drawImage(img, 0, 0); ok(Array.from(x.getImageData(2, 2, 1, 1).data)); };
      img.onerror = () => fail(new Error('the PNG did not decode'));
      img.src = ${JSON.stringify(png.data)};
    })`);
    assert.deepEqual(corner, [0x1f, 0x1f, 0x1f, 255]);

    assert.ok(csv && csv.type === 'exportFile' && csv.kind === 'csv' && csv.name === 'loss.csv');
    const lines = csv.data.trimEnd().split('\r\n');
    assert.equal(lines[0], 'run_id,run_name,step,tokens,training_flops,training_time_s,loss,loss_smoothed_0.60,val_loss,val_accuracy,learning_rate');
    assert.equal(lines.length, 1 + A.length + B.length);
    const row = lines.find((l) => l.startsWith('run-b,bert-mini,200,'))!.split(',');
    const b200 = B[199]!;
    assert.deepEqual(row.slice(3, 6), ['', '', ''], 'a run without compute totals leaves those columns empty');
    assert.equal(Number(row[6]), b200.loss);
    assert.ok(near(Number(row[7]), ema(B.map((p) => p.loss!), 0.6)[199]!));
    assert.equal(Number(row[8]), b200.valLoss);
    assert.equal(Number(row[10]), b200.lr);
  });
});

test('invalid messages are dropped with a logged reason and the view keeps working', async () => {
  await withDashboard(async (d) => {
    await d.send(snapshot);
    const bad: unknown[] = [
      'not an object',
      { v: 99, type: 'snapshot' },
      { v: 1, type: 'explode' },
      { v: 1, type: 'metrics', runId: 'run-a', points: [{ step: 1, loss: Number.NaN }] },
      { v: 1, type: 'metrics', runId: 'nobody', points: [{ step: 1, loss: 1 }] },
      { v: 1, type: 'snapshot', runs: 'all', selectedRunIds: [], costs: [] },
      { v: 1, type: 'probe', runId: 'run-a', step: 1, tokens: ['a', 'b'], layers: [{ layer: 0, attention: { heads: 1, probs: new Float32Array(3) } }] },
    ];
    for (const m of bad) await d.sendRaw(m);
    const dropped = await d.dropped();
    assert.equal(dropped.length, bad.length);
    assert.match(dropped[0]!, /must be an object/);
    assert.match(dropped[1]!, /version 99/);
    assert.match(dropped[2]!, /unknown .* type "explode"/);
    assert.match(dropped[3]!, /NaN/);
    assert.match(dropped[4]!, /unknown run "nobody"/);
    assert.match(dropped[6]!, /expected heads × T × T/);
    const logs = (await d.posted()).filter((m) => m.type === 'log');
    assert.equal(logs.length, bad.length);
    for (const l of logs) assert.ok(l.type === 'log' && l.level === 'warn' && l.message.startsWith('dashboard dropped a message: '));
    // Still alive: the chart has its data and takes new points.
    await d.send({ type: 'metrics', runId: 'run-a', points: [{ step: 2001, loss: 1.9 }] });
    assert.equal(dataset((await d.charts()).loss!, 'run-a', 'train-raw').data.length, A.length + 1);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Issue #12: compute axes

/**
 * A run whose points carry the cumulative totals the host computes (run-format/totals.ts), worked out here from
 * per-step amounts: 4096 tokens and 3 GFLOPs a step (6 GFLOPs from step 101 on: a bigger batch), 200 ms a step
 * (350 ms from step 151).
 */
function computePoints(n: number, seed: number): { points: MetricPoint[]; tokens: number[]; flops: number[]; seconds: number[] } {
  const points = lossPoints(n, seed, { evalEvery: 50 });
  const tokens: number[] = [];
  const flops: number[] = [];
  const seconds: number[] = [];
  let t = 0;
  let f = 0;
  let ms = 0;
  for (const p of points) {
    t += p.step > 100 ? 8192 : 4096;
    f += p.step > 100 ? 6e9 : 3e9;
    ms += p.step > 150 ? 350 : 200;
    Object.assign(p, { tokens: t, flops: f, trainingMs: ms });
    tokens.push(t);
    flops.push(f);
    seconds.push(ms / 1000);
  }
  return { points, tokens, flops, seconds };
}

const C = computePoints(300, 11);
const computeSnapshot = { type: 'snapshot' as const, runs: [run('run-c', 'groupbert-mini', C.points), run('run-b', 'bert-mini', B, { state: 'completed' })], selectedRunIds: ['run-c'], costs: [] };
const chooseAxis = async (d: Parameters<Parameters<typeof withDashboard>[0]>[0], axis: string) => {
  await d.page.locator(`.loss-view [data-control=loss-x] vscode-radio[value=${axis}]`).click();
  await d.settled();
};

test('issue #12: the x-axis switches between step, tokens, training FLOPs and training time: the x values are the cumulative totals', async () => {
  await withDashboard(async (d) => {
    await d.send(computeSnapshot);
    for (const [axis, xs, title] of [
      ['flops', C.flops, 'training FLOPs (cost model)'],
      ['tokens', C.tokens, 'tokens'],
      ['time', C.seconds, 'training time (sum of step times: no evaluation, checkpoints or pauses)'],
    ] as const) {
      await chooseAxis(d, axis);
      const chart = (await d.charts()).loss!;
      assert.equal(chart.scales.x!.title, title);
      const raw = dataset(chart, 'run-c', 'train-raw').data;
      assert.deepEqual(raw.map((p) => p.x), xs, `${axis}: every training point at its cumulative total`);
      assert.deepEqual(raw.map((p) => p.y), C.points.map((p) => p.loss));
      const val = dataset(chart, 'run-c', 'val').data;
      assert.deepEqual(val.map((p) => p.x), C.points.filter((p) => p.valLoss !== undefined).map((p) => xs[p.step - 1]), `${axis}: validation points at their steps' totals`);
      // The axis ends at the run's total (not a rounder tick past it).
      assert.ok(near(chart.scales.x!.max, xs[xs.length - 1]!, 1e-9), `${axis}: x max ${chart.scales.x!.max} ≠ ${xs[xs.length - 1]}`);
      assert.equal((await d.state() as { xAxis?: string }).xAxis, axis, 'persisted with setState');
    }
    // The time axis (0.2 s … 82.5 s, at most about 8 ticks: 82.3 s / 8 = 10.3 s, so the round step is 20 s) has
    // its ticks at round values, not counted from its first value.
    const ticks = (await d.charts()).loss!.scales.x!.ticks;
    assert.deepEqual(ticks.map((t) => Math.round(t * 1e6) / 1e6), [20, 40, 60, 80]);
    // Step 300's total FLOPs: 100 × 3 G + 200 × 6 G = 1.5 TFLOP; its training time 150 × 0.2 + 150 × 0.35 s = 82.5 s.
    assert.equal(C.flops[299], 1.5e12);
    assert.equal(C.seconds[299], 82.5);
    assert.match((await d.page.locator('#loss-chart').getAttribute('aria-label')) ?? '', /against training time .*last training loss [\d.]+ at 1 min 23 s training/);
    // A run without totals (recorded before them) has nothing to plot against compute, and the view says so.
    await d.page.locator('.run-list vscode-checkbox[data-run-id="run-c"]').click();
    await d.page.locator('.run-list vscode-checkbox[data-run-id="run-b"]').click();
    await d.settled();
    assert.equal(dataset((await d.charts()).loss!, 'run-b', 'train-raw').data.length, 0);
    assert.match(await d.page.locator('.loss-view .empty').innerText(), /recorded no training time: choose another x-axis/);
    await chooseAxis(d, 'step');
    const chart = (await d.charts()).loss!;
    assert.equal(chart.scales.x!.title, 'step');
    assert.deepEqual(dataset(chart, 'run-b', 'train-raw').data.map((p) => p.x), B.map((p) => p.step));
  });
});

test('issue #12: the chosen axis survives a reload (restored from getState), and log scale applies to it', async () => {
  await withDashboard(
    async (d) => {
      await d.send(computeSnapshot);
      let chart = (await d.charts()).loss!;
      assert.equal(chart.scales.x!.title, 'training FLOPs (cost model)', 'the persisted axis');
      await d.page.locator('.loss-view vscode-checkbox[label="Log scale"]').click();
      await d.settled();
      chart = (await d.charts()).loss!;
      assert.equal(chart.scales.x!.type, 'logarithmic');
      assert.equal(chart.scales.x!.title, 'training FLOPs (cost model) (log scale)');
      assert.deepEqual(dataset(chart, 'run-c', 'train-raw').data.map((p) => p.x), C.flops);
      assert.equal(chart.scales.x!.min, 3e9, 'a log axis from the first step\'s FLOPs');
      assert.equal(chart.scales.x!.max, 1.5e12);
    },
    { state: { v: 1, tab: 'loss', smoothing: 0.6, xAxis: 'flops', logX: false, costPass: 'forward', costDisplay: 'chart', attention: { runId: null, layer: 0, head: -1, step: null } } },
  );
});

test('issue #12: the tooltip gives step, tokens, training FLOPs, training time and the learning rate of the point under the pointer', async () => {
  await withDashboard(async (d) => {
    await d.send(computeSnapshot);
    await chooseAxis(d, 'flops');
    const chart = (await d.charts()).loss!;
    // Point at step 200 (an evaluation step): 100 × 3 G + 100 × 6 G = 900 GFLOP.
    const p = C.points[199]!;
    assert.equal(p.flops, 9e11);
    const { area } = chart;
    const sx = chart.scales.x!;
    const sy = chart.scales.y!;
    const px = area.left + ((p.flops! - sx.min) / (sx.max - sx.min)) * (area.right - area.left);
    const py = area.bottom - ((p.loss! - sy.min) / (sy.max - sy.min)) * (area.bottom - area.top);
    const box = (await d.page.locator('#loss-chart').boundingBox())!;
    await d.page.mouse.move(box.x + px, box.y + py);
    await d.settled();
    const tip = (await d.charts()).loss!.tooltip;
    assert.ok(tip, 'a tooltip is up');
    assert.deepEqual(tip.title, ['900 GFLOP']);
    assert.equal(p.lr, 1e-4);
    const details = 'step 200 · 1.23 M tokens · 900 GFLOP · 47.5 s training · lr 1.00e-4';
    // 100 × 4096 + 100 × 8192 tokens; 150 × 0.2 s + 50 × 0.35 s.
    assert.equal(C.tokens[199], 1228800);
    assert.equal(C.seconds[199], 47.5);
    assert.ok(tip.body.includes(details), `the tooltip says "${details}": ${JSON.stringify(tip.body)}`);
    assert.ok(tip.body.some((l) => /^groupbert-mini #run-c · validation: /.test(l)), 'the validation point at that step too');
  });
});

test('issue #12: CSV export has the tokens, training FLOPs and training time columns', async () => {
  await withDashboard(async (d) => {
    await d.send(computeSnapshot);
    await d.page.locator('[data-action=export-loss-csv]').click();
    const m = (await d.posted()).find((x) => x.type === 'exportFile');
    assert.ok(m && m.type === 'exportFile' && parseFromWebviewMessage(m).ok);
    const lines = m.data.trimEnd().split('\r\n');
    assert.equal(lines[0], 'run_id,run_name,step,tokens,training_flops,training_time_s,loss,loss_smoothed_0.60,val_loss,val_accuracy,learning_rate');
    const row = lines.find((l) => l.startsWith('run-c,groupbert-mini,150,'))!.split(',');
    // Step 150: 100 × 4096 + 50 × 8192 tokens, 100 × 3 G + 50 × 6 G FLOPs, 150 × 0.2 s.
    assert.deepEqual(row.slice(2, 6).map(Number), [150, 819200, 6e11, 30]);
    assert.equal(Number(row[6]), C.points[149]!.loss);
    assert.equal(Number(row[8]), C.points[149]!.valLoss);
  });
});

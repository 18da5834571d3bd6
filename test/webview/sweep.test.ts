/** The Sweep view in headless Chromium: a sweep's runs' validation loss against training FLOPs, live; the tables. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MetricPoint } from '../../src/protocol/webview';
import { run } from './fixtures';
import { dashboardSuite } from './harness';

const { withDashboard } = dashboardSuite();

/** Steps 1…n of a run costing `flopsPerStep` FLOPs and 10 ms a step; validation every 5 steps at loss 8 − step/10. */
function sweepPoints(n: number, flopsPerStep: number, offset = 0): MetricPoint[] {
  const out: MetricPoint[] = [{ step: 0, valLoss: 9 }];
  for (let step = 1; step <= n; step++) {
    const p: MetricPoint = { step, loss: 8 - step / 20, tokens: step * 1024, flops: step * flopsPerStep, trainingMs: step * 10 };
    if (step % 5 === 0) p.valLoss = 8 - step / 10 - offset;
    out.push(p);
  }
  return out;
}

const SWEEP = 'gb-vs-bert';
const ids = [`${SWEEP}--bert-s1`, `${SWEEP}--bert-s2`, `${SWEEP}--gb-s1`];
const snapshot = {
  type: 'snapshot' as const,
  runs: [
    run(ids[0]!, 'bert', sweepPoints(20, 1e9), { state: 'completed' }),
    run(ids[1]!, 'bert', sweepPoints(10, 1e9), { state: 'running' }),
    run(ids[2]!, 'gb', sweepPoints(20, 4e8, 0.3), { state: 'completed' }),
    run('20250101-120000-000-abcdef', 'unrelated', sweepPoints(20, 1e9)),
  ],
  selectedRunIds: [],
  costs: [],
};

type XY = { x: number; y: number };

test('the Sweep tab plots every run of the sweep (validation loss against cumulative training FLOPs, log-x), counts the done ones, and follows live points', async () => {
  await withDashboard(async (d) => {
    await d.send(snapshot);
    await d.showTab('Sweep');
    assert.match(await d.page.locator('.sweep-view .empty').innerText(), /No sweeps yet/);
    await d.send({ type: 'sweeps', sweeps: [{ name: SWEEP, runIds: [...ids, `${SWEEP}--gb-s2`] }] });
    const chart = (await d.charts()).sweep!;
    assert.equal(chart.scales.x!.type, 'logarithmic');
    assert.equal(chart.scales.x!.title, 'training FLOPs (cost model) (log scale)');
    assert.deepEqual(chart.datasets.map((x) => x.runId), [...ids, `${SWEEP}--gb-s2`], 'the sweep\'s runs in plan order, not the unrelated run');
    // bert-s1: validation at steps 5, 10, 15, 20 (step 0 is at x = 0, off a log axis) at x = step × 1e9.
    assert.deepEqual(chart.datasets[0]!.data as XY[], [5, 10, 15, 20].map((s) => ({ x: s * 1e9, y: 8 - s / 10 })));
    assert.deepEqual(chart.datasets[2]!.data as XY[], [5, 10, 15, 20].map((s) => ({ x: s * 4e8, y: 8 - s / 10 - 0.3 })));
    assert.equal(chart.datasets[3]!.data.length, 0, 'a planned run not on disk has no points');
    // One colour per group: both bert seeds share one; gb has another.
    assert.equal(chart.datasets[0]!.borderColor, chart.datasets[1]!.borderColor);
    assert.notEqual(chart.datasets[0]!.borderColor, chart.datasets[2]!.borderColor);
    const status = d.page.locator('.sweep-view [data-role=sweep-status]');
    assert.equal(await status.innerText(), '2 of 4 runs done');
    assert.equal(await d.page.locator('.sweep-runs tbody tr').count(), 4);
    assert.equal(await d.page.locator(`.sweep-runs tr[data-run-id="${SWEEP}--gb-s2"] [data-col=state]`).innerText(), 'not started');

    // Live: bert-s2 evaluates at step 15, then completes.
    await d.send({ type: 'metrics', runId: ids[1]!, points: [{ step: 15, loss: 7, valLoss: 6.5, flops: 15e9, tokens: 15 * 1024, trainingMs: 150 }] });
    await d.send({ type: 'run', run: { id: ids[1]!, name: 'bert', state: 'completed' } });
    const after = (await d.charts()).sweep!;
    assert.deepEqual((after.datasets[1]!.data as XY[]).at(-1), { x: 15e9, y: 6.5 });
    assert.equal(await status.innerText(), '3 of 4 runs done');
    await d.screenshot('sweep');
    await d.assertClean();
  });
});

test('the crossing table shows what the host sends; "not reached" where a curve does not get there', async () => {
  await withDashboard(async (d) => {
    await d.send(snapshot);
    await d.showTab('Sweep');
    await d.send({
      type: 'sweeps',
      sweeps: [
        {
          name: SWEEP,
          runIds: ids,
          crossings: [
            { groupbert: 'gb', bert: 'bert', target: 6, flops: 6e9, flopsRatio: 0.3, timeMs: 150, timeRatio: 0.75 },
            { groupbert: 'gb-small', bert: 'bert', target: 6 },
          ],
        },
      ],
    });
    await d.settled();
    const rows = await d.page.locator('.sweep-crossings tbody tr').allInnerTexts();
    assert.equal(rows.length, 2);
    assert.match(rows[0]!, /gb\s+bert\s+6\s+6(\.00)? GFLOP\s+0\.30/);
    assert.match(rows[1]!, /gb-small\s+bert\s+6\s+not reached\s+–\s+not reached/);
    await d.assertClean();
  });
});

test('an invalid sweeps message is dropped and said, never applied', async () => {
  await withDashboard(async (d) => {
    await d.send(snapshot);
    await d.sendRaw({ v: 1, type: 'sweeps', sweeps: [{ name: '', runIds: [] }] });
    await d.settled();
    const posted = await d.posted();
    assert.ok(posted.some((m) => (m as { type: string; message?: string }).type === 'log' && /dropped a message/.test((m as { message: string }).message)), JSON.stringify(posted));
  });
});

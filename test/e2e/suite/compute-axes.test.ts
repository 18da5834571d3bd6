/// <reference types="mocha" />
/**
 * The Loss view's compute axes (issue #12), host side, in the real VS Code: a run directory written on disk (as the
 * CLI or another window would) with a resume in its history is picked up by the watchers, and what the dashboard is
 * sent for it (`registry.series()`, the snapshot's runs) carries each kept step's cumulative training FLOPs and
 * training time — hand-computed here: no reset and no double count across the resume. The webview's side (the
 * chart's x values on the FLOPs and time axes) is checked in the UI test (test/e2e/drivers/ui.ts).
 */
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { api, waitFor, workspaceRoot } from './util';

const RUN_ID = '20250102-120000-000-c0a7e5';

suite('compute axes', () => {
  test('compute axes: a resumed run\'s points carry cumulative training FLOPs and time over the steps it kept', async () => {
    const a = await api();
    const dir = path.join(workspaceRoot(), '.convbert', 'runs', RUN_ID);
    await fsp.mkdir(dir, { recursive: true });
    await fsp.copyFile(path.join(workspaceRoot(), 'model.convbert.json'), path.join(dir, 'spec.convbert.json'));
    const t0 = Date.UTC(2025, 0, 2, 12, 0, 0);
    const lines: unknown[] = [];
    const started = (step: number, resumed: boolean) => ({ type: 'started', runId: RUN_ID, runDir: dir, backend: { requested: 'cpu', name: 'cpu', skipped: [] }, seed: 7, step, totalSteps: 8, resumed, v: 1, time: t0 });
    // Step s of the first session: 100 ms at 1 GFLOP/s (0.1 GFLOP); of the second: 200 ms at 2 GFLOP/s (0.4 GFLOP).
    const metrics = (step: number, stepMs: number, flopsPerSecond: number) => ({ type: 'metrics', step, loss: 8 - step / 10, mlmLoss: 8 - step / 10, learningRate: 1e-3, gradNorm: 1, tokensPerSecond: 2560, stepMs, flopsPerSecond, memoryBytes: 1, v: 1, time: t0 + step });
    lines.push(started(0, false));
    for (let s = 1; s <= 6; s++) lines.push(metrics(s, 100, 1e9));
    // Killed after step 6 with a checkpoint at step 4: resumed from 4, steps 5 and 6 trained again.
    lines.push(started(4, true));
    for (let s = 5; s <= 8; s++) lines.push(metrics(s, 200, 2e9));
    lines.push({ type: 'done', reason: 'completed', step: 8, summary: { steps: 8 }, v: 1, time: t0 + 100 });
    await fsp.writeFile(path.join(dir, 'metrics.jsonl'), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const iso = new Date(t0).toISOString();
    await fsp.writeFile(
      path.join(dir, 'run.json'),
      JSON.stringify({ format: 'convbert-run', formatVersion: 1, runId: RUN_ID, name: 'compute axes', state: 'completed', createdAt: iso, updatedAt: iso, startedAt: iso, endedAt: iso, seed: 7, backend: { requested: 'cpu', name: 'cpu' }, step: 8, totalSteps: 8, versions: { protocol: 1, node: process.versions.node } }),
    );
    // The run watchers rescan (run.json within half a second): no refresh by hand.
    const series = await waitFor('the run in what the dashboard is sent', () => a.registry.series().find((r) => r.id === RUN_ID && r.points.length === 8), 15_000);
    // Kept: steps 1–4 of the first session (0.1 GFLOP, 100 ms each), 5–8 of the second (0.4 GFLOP, 200 ms each).
    const want = [1, 2, 3, 4, 5, 6, 7, 8].map((s) => (s <= 4 ? { flops: s * 1e8, ms: s * 100 } : { flops: 4e8 + (s - 4) * 4e8, ms: 400 + (s - 4) * 200 }));
    assert.deepEqual(series.points.map((p) => p.step), [1, 2, 3, 4, 5, 6, 7, 8]);
    series.points.forEach((p, i) => {
      assert.ok(Math.abs(p.flops! - want[i]!.flops) < 1e-3 * want[i]!.flops, `step ${p.step}: ${p.flops} FLOPs, expected ${want[i]!.flops}`);
      assert.ok(Math.abs(p.trainingMs! - want[i]!.ms) < 1e-9, `step ${p.step}: ${p.trainingMs} ms, expected ${want[i]!.ms}`);
      assert.ok(Math.abs(p.tokens! - (want[i]!.ms * 2560) / 1000) < 1e-6, `step ${p.step}: ${p.tokens} tokens`);
    });
    // Shown in the dashboard: a snapshot goes out with it.
    await vscode.commands.executeCommand('convbert.runs.open', RUN_ID);
    const c = await waitFor('the dashboard to say ready', () => (a.dashboard.current?.isReady ? a.dashboard.current : undefined), 60_000);
    assert.ok(c.selectedRunIds.includes(RUN_ID));
  });
});

/// <reference types="mocha" />
/**
 * Training from the editor in the real VS Code: the Train command forks the trainer process, the run registry
 * follows it to completion, Stop and Resume work, a run whose process is gone is shown as interrupted and can be
 * resumed, and Delete removes the run directory.
 */
import * as assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readMetricEvents } from '../../../src/run-format/metrics';
import { newRunId, readRunInfo, RUNS_DIR } from '../../../src/run-format/run-dir';
import { api, fixture, waitFor, workspaceRoot } from './util';

const TRAIN_TIMEOUT = 240_000;

suite('training', () => {
  let completedRun: string | undefined;

  test('Train runs a short real training that the run registry sees to completion', async () => {
    const a = await api();
    const runId = await vscode.commands.executeCommand<string>('convbert.train', fixture('model.convbert.json'), { quiet: true });
    assert.ok(runId, 'Train returns the run id');
    assert.equal(a.registry.get(runId)?.live, true);
    const run = await waitFor('the run to complete', () => {
      const r = a.registry.get(runId);
      if (r && (r.state === 'error' || r.state === 'interrupted' || r.state === 'nonfinite')) throw new Error(`run ended ${r.state}: ${r.message ?? ''}`);
      return r?.state === 'completed' && !r.live ? r : undefined;
    }, TRAIN_TIMEOUT, 500);
    const points = a.registry.points(runId);
    assert.equal(run.totalSteps, 40);
    assert.equal(run.step, 40);
    assert.equal(points.filter((p) => p.loss !== undefined).length, 40, 'one training loss per step');
    assert.ok(points.some((p) => p.valLoss !== undefined), 'evaluations were recorded');
    assert.ok(run.bestLoss !== undefined && Number.isFinite(run.bestLoss));
    assert.ok(run.backend, 'the backend is known');
    const info = await readRunInfo(run.dir);
    assert.equal(info?.state, 'completed');
    assert.ok(info?.lastCheckpoint, 'a checkpoint was written');
    assert.equal(path.dirname(run.dir), path.join(workspaceRoot(), RUNS_DIR));
    console.log(`trained ${run.name} on ${run.backend}: ${run.step} steps, best loss ${run.bestLoss?.toFixed(4)}`);
    completedRun = runId;
  });

  test('Stop ends a run after its step with a checkpoint; Resume continues it from there', async () => {
    const a = await api();
    const runId = await vscode.commands.executeCommand<string>('convbert.train', fixture('model.convbert.json'), { quiet: true, steps: 100_000 });
    assert.ok(runId);
    await waitFor('a few steps', () => (a.registry.get(runId)?.step ?? 0) >= 3, TRAIN_TIMEOUT, 200);
    await vscode.commands.executeCommand('convbert.stop', runId);
    const stopped = await waitFor('the run to stop', () => {
      const r = a.registry.get(runId);
      return r && !r.live && r.state !== 'running' && r.state !== 'stopping' ? r : undefined;
    }, 60_000, 200);
    assert.equal(stopped.state, 'stopped');
    assert.equal(stopped.resumable, true);
    const stoppedAt = stopped.step;
    assert.ok(stopped.lastCheckpoint, 'stop wrote a checkpoint');

    const resumed = await vscode.commands.executeCommand<string>('convbert.resume', runId, { quiet: true, steps: stoppedAt + 3 });
    assert.equal(resumed, runId);
    const done = await waitFor('the resumed run to complete', () => {
      const r = a.registry.get(runId);
      if (r && !r.live && (r.state === 'error' || r.state === 'interrupted')) throw new Error(`resume ended ${r.state}: ${r.message ?? ''}`);
      return r?.state === 'completed' && !r.live ? r : undefined;
    }, TRAIN_TIMEOUT, 300);
    assert.equal(done.step, stoppedAt + 3);
    const history = await readMetricEvents(done.dir);
    const started = history.events.filter((e) => e.type === 'started');
    assert.equal(started.length, 2, 'two sessions');
    assert.equal(started[1]?.type === 'started' && started[1].resumed, true);
    const steps = history.events.filter((e) => e.type === 'metrics').map((e) => (e.type === 'metrics' ? e.step : -1));
    assert.deepEqual(steps, Array.from({ length: stoppedAt + 3 }, (_, i) => i + 1), 'the steps continue without a gap or a repeat');
  });

  test('after a reload, a run whose trainer is gone is interrupted and resumable; Delete removes it', async () => {
    const a = await api();
    // What a window that was closed mid-run leaves behind: run.json says running, with a pid that is gone.
    const runId = newRunId();
    const dir = path.join(workspaceRoot(), RUNS_DIR, runId);
    await fsp.mkdir(path.join(dir, 'checkpoints'), { recursive: true });
    await fsp.copyFile(fixture('model.convbert.json').fsPath, path.join(dir, 'spec.convbert.json'));
    const now = new Date().toISOString();
    await fsp.writeFile(
      path.join(dir, 'run.json'),
      JSON.stringify({ format: 'convbert-run', formatVersion: 1, runId, name: 'e2e-tiny', state: 'running', createdAt: now, updatedAt: now, step: 7, totalSteps: 40, versions: { protocol: 1, node: process.versions.node }, pid: 2_147_483_000 }),
    );
    await vscode.commands.executeCommand('convbert.runs.refresh');
    const run = await waitFor('the registry to see it', () => a.registry.get(runId));
    assert.equal(run.state, 'interrupted');
    assert.equal(run.resumable, true);

    // It has no checkpoint: it is not resumed, it starts over as a new run from its snapshot (resume.test.ts).
    const fresh = await vscode.commands.executeCommand<string>('convbert.resume', runId, { quiet: true, steps: 5, ifNoCheckpoint: 'start-over' });
    assert.ok(fresh && fresh !== runId);
    await waitFor('the new run to complete', () => {
      const r = a.registry.get(fresh);
      if (r && !r.live && r.state === 'error') throw new Error(`start over failed: ${r.message ?? ''}`);
      return r?.state === 'completed' && !r.live;
    }, TRAIN_TIMEOUT, 300);

    assert.equal(await vscode.commands.executeCommand<boolean>('convbert.runs.delete', fresh, true), true);
    assert.equal(await vscode.commands.executeCommand<boolean>('convbert.runs.delete', runId, true), true);
    assert.equal(existsSync(dir), false);
    assert.equal(a.registry.get(runId), undefined);
  });

  test('the completed run is still there after a rescan (the run directories are the truth)', async () => {
    const a = await api();
    assert.ok(completedRun, 'the first test trained a run');
    await a.registry.refresh();
    const r = a.registry.get(completedRun);
    assert.equal(r?.state, 'completed');
    assert.equal(a.registry.points(completedRun).filter((p) => p.loss !== undefined).length, 40);
  });
});

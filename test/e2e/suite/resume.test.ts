/// <reference types="mocha" />
/**
 * Issue #9, findings 2 and 7 (editor side), in the real VS Code: Resume says from which checkpoint step a run
 * continues and which steps are retrained, and continues from there; a run without a checkpoint is not resumed
 * (Start over trains its snapshot as a new run, the old run stays); closing the window (`stopAll`, what
 * `deactivate` runs) stops each trainer with a checkpoint; Stop during "starting" and during training ends the
 * trainer process within 2 s.
 */
import * as assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import * as vscode from 'vscode';
import { latestCheckpointStep } from '../../../src/run-format/checkpoint-name';
import { readMetricEvents } from '../../../src/run-format/metrics';
import type { RunRecord } from '../../../src/extension/runs/registry';
import { resumeLabel } from '../../../src/extension/training/resume-plan';
import { api, fixture, sleep, waitFor } from './util';

const TRAIN_TIMEOUT = 240_000;
/** The e2e model with checkpoints far apart: a run killed early has none. */
const NO_CKPT = 'resume-no-checkpoint.convbert.json';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Milliseconds from `t0` until the process is gone (fails past `limitMs`). */
async function goneWithin(pid: number, limitMs: number, t0 = Date.now()): Promise<number> {
  while (alive(pid)) {
    if (Date.now() - t0 > limitMs) throw new Error(`trainer pid ${pid} still runs ${limitMs} ms after the stop`);
    await sleep(20);
  }
  return Date.now() - t0;
}

async function ended(runId: string): Promise<RunRecord> {
  const a = await api();
  return waitFor(`run ${runId} to end`, () => {
    const r = a.registry.get(runId);
    return r && !r.live && !['starting', 'running', 'stopping'].includes(r.state) ? r : undefined;
  }, 60_000, 100);
}

async function train(spec: string, steps: number): Promise<{ runId: string; pid: number }> {
  const a = await api();
  const runId = await vscode.commands.executeCommand<string>('convbert.train', fixture(spec), { quiet: true, steps });
  assert.ok(runId, 'Train returns the run id');
  const pid = a.training.pidOf(runId);
  assert.ok(pid, 'the trainer process is known');
  return { runId, pid };
}

async function atStep(runId: string, step: number): Promise<void> {
  const a = await api();
  await waitFor(`step ${step}`, () => {
    const r = a.registry.get(runId);
    if (r && !r.live) throw new Error(`the run ended (${r.state}) before step ${step}: ${r.message ?? ''}`);
    return (r?.step ?? 0) >= step;
  }, TRAIN_TIMEOUT, 50);
}

/** What closing the window mid-run used to leave: the trainer killed outright, no final checkpoint. */
async function kill(runId: string, pid: number): Promise<RunRecord> {
  process.kill(pid, 'SIGKILL');
  await goneWithin(pid, 5000);
  return ended(runId);
}

suite('run lifecycle', () => {
  suiteSetup(async () => {
    const text = (await fsp.readFile(fixture('model.convbert.json').fsPath, 'utf8')).replace('"checkpointInterval": 20', '"checkpointInterval": 100000');
    assert.match(text, /"checkpointInterval": 100000/);
    await fsp.writeFile(fixture(NO_CKPT).fsPath, text.replace('"name": "e2e-tiny"', '"name": "e2e-no-ckpt"'));
  });
  suiteTeardown(async () => {
    await fsp.rm(fixture(NO_CKPT).fsPath, { force: true });
  });

  test('lifecycle: Stop during "starting" ends the trainer within 2 s; the run shows cancelled', async () => {
    const { runId, pid } = await train('model.convbert.json', 100_000);
    const a = await api();
    assert.equal(a.registry.get(runId)?.step ?? 0, 0, 'still starting');
    // From the request: the command itself waits for the trainer to end.
    const t0 = Date.now();
    await vscode.commands.executeCommand('convbert.stop', runId);
    const ms = await goneWithin(pid, 2000, t0);
    const r = await ended(runId);
    console.log(`stop while starting: trainer gone in ${ms} ms; run ${r.state} at step ${r.step}`);
    assert.equal(r.state, 'cancelled', r.message);
    assert.equal(r.resumable, false, 'nothing to resume');
    assert.ok(!a.training.liveRunIds.includes(runId));
  });

  test('lifecycle: Stop during training ends the trainer within 2 s, stopped with a checkpoint at its step', async () => {
    const { runId, pid } = await train(NO_CKPT, 100_000);
    await atStep(runId, 3);
    // From the request: the command itself waits for the trainer to end.
    const t0 = Date.now();
    await vscode.commands.executeCommand('convbert.stop', runId);
    const ms = await goneWithin(pid, 2000, t0);
    const r = await ended(runId);
    console.log(`stop while training: trainer gone in ${ms} ms; run ${r.state} at step ${r.step}`);
    assert.equal(r.state, 'stopped');
    assert.equal(await latestCheckpointStep(r.dir), r.step, 'the stop wrote a checkpoint at the last step');
  });

  test('lifecycle: closing the window (stopAll) stops each trainer with a checkpoint, so Resume loses nothing', async () => {
    const a = await api();
    const { runId, pid } = await train(NO_CKPT, 100_000);
    await atStep(runId, 3);
    const t0 = Date.now();
    await a.training.stopAll();
    console.log(`stopAll: returned after ${Date.now() - t0} ms`);
    assert.equal(alive(pid), false, 'the trainer is gone when stopAll returns');
    const r = await ended(runId);
    assert.equal(r.state, 'stopped', r.message);
    const ckpt = await latestCheckpointStep(r.dir);
    assert.equal(ckpt, r.step, 'a checkpoint at the step it stopped at');
    const plan = await a.training.planResume(runId);
    assert.deepEqual(plan, { kind: 'resume', checkpointStep: r.step, lastStep: r.step });
  });

  test('lifecycle: Resume continues from the last checkpoint and says which steps are retrained', async () => {
    const a = await api();
    // model.convbert.json checkpoints every 20 steps: killed past 20, the steps after it are lost.
    const { runId, pid } = await train('model.convbert.json', 100_000);
    await atStep(runId, 23);
    const killed = await kill(runId, pid);
    const last = killed.step;
    assert.ok(last >= 23, `killed at ${last}`);
    const plan = await a.training.planResume(runId);
    assert.deepEqual(plan, { kind: 'resume', checkpointStep: 20, lastStep: last, retrained: { from: 21, to: last } });
    assert.equal(resumeLabel(plan as typeof plan & { kind: 'resume' }), `resuming at step 20; steps 21–${last} were not checkpointed and are retrained`);

    const resumed = await vscode.commands.executeCommand<string>('convbert.resume', runId, { quiet: true, steps: last + 2 });
    assert.equal(resumed, runId);
    const done = await waitFor('the resumed run to complete', () => {
      const r = a.registry.get(runId);
      if (r && !r.live && r.state !== 'completed' && r.state !== 'starting') throw new Error(`resume ended ${r.state}: ${r.message ?? ''}`);
      return r?.state === 'completed' && !r.live ? r : undefined;
    }, TRAIN_TIMEOUT, 300);
    assert.equal(done.step, last + 2);
    const started = (await readMetricEvents(done.dir)).events.filter((e) => e.type === 'started');
    assert.equal(started.length, 2);
    assert.equal(started[1]?.type === 'started' ? started[1].step : -1, 20, 'the second session started at the checkpoint');
  });

  test('lifecycle: a run without a checkpoint is not resumed; Start over trains its snapshot as a new run', async () => {
    const a = await api();
    const { runId, pid } = await train(NO_CKPT, 100_000);
    await atStep(runId, 3);
    const killed = await kill(runId, pid);
    assert.equal(await latestCheckpointStep(killed.dir), undefined, 'no checkpoint was written');
    assert.deepEqual(await a.training.planResume(runId), { kind: 'no-checkpoint', lastStep: killed.step });
    const pointsBefore = a.registry.points(runId).filter((p) => p.loss !== undefined).length;

    // Refused: no trainer starts, the run stays as it was.
    const refused = await vscode.commands.executeCommand<string | undefined>('convbert.resume', runId, { quiet: true, ifNoCheckpoint: 'refuse' });
    assert.equal(refused, undefined);
    assert.ok(!a.training.liveRunIds.includes(runId));
    assert.equal(a.registry.get(runId)?.live, false);

    // Start over: a new run from the snapshot, from step 0; the old one keeps its curve.
    const fresh = await vscode.commands.executeCommand<string>('convbert.resume', runId, { quiet: true, steps: 3, ifNoCheckpoint: 'start-over' });
    assert.ok(fresh && fresh !== runId, `a new run id (${fresh})`);
    const done = await waitFor('the new run to complete', () => {
      const r = a.registry.get(fresh);
      if (r && !r.live && r.state !== 'completed' && r.state !== 'starting') throw new Error(`start over ended ${r.state}: ${r.message ?? ''}`);
      return r?.state === 'completed' && !r.live ? r : undefined;
    }, TRAIN_TIMEOUT, 300);
    assert.equal(done.step, 3);
    assert.notEqual(done.dir, killed.dir);
    assert.equal(done.name, 'e2e-no-ckpt');
    const first = (await readMetricEvents(done.dir)).events.find((e) => e.type === 'started');
    assert.equal(first?.type === 'started' && first.step, 0);
    assert.equal(first?.type === 'started' && first.resumed, false);
    assert.ok(existsSync(killed.dir), 'the old run is kept');
    assert.equal(a.registry.points(runId).filter((p) => p.loss !== undefined).length, pointsBefore, 'with its curve');
  });
});

/**
 * The sweep runner's pure parts (docs/sweeps.md, "Running"): what is done with each run from what is on disk, how
 * many run at once, the state file, and the progress figures and lines.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { createColors } from 'picocolors';
import { changedRuns, chooseParallel, decideRun, readSweepState, sweepDir, threadEnv, threadsPerRun, writeSweepState, type SweepState } from '../../src/engines/sweep';
import type { RunInfo } from '../../src/run-format/run-dir';
import type { CliIo } from '../../src/cli/io';
import { BarSweepView, LineSweepView, SweepTally, eventLine } from '../../src/cli/sweep-progress';

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});
function tmp(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'convbert-sweep-unit-'));
  made.push(dir);
  return dir;
}

function info(patch: Partial<RunInfo>): RunInfo {
  return { format: 'convbert-run', formatVersion: 1, runId: 'r', state: 'created', createdAt: '', updatedAt: '', step: 0, versions: { protocol: 1, node: '20' }, ...patch } as RunInfo;
}

const DEAD_PID = 2 ** 22 + 12345; // above Linux's pid_max default: never alive

test('decideRun: new → start; completed → skip; checkpoint → resume from it; none → start over in place; a live trainer → busy', () => {
  const run = { steps: 20 };
  assert.deepEqual(decideRun(run, { info: undefined, checkpointStep: undefined, livePid: undefined }), { kind: 'start' });
  assert.deepEqual(decideRun(run, { info: info({ state: 'completed', step: 20, totalSteps: 20 }), checkpointStep: 20, livePid: undefined }), { kind: 'skip', step: 20 });
  assert.deepEqual(decideRun(run, { info: info({ state: 'stopped', step: 9, totalSteps: 20 }), checkpointStep: 8, livePid: undefined }), { kind: 'resume', fromStep: 8, state: 'stopped' });
  // Killed while running: run.json still says running, its pid is gone.
  assert.deepEqual(decideRun(run, { info: info({ state: 'running', step: 5, pid: DEAD_PID }), checkpointStep: 4, livePid: undefined }), { kind: 'resume', fromStep: 4, state: 'interrupted' });
  assert.deepEqual(decideRun(run, { info: info({ state: 'error', step: 1 }), checkpointStep: undefined, livePid: undefined }), { kind: 'restart', state: 'error' });
  assert.deepEqual(decideRun(run, { info: info({ state: 'running', step: 3, pid: DEAD_PID }), checkpointStep: undefined, livePid: undefined }), { kind: 'restart', state: 'interrupted' });
  assert.deepEqual(decideRun(run, { info: info({ state: 'running', step: 3 }), checkpointStep: 2, livePid: 4242 }), { kind: 'busy', pid: 4242 });
  // Completed at its own total: skipped; completed without a recorded total and short of the plan: resumed to it.
  assert.deepEqual(decideRun(run, { info: info({ state: 'completed', step: 12, totalSteps: 12 }), checkpointStep: 12, livePid: undefined }), { kind: 'skip', step: 12 });
  assert.deepEqual(decideRun(run, { info: info({ state: 'completed', step: 12 }), checkpointStep: 12, livePid: undefined }), { kind: 'resume', fromStep: 12, state: 'completed' });
});

test('changedRuns: only runs whose hash differs and whose directory is still there', () => {
  const state: SweepState = { format: 'convbert-sweep', version: 1, planHash: 'p', runs: { a: { runDir: 'ra', hash: 'h1' }, b: { runDir: 'rb', hash: 'old' }, c: { runDir: 'rc', hash: 'old' } } };
  const runs = [
    { id: 'a', hash: 'h1' },
    { id: 'b', hash: 'h2' },
    { id: 'c', hash: 'h3' },
    { id: 'd', hash: 'h4' },
  ];
  const refused = changedRuns(state, runs, (e) => e.runDir !== 'rc');
  assert.deepEqual(
    refused.map((r) => r.id),
    ['b'],
  );
  assert.match(refused[0]!.message, /^run b was started from other inputs .*delete rb to train it afresh$/);
  assert.deepEqual(changedRuns(undefined, runs, () => true), []);
});

test('chooseParallel: auto is cores ÷ threads per run, bounded by 80 % of memory and by the runs; a number as asked', () => {
  const GiB = 2 ** 30;
  const base = { cores: 16, threadsPerRun: 4, memoryBytes: 10 * GiB, runBytes: 1 * GiB, runs: 10 };
  assert.equal(chooseParallel('auto', base).parallel, 4); // 16 / 4
  assert.equal(chooseParallel('auto', { ...base, runBytes: 3 * GiB }).parallel, 2); // floor(8 GiB / 3 GiB)
  assert.match(chooseParallel('auto', { ...base, runBytes: 3 * GiB }).why, /memory/);
  assert.equal(chooseParallel('auto', { ...base, runBytes: 20 * GiB }).parallel, 1); // never below 1
  assert.equal(chooseParallel('auto', { ...base, threadsPerRun: 16 }).parallel, 1);
  assert.equal(chooseParallel('auto', { ...base, threadsPerRun: 1, runs: 3 }).parallel, 3); // no more than the runs
  assert.equal(chooseParallel(6, base).parallel, 6);
  assert.equal(chooseParallel(6, { ...base, runs: 2 }).parallel, 2);
});

test('threadsPerRun and threadEnv: a CPU torch run takes every core; runs side by side get their share', () => {
  assert.equal(threadsPerRun('torch', 'torch-cpu', 8), 8);
  assert.equal(threadsPerRun('torch', 'cuda', 8), 1);
  assert.equal(threadsPerRun('tfjs', 'cpu', 8), 1);
  assert.equal(threadsPerRun('tfjs', 'wasm', 16), 8);
  assert.deepEqual(threadEnv(8, 8), {});
  assert.deepEqual(threadEnv(2, 8), { OMP_NUM_THREADS: '2', OPENBLAS_NUM_THREADS: '2', MKL_NUM_THREADS: '2' });
});

test('state.json: written atomically (no temporary file left), read back; a foreign file is a one-line error', async () => {
  const ws = tmp();
  const dir = sweepDir(ws, 'mini');
  assert.equal(dir, path.join(ws, '.convbert', 'sweeps', 'mini'));
  assert.equal(await readSweepState(dir), undefined);
  const state: SweepState = {
    format: 'convbert-sweep',
    version: 1,
    planHash: 'abc',
    plan: ['mini--a-s1'],
    runs: { 'mini--a-s1': { runDir: '.convbert/runs/mini--a-s1', hash: 'h' }, 'mini--old-s1': { runDir: '.convbert/runs/mini--old-s1', hash: 'g' } },
  };
  await writeSweepState(dir, state);
  assert.deepEqual(readdirSync(dir), ['state.json']);
  assert.deepEqual(await readSweepState(dir), state);
  writeFileSync(path.join(dir, 'state.json'), '{"format":"something-else"}');
  await assert.rejects(readSweepState(dir), /state\.json is not a convbert-sweep state \(version 1\)$/);
  writeFileSync(path.join(dir, 'state.json'), '{"format":');
  await assert.rejects(readSweepState(dir), /state\.json is not JSON; delete it/);
});

test('SweepTally: runs done, FLOPs done of the total, and an ETA from this session\'s FLOPs per second', () => {
  let now = 0;
  const tally = new SweepTally(
    [
      { id: 'a', steps: 10, flopsPerStep: 100 },
      { id: 'b', steps: 20, flopsPerStep: 50 },
    ],
    () => now,
  );
  assert.equal(tally.flopsTotal, 2000);
  tally.apply({ type: 'run-skip', id: 'a', step: 10 });
  assert.equal(tally.done, 1);
  assert.equal(tally.flopsDone, 1000);
  assert.equal(tally.etaMs(), undefined); // no step trained in this session yet
  tally.apply({ type: 'run-start', id: 'b', action: 'resume', fromStep: 4, totalSteps: 20 });
  assert.equal(tally.flopsDone, 1200);
  now = 1000;
  tally.apply({ type: 'progress', id: 'b', step: 8, totalSteps: 20, loss: 5, etaMs: null });
  // 4 steps × 50 FLOPs in 1 s this session; 600 FLOPs left → 3 s.
  assert.equal(tally.flopsDone, 1400);
  assert.equal(tally.etaMs(), 3000);
  assert.deepEqual(tally.running(), [{ id: 'b', step: 8, totalSteps: 20, loss: 5 }]);
  assert.equal(tally.line(), '1/2 runs, 1.40 kFLOP of 2.00 kFLOP, ETA 3.0 s');
  tally.apply({ type: 'run-end', id: 'b', outcome: 'completed', step: 20 });
  assert.equal(tally.done, 2);
  assert.equal(tally.running().length, 0);
  assert.match(tally.line(), /^2\/2 runs, 2\.00 kFLOP of 2\.00 kFLOP, ETA done$/);
});

test('LineSweepView: one line per event, progress lines at most every interval per run (first and last always)', () => {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => void out.push(t), err: (t) => void err.push(t), color: createColors(false), isTTY: false, cwd: '/' };
  let now = 0;
  const tally = new SweepTally([{ id: 'a', steps: 3, flopsPerStep: 10 }], () => now);
  const view = new LineSweepView(io, tally, 10_000, () => now);
  view.event({ type: 'run-start', id: 'a', action: 'start', fromStep: 0, totalSteps: 3, backend: 'cpu' });
  view.event({ type: 'progress', id: 'a', step: 1, totalSteps: 3, loss: 5.5, etaMs: 100 });
  now = 5000;
  view.event({ type: 'progress', id: 'a', step: 2, totalSteps: 3, loss: 5.4, etaMs: 50 }); // within the interval: not printed
  view.event({ type: 'eval', id: 'a', step: 2, loss: 5.25 });
  view.event({ type: 'progress', id: 'a', step: 3, totalSteps: 3, loss: 5.3, etaMs: 0 }); // the last: printed
  view.event({ type: 'run-end', id: 'a', outcome: 'completed', step: 3 });
  const lines = out.join('').trimEnd().split('\n');
  assert.deepEqual(lines.map((l) => l.split(/\s+/).slice(0, 2).join(' ')), ['start a:', 'step a:', 'eval a:', 'step a:', 'done a:']);
  assert.equal(lines[1], 'step   a: 1/3  loss 5.5  | 0/1 runs, 10 FLOP of 30 FLOP, ETA …'); // no time has passed: no ETA yet
  assert.equal(lines[2], 'eval   a: step 2, val loss 5.25');
  assert.equal(lines[4], 'done   a: completed 3 steps  | 1/1 runs, 30 FLOP of 30 FLOP, ETA done');
  assert.deepEqual(err, []);
  assert.equal(eventLine({ type: 'run-end', id: 'b', outcome: 'failed', step: 4, message: 'boom' }), 'FAILED b: at step 4: boom');
  assert.equal(eventLine({ type: 'run-start', id: 'b', action: 'resume', fromStep: 4, totalSteps: 9 }), 'start  b: resuming from step 4 of 9');
});

test('BarSweepView: on a terminal, a block with the sweep and each running run, messages above it', () => {
  const written: string[] = [];
  const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 160, cursorTo: () => true, moveCursor: () => true, clearLine: () => true, clearScreenDown: () => true });
  stream.on('data', (d: Buffer) => written.push(d.toString()));
  const io: CliIo = { out: () => undefined, err: () => undefined, color: createColors(false), isTTY: true, cwd: '/' };
  const tally = new SweepTally([
    { id: 'mini--a-s1', steps: 4, flopsPerStep: 10 },
    { id: 'mini--b-s1', steps: 4, flopsPerStep: 10 },
  ]);
  const view = new BarSweepView(io, tally, stream);
  view.event({ type: 'run-start', id: 'mini--a-s1', action: 'start', fromStep: 0, totalSteps: 4 });
  view.event({ type: 'progress', id: 'mini--a-s1', step: 2, totalSteps: 4, loss: 5.5, etaMs: 10 });
  view.event({ type: 'eval', id: 'mini--a-s1', step: 2, loss: 5.25 });
  view.end();
  const text = written.join('');
  assert.match(text, /sweep \| 0\/2 runs, 20 FLOP of 80 FLOP/);
  assert.match(text, /mini--a-s1 \| 2\/4 steps \| loss 5\.5/);
  assert.match(text, /eval {3}mini--a-s1: step 2, val loss 5\.25\n/);
});

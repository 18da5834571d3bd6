/**
 * `convbert sweep` end to end (docs/sweeps.md, "Running"): a 2-run miniature sweep (a tiny BERT and a tiny GroupBERT,
 * a budget of a few dozen steps each) on the torch engine when Python with PyTorch is here, else TF.js's cpu backend.
 * The CLI runs as a child process and is SIGKILLed mid-sweep (a closed terminal) once the first run has completed
 * and the second has a checkpoint; run again, it skips the completed run without touching it, resumes the other
 * from its checkpoint, and writes the report. Every run's metrics.jsonl then has each step exactly once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readMetricEvents } from '../../src/run-format/metrics';
import { initRunDir, readRunInfo } from '../../src/run-format/run-dir';
import { listCheckpoints } from '../../src/run-format/checkpoint-name';
import { readSweepState, writeSweepState } from '../../src/engines/sweep';
import { findTorchPython } from '../../src/engines/torch/python';
import { cli, useBuiltInTrainer } from '../cli-harness';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'src/cli/main.ts');
const CORPUS = path.join(ROOT, 'test/fixtures/corpus/small.txt');
const TSX = require.resolve('tsx');

let engine: { engine: string; backend: string } = { engine: 'tfjs', backend: 'cpu' };
before(async () => {
  useBuiltInTrainer();
  const probe = await findTorchPython();
  if (probe.ok) engine = { engine: 'torch', backend: 'auto' };
  console.log(`# engine: ${engine.engine} (${engine.backend})`);
});

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

const MODEL = { hiddenSize: 32, numHeads: 2, numLayers: 1, vocabSize: 128, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0 };

/** The sweep file: FLOP budget 1.5e8 is 51 steps of the BERT (2.99 MFLOP each: 1.5e8 / 2.99e6 = 50.2) and 29 of the GroupBERT (5.27 MFLOP: 28.5). */
function sweepText(): string {
  return JSON.stringify(
    {
      version: 1,
      name: 'mini',
      flopBudget: 1.5e8,
      shared: {
        corpus: ['corpus.txt'],
        sequenceLength: 16,
        batchSize: 2,
        evalInterval: 10,
        evalBatches: 1,
        validationFraction: 0.2,
        learningRate: { peak: 0.002 },
        checkpointInterval: 2,
        engine: engine.engine,
        backend: engine.backend,
      },
      warmupFraction: 0.1,
      runs: [
        { name: 'bert', spec: { extends: 'bert-tiny', model: MODEL, training: { sequenceLength: 16 } } },
        { name: 'groupbert', spec: { extends: 'groupbert-tiny', model: MODEL, training: { sequenceLength: 16 } } },
      ],
      parallel: 1,
    },
    null,
    2,
  );
}

function workspace(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'convbert-sweep-'));
  made.push(dir);
  writeFileSync(path.join(dir, 'mini.sweep.json'), sweepText());
  copyFileSync(CORPUS, path.join(dir, 'corpus.txt'));
  return dir;
}


async function metricSteps(runDir: string): Promise<number[]> {
  const { events, invalid } = await readMetricEvents(runDir);
  assert.deepEqual(invalid, []);
  return events.filter((m) => m.type === 'metrics').map((m) => (m as { step: number }).step);
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

test('--dry-run prints the plan: runs, steps and FLOPs, and trains nothing', { timeout: 60_000 }, async () => {
  const cwd = workspace();
  const r = await cli(cwd, 'sweep', 'mini.sweep.json', '--dry-run');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^mini--bert-s1\s+bert\s+51\s+152 MFLOP\s+new$/m);
  assert.match(r.stdout, /^mini--groupbert-s1\s+groupbert\s+29\s+153 MFLOP\s+new$/m);
  assert.match(r.stdout, /^2 run\(s\), 305 MFLOP of training in all, 305 MFLOP left to train$/m);
  assert.ok(!existsSync(path.join(cwd, '.convbert')), 'a dry run writes nothing');
});

test('a sweep killed mid-run continues when run again: completed runs untouched, the other resumed, each step once, the report written', { timeout: 600_000 }, async () => {
  const cwd = workspace();
  const bert = path.join(cwd, '.convbert/runs/mini--bert-s1');
  const groupbert = path.join(cwd, '.convbert/runs/mini--groupbert-s1');

  const child = spawn(process.execPath, ['--import', TSX, CLI, 'sweep', 'mini.sweep.json'], { cwd, env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));

  // Kill the CLI (not its trainers) once the BERT run has completed and the GroupBERT run has a checkpoint.
  const deadline = Date.now() + 300_000;
  let killedAt: number | undefined;
  while (Date.now() < deadline && child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 50));
    if ((await readRunInfo(bert).catch(() => undefined))?.state !== 'completed') continue;
    if ((await listCheckpoints(groupbert).catch(() => [])).length === 0) continue;
    child.kill('SIGKILL');
    killedAt = (await readRunInfo(groupbert))?.step;
    break;
  }
  await exited;
  assert.ok(killedAt !== undefined, `the sweep was not caught mid-run; stdout:\n${stdout}\nstderr:\n${stderr}`);
  assert.ok(killedAt < 29, `the GroupBERT run had finished (${killedAt}) before the kill`);
  assert.match(stdout, /^done\s+mini--bert-s1: completed 51 steps/m);

  const state = await readSweepState(path.join(cwd, '.convbert/sweeps/mini'));
  assert.deepEqual(Object.keys(state?.runs ?? {}).sort(), ['mini--bert-s1', 'mini--groupbert-s1']);
  assert.deepEqual(state?.plan, ['mini--bert-s1', 'mini--groupbert-s1'], "the current plan's runs, in order");
  assert.equal(state?.runs['mini--bert-s1']?.runDir, path.join('.convbert', 'runs', 'mini--bert-s1'));
  const bertBefore = { run: readFileSync(path.join(bert, 'run.json'), 'utf8'), metrics: readFileSync(path.join(bert, 'metrics.jsonl'), 'utf8') };

  // Again: the trainer left behind stops with a checkpoint (its host went away); the sweep waits for it and resumes.
  const again = await cli(cwd, 'sweep', 'mini.sweep.json');
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, /^skip\s+mini--bert-s1: completed \(51 steps\)/m);
  assert.match(again.stdout, /^start\s+mini--groupbert-s1: resuming from step \d+ of 29/m);
  assert.match(again.stdout, /^done\s+mini--groupbert-s1: completed 29 steps/m);
  assert.match(again.stdout, /sweep mini: 1 trained, 1 already done/);

  // The completed run was not retrained: its files are byte for byte as before.
  assert.equal(readFileSync(path.join(bert, 'run.json'), 'utf8'), bertBefore.run);
  assert.equal(readFileSync(path.join(bert, 'metrics.jsonl'), 'utf8'), bertBefore.metrics);
  assert.deepEqual(await metricSteps(bert), range(51));
  assert.deepEqual(await metricSteps(groupbert), range(29));
  for (const dir of [bert, groupbert]) {
    const info = await readRunInfo(dir);
    assert.equal(info?.state, 'completed');
    assert.equal(info?.step, info?.totalSteps);
  }

  // The report, from the disk.
  for (const f of ['report.md', 'loss-vs-flops.svg', 'loss-vs-time.svg']) assert.ok(existsSync(path.join(cwd, '.convbert/sweeps/mini', f)), f);
  const md = readFileSync(path.join(cwd, '.convbert/sweeps/mini/report.md'), 'utf8');
  assert.match(md, /\| \*{0,2}bert\*{0,2} \| BERT \| 1 \|/);
  assert.match(md, /\| \*{0,2}groupbert\*{0,2} \| GroupBERT \| 1 \|/);

  // A third time: nothing left to train.
  const third = await cli(cwd, 'sweep', 'mini.sweep.json');
  assert.equal(third.code, 0, third.stderr);
  assert.match(third.stdout, /sweep mini: 0 trained, 2 already done/);
  assert.equal(readFileSync(path.join(bert, 'metrics.jsonl'), 'utf8'), bertBefore.metrics);
});

test('a run whose inputs changed since it was started refuses the sweep, naming the run and what to do', { timeout: 120_000 }, async () => {
  const cwd = workspace();
  // A sweep whose BERT run was started from other inputs (state.json has another hash for it) and is still on disk.
  await initRunDir(path.join(cwd, '.convbert/runs/mini--bert-s1'), { spec: { version: 1, name: 'old', extends: 'bert-tiny' } });
  await writeSweepState(path.join(cwd, '.convbert/sweeps/mini'), { format: 'convbert-sweep', version: 1, planHash: 'old', runs: { 'mini--bert-s1': { runDir: '.convbert/runs/mini--bert-s1', hash: 'not-this-one' } } });
  const r = await cli(cwd, 'sweep', 'mini.sweep.json');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^convbert: will not run sweep mini:\n {2}run mini--bert-s1 was started from other inputs .*delete \.convbert\/runs\/mini--bert-s1 to train it afresh\n$/);
  assert.ok(!existsSync(path.join(cwd, '.convbert/runs/mini--groupbert-s1')), 'nothing was started');
});

test('Ctrl+C stops every running run with a checkpoint and exits 3; run again, both resume and complete', { timeout: 600_000 }, async () => {
  const cwd = workspace();
  const dirs = ['mini--bert-s1', 'mini--groupbert-s1'].map((id) => path.join(cwd, '.convbert/runs', id));
  const child = spawn(process.execPath, ['--import', TSX, CLI, 'sweep', 'mini.sweep.json', '--parallel', '2'], { cwd, env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  // Both runs have trained a step (a stop then checkpoints): interrupt the CLI as a terminal's Ctrl+C would.
  const deadline = Date.now() + 300_000;
  let sent = false;
  while (!sent && Date.now() < deadline && child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 50));
    const stepped = await Promise.all(dirs.map(async (d) => (await readMetricEvents(d).catch(() => ({ events: [] }))).events.some((m) => m.type === 'metrics')));
    if (stepped.every(Boolean)) {
      child.kill('SIGINT');
      sent = true;
    }
  }
  const code = await exited;
  assert.ok(sent, `the runs never ran side by side; stdout:\n${stdout}\nstderr:\n${stderr}`);
  assert.equal(code, 3, `exit code; stdout:\n${stdout}\nstderr:\n${stderr}`);
  assert.match(stderr, /Ctrl\+C: stopping every run after its current step with a checkpoint/);
  assert.match(stdout, /^sweep mini: 0 trained, 0 already done, 2 stopped/m);
  assert.match(stdout, /continue with `convbert sweep mini\.sweep\.json`/);
  for (const d of dirs) {
    assert.equal((await readRunInfo(d))?.state, 'stopped', d);
    assert.ok((await listCheckpoints(d)).length > 0, `${d} has a checkpoint`);
  }

  const again = await cli(cwd, 'sweep', 'mini.sweep.json', '--parallel', '2');
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, /^start\s+mini--bert-s1: resuming from step \d+ of 51/m);
  assert.match(again.stdout, /^start\s+mini--groupbert-s1: resuming from step \d+ of 29/m);
  assert.deepEqual(await metricSteps(dirs[0]!), range(51));
  assert.deepEqual(await metricSteps(dirs[1]!), range(29));
});

/**
 * `convbert train` and `convbert eval` end to end: the CLI forks the real trainer process (src/engines/tfjs/trainer/main.ts
 * through tsx, or dist/trainer.js when it is current) and drives it over the protocol. The job is the masked-LM job
 * on a tiny model and a tiny corpus: the built-in one when src/engines/tfjs/trainer/jobs.ts has it wired, else
 * src/core/train/mlm-job.ts through CONVBERT_TRAINER_JOB_MODULE. Every figure the CLI prints is checked against the
 * run's metrics.jsonl.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadLatestCheckpoint } from '../../src/run-format/checkpoint';
import { readMetricEvents } from '../../src/run-format/metrics';
import { readRunInfo } from '../../src/run-format/run-dir';
import type { TrainerMessage, TrainerMessageOf } from '../../src/protocol';
import { JOB_MODULE_ENV } from '../../src/engines/tfjs/trainer/jobs';
import { cli, tinySpecText, tinyWorkspace, useBuiltInTrainer } from '../cli-harness';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'src/cli/main.ts');
const TSX = require.resolve('tsx');

// Every trainer these tests start (in-process CLI or child CLI) inherits this environment.
before(async () => {
  useBuiltInTrainer();
});

/** 12 steps, eval every 5, checkpoint every 4, on the cpu backend. */
const SPEC = tinySpecText({ name: 'tiny', steps: 12, seed: 11, evalInterval: 5, checkpointInterval: 4, backend: 'cpu' });

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function workspace(): string {
  return tinyWorkspace('convbert-cli-train-', SPEC, made);
}

function runsOf(cwd: string): string[] {
  const root = path.join(cwd, '.convbert', 'runs');
  return existsSync(root) ? readdirSync(root).map((id) => path.join(root, id)) : [];
}

async function history(runDir: string) {
  const { events, invalid } = await readMetricEvents(runDir);
  assert.deepEqual(invalid, []);
  const of = <K extends TrainerMessage['type']>(type: K) => events.filter((m): m is TrainerMessageOf<K> => m.type === type);
  return { events, of };
}

/** `label  value` of the summary block. */
function row(stdout: string, label: string): string {
  const m = new RegExp(`^\\s+${label}\\s{2,}(.+)$`, 'm').exec(stdout);
  assert.ok(m, `no "${label}" row in:\n${stdout}`);
  return m[1]!;
}

function close(actual: number, expected: number, rel: number, what: string) {
  assert.ok(Math.abs(actual - expected) <= rel * Math.abs(expected), `${what}: printed ${actual}, metrics.jsonl says ${expected}`);
}

const NO_STACK = /\n\s+at /;

test('train runs a spec to the end: run directory, metrics.jsonl, and a summary that agrees with it', { timeout: 60_000 }, async () => {
  const cwd = workspace();
  const r = await cli(cwd, 'train', 'tiny.convbert.json');
  assert.equal(r.code, 0, r.stderr);

  const runs = runsOf(cwd);
  assert.equal(runs.length, 1);
  const runDir = runs[0]!;
  const id = path.basename(runDir);
  for (const f of ['run.json', 'spec.convbert.json', 'metrics.jsonl', 'trainer.log', 'checkpoints']) assert.ok(existsSync(path.join(runDir, f)), f);
  const info = await readRunInfo(runDir);
  assert.equal(info?.state, 'completed');
  assert.equal(info?.step, 12);
  assert.equal(info?.backend?.name, 'cpu');

  const h = await history(runDir);
  assert.deepEqual(h.of('metrics').map((m) => m.step), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual(h.of('eval').map((e) => e.step), [5, 10, 12]);
  for (const e of h.of('eval')) {
    // The tiny spec has an NSP head: the loss is MLM + NSP, both recorded.
    assert.ok(e.mlmLoss !== undefined && e.nspLoss !== undefined, JSON.stringify(e));
    assert.ok(Math.abs(e.mlmLoss + e.nspLoss - e.loss) <= 1e-6 * Math.abs(e.loss), JSON.stringify(e));
  }
  assert.deepEqual(h.of('checkpoint').map((c) => c.step), [4, 8, 12]);
  assert.equal(h.of('done').at(-1)?.reason, 'completed');

  // Header: run, backend; periodic lines in a pipe (no bar, no colour).
  assert.match(r.stdout, new RegExp(`training tiny\\s+run ${id}`));
  assert.match(r.stdout, /^backend\s+cpu/m);
  assert.match(r.stdout, /^step\s+1\/12\s+loss /m);
  assert.match(r.stdout, /^step 12\/12\s+loss .*ETA done$/m);
  assert.doesNotMatch(r.stdout, new RegExp(`${String.fromCharCode(27)}\\[`));

  // The summary agrees with metrics.jsonl.
  assert.match(r.stdout, /^completed 12 steps$/m);
  assert.equal(row(r.stdout, 'run'), path.join('.convbert', 'runs', id));
  assert.match(row(r.stdout, 'steps'), /^12 of 12 \(384 tokens\)$/);
  const metrics = h.of('metrics');
  const last = metrics.at(-1)!;
  const best = metrics.reduce((b, m) => (m.loss < b.loss ? m : b));
  const tl = /^(\S+) final \(step 12\), (\S+) best \(step (\d+)\)$/.exec(row(r.stdout, 'train loss'));
  assert.ok(tl, row(r.stdout, 'train loss'));
  close(Number(tl[1]), last.loss, 1e-4, 'final train loss');
  close(Number(tl[2]), best.loss, 1e-4, 'best train loss');
  assert.equal(Number(tl[3]), best.step);
  const evals = h.of('eval');
  const bestEval = evals.reduce((b, e) => (e.loss < b.loss ? e : b));
  const vl = /^(\S+) final \(step 12\), (\S+) best \(step (\d+)\); MLM accuracy ([\d.]+)%, NSP accuracy ([\d.]+)%$/.exec(row(r.stdout, 'val loss'));
  assert.ok(vl, row(r.stdout, 'val loss'));
  close(Number(vl[1]), evals.at(-1)!.loss, 1e-4, 'final validation loss');
  close(Number(vl[2]), bestEval.loss, 1e-4, 'best validation loss');
  assert.equal(Number(vl[3]), bestEval.step);
  close(Number(vl[4]), 100 * evals.at(-1)!.mlmAccuracy, 1e-3, 'MLM accuracy');
  close(Number(vl[5]), 100 * evals.at(-1)!.nspAccuracy!, 1e-3, 'NSP accuracy');
  const parts = /^\s+= MLM (\S+) \+ NSP (\S+) at step 12$/m.exec(r.stdout);
  assert.ok(parts, r.stdout);
  close(Number(parts[1]), last.mlmLoss, 1e-4, 'final MLM loss');
  close(Number(parts[2]), last.nspLoss!, 1e-4, 'final NSP loss');
  const stepMs = metrics.reduce((s, m) => s + m.stepMs, 0);
  const tokensPerSecond = metrics.reduce((s, m) => s + m.tokensPerSecond * m.stepMs, 0) / stepMs;
  const gflops = metrics.reduce((s, m) => s + m.flopsPerSecond * m.stepMs, 0) / stepMs / 1e9;
  const tp = /^([\d,.]+) tokens\/s, ([\d.e+-]+) GFLOP\/s achieved \(cpu\)$/.exec(row(r.stdout, 'throughput'));
  assert.ok(tp, row(r.stdout, 'throughput'));
  close(Number(tp[1]!.replace(/,/g, '')), tokensPerSecond, 0.01, 'tokens/s');
  close(Number(tp[2]), gflops, 0.01, 'GFLOP/s');
  assert.match(row(r.stdout, 'time'), /wall, .* in training steps$/);
  assert.match(row(r.stdout, 'checkpoint'), /^step 12 \(checkpoints\/ckpt-0+12-[0-9a-f]{6}\)$/);
  assert.match(r.stdout, new RegExp(`convbert train --resume ${id} --steps 24`));
  assert.match(r.stdout, new RegExp(`convbert eval ${id}`));

  // eval: the latest checkpoint on the validation split gives the loss the trainer recorded at that step.
  const e = await cli(cwd, 'eval', id);
  assert.equal(e.code, 0, e.stderr);
  const loss = /^\s+loss \(MLM \+ NSP\)\s+(\S+)$/m.exec(e.stdout);
  assert.ok(loss, e.stdout);
  close(Number(loss[1]), evals.at(-1)!.loss, 1e-4, 'eval loss of the step-12 checkpoint');
  assert.match(e.stdout, /checkpoint at step 12/);
  assert.match(e.stdout, /MLM accuracy\s+[\d.]+%/);
  assert.match(e.stdout, /NSP accuracy\s+[\d.]+%/);
  assert.match(e.stdout, /history \(metrics\.jsonl\)/);
  assert.match(row(e.stdout, 'steps'), /^12 of 12/);
  assert.doesNotMatch(e.stdout + e.stderr, /looks like you are running TensorFlow\.js/, 'TF.js notices stay out of sight');
  assert.equal((await history(runDir)).events.length, h.events.length, 'eval adds nothing to the run\'s history');

  // A completed run is not resumed without more steps; with --steps it trains on from its last checkpoint.
  const again = await cli(cwd, 'train', '--resume', id);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already completed its 12 steps; pass --steps N/);
  const fewer = await cli(cwd, 'train', '--resume', id, '--steps', '10');
  assert.equal(fewer.code, 2);
  assert.match(fewer.stderr, /--steps 10: run \S+ resumes from its checkpoint at step 12; give a larger total/);
  const more = await cli(cwd, 'train', '--resume', 'latest', '--steps', '16');
  assert.equal(more.code, 0, more.stderr);
  assert.match(more.stdout, /^resuming tiny/m);
  assert.match(more.stdout, /^from\s+step 12 \(checkpoints\/ckpt-0+12-[0-9a-f]{6}\), to step 16$/m);
  assert.match(more.stdout, /^completed 16 steps$/m);
  assert.match(row(more.stdout, 'steps'), /^16 of 16 \(512 tokens, 2 sessions\)$/);
  const h2 = await history(runDir);
  assert.deepEqual(h2.of('metrics').map((m) => m.step), Array.from({ length: 16 }, (_, i) => i + 1));
  assert.equal(h2.of('started').at(-1)?.resumed, true);
  assert.equal(h2.of('started').at(-1)?.step, 12);
});

test('Ctrl+C (SIGINT to a `convbert train` process) stops after the step with a checkpoint, exit 3 (stopped); --resume continues from it', { timeout: 60_000 }, async () => {
  const cwd = workspace();
  const child = spawn(process.execPath, ['--import', TSX, CLI, 'train', 'tiny.convbert.json', '--steps', '400', '--out', 'run'], {
    cwd,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  // The first progress line comes after step 1 (the tokenizer is trained before it); then interrupt while it trains.
  const deadline = Date.now() + 40_000;
  while (!/^step\s+1\/400/m.test(stdout)) {
    if (Date.now() > deadline || child.exitCode !== null) assert.fail(`no progress line:\n${stdout}\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 300));
  child.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 3, `stopped, not completed: ${stdout}\n${stderr}`);
  assert.match(stderr, /Ctrl\+C: stopping after the current step/);
  const m = /^stopped at step (\d+) of 400$/m.exec(stdout);
  assert.ok(m, stdout);
  const stoppedAt = Number(m[1]);
  assert.ok(stoppedAt >= 1 && stoppedAt < 400, `stopped at ${stoppedAt}`);
  const runDir = path.join(cwd, 'run');
  assert.equal((await loadLatestCheckpoint(runDir))?.step, stoppedAt, 'a checkpoint at the stop');
  assert.equal((await readRunInfo(runDir))?.state, 'stopped');
  assert.match(stdout, /convbert train --resume run\s/);
  assert.doesNotMatch(stderr, NO_STACK);

  // Resume (by directory) to a nearer total: it continues from the checkpoint's step.
  const total = stoppedAt + 3;
  const r = await cli(cwd, 'train', '--resume', 'run', '--steps', String(total));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^from\\s+step ${stoppedAt} \\(checkpoints/ckpt-\\d+-[0-9a-f]{6}\\), to step ${total}$`, 'm'));
  const h = await history(runDir);
  const steps = h.of('metrics').map((x) => x.step);
  assert.deepEqual(steps, Array.from({ length: total }, (_, i) => i + 1), 'one metrics line per step across both sessions');
  assert.equal(h.of('done').at(-1)?.reason, 'completed');
});

test('Ctrl+C before the first step completes cancels at once: exit 3, run cancelled, no resume hint', { timeout: 60_000 }, async () => {
  const cwd = workspace();
  // The toy job with a 20 s first step: the interrupt lands while it runs.
  const child = spawn(process.execPath, ['--import', TSX, CLI, 'train', 'tiny.convbert.json', '--out', 'run'], {
    cwd,
    env: { ...process.env, NO_COLOR: '1', [JOB_MODULE_ENV]: path.join(ROOT, 'src/core/train/toy-job.ts'), CONVBERT_TOY_JOB: JSON.stringify({ stepDelayMs: 20_000 }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const deadline = Date.now() + 40_000;
  while (!/^steps\s+12, seed 11$/m.test(stdout)) {
    if (Date.now() > deadline || child.exitCode !== null) assert.fail(`not started:\n${stdout}\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const t0 = Date.now();
  child.kill('SIGINT');
  const code = await exited;
  const ms = Date.now() - t0;
  assert.equal(code, 3, `${stdout}\n${stderr}`);
  assert.ok(ms < 2000, `exited ${ms} ms after Ctrl+C`);
  assert.match(stdout, /^cancelled before the first step$/m);
  assert.doesNotMatch(stdout, /--resume/);
  assert.equal((await readRunInfo(path.join(cwd, 'run')))?.state, 'cancelled');
});

test('a wasm out-of-memory trap: the CLI prints "out of memory" the moment it happens, once, and exits 1 within 2 s', { timeout: 60_000 }, async () => {
  const cwd = workspace();
  // After the trap the trainer's main thread spins forever (as on a corrupt wasm heap) before it can send `done`.
  const child = spawn(process.execPath, ['--import', TSX, CLI, 'train', 'tiny.convbert.json', '--out', 'run'], {
    cwd,
    env: { ...process.env, NO_COLOR: '1', [JOB_MODULE_ENV]: path.join(ROOT, 'src/core/train/toy-job.ts'), CONVBERT_TOY_JOB: JSON.stringify({ trapIn: 'step', afterTrap: 'event-loop' }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let printedAt = 0;
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (!printedAt && /convbert: out of memory/.test(stderr)) printedAt = Date.now();
  });
  child.stdout.resume();
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.equal(code, 1, stderr);
  assert.ok(printedAt > 0, stderr);
  assert.ok(Date.now() - printedAt < 2000, `exited ${Date.now() - printedAt} ms after printing the error`);
  const lines = stderr.split('\n').filter((l) => l.startsWith('convbert:'));
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0]!, /^convbert: out of memory on the cpu backend: .*; the backend reported: memory access out of bounds$/);
  assert.doesNotMatch(stderr, NO_STACK);
});

test('--seed and --steps override the spec for a new run in --out', { timeout: 60_000 }, async () => {
  const cwd = workspace();
  const r = await cli(cwd, 'train', 'tiny.convbert.json', '--seed', '5', '--steps', '2', '--out', 'seeded');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^steps\s+2, seed 5$/m);
  const info = await readRunInfo(path.join(cwd, 'seeded'));
  assert.equal(info?.seed, 5);
  assert.equal(info?.totalSteps, 2);
  assert.deepEqual(runsOf(cwd), [], 'nothing in .convbert/runs');
  const again = await cli(cwd, 'train', 'tiny.convbert.json', '--out', 'seeded');
  assert.equal(again.code, 1);
  assert.match(again.stderr, /seeded already holds a run; continue it with `convbert train --resume seeded`/);
});

test('a bad spec fails with compiler-style diagnostics and starts nothing', async () => {
  const cwd = workspace();
  writeFileSync(path.join(cwd, 'bad.convbert.json'), '{\n  "version": 1,\n  "extends": "bert-tiny",\n  "model": { "hiddenSize": 129 }\n}\n');
  const r = await cli(cwd, 'train', 'bad.convbert.json');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^bad\.convbert\.json:4:\d+: error: .*129/m);
  assert.match(r.stderr, /convbert: bad\.convbert\.json has errors/);
  assert.doesNotMatch(r.stderr, NO_STACK);
  assert.deepEqual(runsOf(cwd), []);
  assert.equal(r.stdout, '');
});

test('an unknown backend is rejected with the list of backends, before anything starts', async () => {
  const cwd = workspace();
  const r = await cli(cwd, 'train', 'tiny.convbert.json', '--backend', 'opencl');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown backend "opencl"; use one of auto, tfjs-node-gpu, webgpu, tfjs-node, blas, wasm, cpu/);
  assert.deepEqual(runsOf(cwd), []);
  const e = await cli(cwd, 'eval', 'latest', '--backend', 'tpu');
  assert.equal(e.code, 2);
  assert.match(e.stderr, /unknown backend "tpu"/);
});

test('usage errors and a fatal trainer error are one line each, never a stack trace', { timeout: 30_000 }, async () => {
  const cwd = workspace();
  const cases: [string[], RegExp, number][] = [
    [['train'], /give a spec file to train, or --resume RUN/, 2],
    [['train', 'tiny.convbert.json', '--resume', 'x', '--out', 'y'], /--out and --resume do not go together/, 2],
    [['train', '--resume', 'nope'], /no run "nope"/, 1],
    [['eval', 'nope'], /no run "nope"/, 1],
    [['eval', 'latest'], /no runs in /, 1],
    [['train', 'tiny.convbert.json', '--steps', '0'], /positive whole number/, 2],
  ];
  for (const [argv, message, code] of cases) {
    const r = await cli(cwd, ...argv);
    assert.equal(r.code, code, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, argv.join(' '));
    assert.doesNotMatch(r.stderr, NO_STACK);
  }

  // The trainer cannot load its job: a fatal `error` (message + hint) becomes one `convbert:` line, exit 1.
  const saved = process.env[JOB_MODULE_ENV];
  process.env[JOB_MODULE_ENV] = path.join(cwd, 'missing-job.ts');
  try {
    const r = await cli(cwd, 'train', 'tiny.convbert.json', '--out', 'broken');
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('convbert:'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^convbert: cannot load the job module .*missing-job\.ts.*; check CONVBERT_TRAINER_JOB_MODULE$/);
    assert.doesNotMatch(r.stderr, NO_STACK);
    assert.equal((await readRunInfo(path.join(cwd, 'broken')))?.state, 'error');
  } finally {
    if (saved === undefined) delete process.env[JOB_MODULE_ENV];
    else process.env[JOB_MODULE_ENV] = saved;
  }
});

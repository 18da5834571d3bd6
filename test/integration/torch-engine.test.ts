/**
 * The torch engine end to end through `convbert train` / `convbert eval` (issue #11): the CLI forks the torch
 * trainer (src/engines/torch/trainer/main.ts through tsx), which drives real Python workers (python/convbert_torch)
 * with Debian's PyTorch on the CPU — one process, or two DDP ranks over gloo. Skipped, with the reason printed, where
 * no Python with PyTorch is found (CI installs python3-torch, so it runs there).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readMetricEvents } from '../../src/run-format/metrics';
import { readRunInfo } from '../../src/run-format/run-dir';
import { probeStepsOnDisk, readProbeFile } from '../../src/run-format/probes';
import type { TrainerMessage, TrainerMessageOf } from '../../src/protocol';
import { chooseEngine } from '../../src/engines';
import { findTorchPython } from '../../src/engines/torch/python';
import { cli } from '../cli-harness';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'src/cli/main.ts');
const CORPUS = path.join(ROOT, 'test/fixtures/corpus/small.txt');
const TSX = require.resolve('tsx');

let skip: string | false = false;
before(async () => {
  delete process.env.CONVBERT_TRAINER_ENTRY;
  const probe = await findTorchPython();
  if (!probe.ok) {
    skip = `no Python with PyTorch: ${probe.reason}`;
    console.log(`# skipped: ${skip}`);
  }
});

/** A 2-layer GroupBERT-style model with hidden 32 on a 1 kB corpus, no dropout (ranks draw other masks than one process). */
function specText(training: Record<string, unknown> = {}, model: Record<string, unknown> = {}): string {
  return JSON.stringify(
    {
      version: 1,
      name: 'tiny-torch',
      extends: 'groupbert-tiny',
      model: { hiddenSize: 32, numHeads: 2, numLayers: 2, vocabSize: 128, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, ...model },
      training: {
        corpus: ['corpus.txt'],
        sequenceLength: 16,
        batchSize: 4,
        steps: 8,
        seed: 5,
        learningRate: { peak: 0.002, warmupSteps: 2 },
        evalInterval: 4,
        evalBatches: 1,
        validationFraction: 0.2,
        checkpointInterval: 4,
        engine: 'torch',
        ...training,
      },
    },
    null,
    2,
  );
}

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function workspace(spec = specText()): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'convbert-torch-'));
  made.push(dir);
  writeFileSync(path.join(dir, 'tiny.convbert.json'), spec);
  copyFileSync(CORPUS, path.join(dir, 'corpus.txt'));
  return dir;
}


async function history(runDir: string) {
  const { events, invalid } = await readMetricEvents(runDir);
  assert.deepEqual(invalid, []);
  const of = <K extends TrainerMessage['type']>(type: K) => events.filter((m): m is TrainerMessageOf<K> => m.type === type);
  return { events, of };
}

function relClose(a: number, b: number, rel: number, what: string) {
  assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)), `${what}: ${a} vs ${b} (relative ${Math.abs(a - b) / Math.abs(b)})`);
}

const NO_STACK = /\n\s+at /;

test('two gloo ranks with micro-batch b train what one process with 2b trains; the run is like any other', { timeout: 240_000 }, async (t) => {
  if (skip) return t.skip(skip);
  const two = workspace(specText({ batchSize: 4, evalBatches: 2 }));
  const r2 = await cli(two, 'train', 'tiny.convbert.json', '--nproc-per-node', '2', '--out', 'run');
  assert.equal(r2.code, 0, r2.stderr + r2.stdout);
  const one = workspace(specText({ batchSize: 8 }));
  const r1 = await cli(one, 'train', 'tiny.convbert.json', '--out', 'run');
  assert.equal(r1.code, 0, r1.stderr + r1.stdout);

  const runDir = path.join(two, 'run');
  const info = await readRunInfo(runDir);
  assert.equal(info?.state, 'completed');
  assert.equal(info?.backend?.name, 'torch-cpu');
  assert.match(info?.versions.torch ?? '', /^\d+\.\d+/, 'run.json names the PyTorch version');
  assert.match(info?.versions.python ?? '', /^3\.\d+/, 'and the Python version');
  assert.match(r2.stdout, /^backend\s+PyTorch .* on the CPU, 2 ranks/m);
  const h2 = await history(runDir);
  const h1 = await history(path.join(one, 'run'));
  assert.deepEqual(h2.of('metrics').map((m) => m.step), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(h2.of('checkpoint').map((c) => c.step), [4, 8]);
  assert.deepEqual(h2.of('eval').map((e) => e.step), [4, 8]);
  // Evaluations carry their masked-LM and NSP parts (the sweep report compares MLM losses).
  for (const e of [...h2.of('eval'), ...h1.of('eval')]) {
    assert.ok(e.mlmLoss !== undefined && e.nspLoss !== undefined, JSON.stringify(e));
    relClose(e.mlmLoss + e.nspLoss, e.loss, 1e-6, `loss = MLM + NSP at step ${e.step}`);
  }
  // The same global batch: the same tokens and FLOPs per step, and the same losses to float32 noise.
  const m2 = h2.of('metrics');
  const m1 = h1.of('metrics');
  m2.forEach((m, i) => {
    relClose(m.loss, m1[i]!.loss, 1e-4, `loss at step ${m.step}`);
    relClose(m.tokensPerSecond * m.stepMs, m1[i]!.tokensPerSecond * m1[i]!.stepMs, 1e-6, `tokens at step ${m.step}`);
  });
  // The same validation rows (2 batches of 4 against 1 of 8, from the validation iterator's start).
  relClose(h2.of('eval').at(-1)!.loss, h1.of('eval').at(-1)!.loss, 1e-4, 'final validation loss');
  assert.ok(m2.at(-1)!.loss < m2[0]!.loss, `the loss goes down: ${m2.map((m) => m.loss.toFixed(4)).join(' ')}`);
  // Probes at each evaluation, like the TF.js engine's: attention maps from the workers, conv maps from the kernels.
  assert.deepEqual(await probeStepsOnDisk(runDir), [4, 8]);
  const probe = await readProbeFile(runDir, 8);
  // groupbert-tiny, 2 layers: a conv and an attention module in each.
  assert.deepEqual(probe.attention.map((a) => a.layer), [0, 1]);
  assert.deepEqual(probe.conv.map((c) => c.layer), [0, 1]);
  for (const a of probe.attention) {
    const T = probe.length;
    for (let h = 0; h < a.heads; h++) {
      for (let row = 0; row < T; row++) {
        let sum = 0;
        for (let col = 0; col < T; col++) sum += a.probs[(h * T + row) * T + col]!;
        assert.ok(Math.abs(sum - 1) < 1e-4, `attention row ${row} of head ${h} sums to ${sum}`);
      }
    }
  }
  for (const c of probe.conv) assert.ok(c.offsetWeights.every((w) => w > 0) && c.meanDistance > 0, `conv map of layer ${c.layer}`);
});

test('a TF.js run resumes on the torch engine, and the torch checkpoint evaluates the same in both engines', { timeout: 240_000 }, async (t) => {
  if (skip) return t.skip(skip);
  const cwd = workspace(specText({ engine: 'tfjs', backend: 'cpu', steps: 8 }));
  const first = await cli(cwd, 'train', 'tiny.convbert.json', '--out', 'run', '--steps', '4');
  assert.equal(first.code, 0, first.stderr);
  const runDir = path.join(cwd, 'run');
  assert.equal((await readRunInfo(runDir))?.backend?.name, 'cpu');

  const resumed = await cli(cwd, 'train', '--resume', 'run', '--engine', 'torch', '--steps', '8');
  assert.equal(resumed.code, 0, resumed.stderr + resumed.stdout);
  assert.equal((await readRunInfo(runDir))?.backend?.name, 'torch-cpu');
  const h = await history(runDir);
  assert.deepEqual(h.of('metrics').map((m) => m.step), [1, 2, 3, 4, 5, 6, 7, 8]);
  // The resumed steps continue the trajectory: no jump in the loss where the engine changed.
  const losses = h.of('metrics').map((m) => m.loss);
  assert.ok(Math.abs(losses[4]! - losses[3]!) < 0.5, `losses: ${losses.join(' ')}`);

  const shardSteps = () =>
    readdirSync(path.join(runDir, 'cache', 'shards'))
      .map((d) => (JSON.parse(readFileSync(path.join(runDir, 'cache', 'shards', d, 'index.json'), 'utf8')) as { steps: number }).steps)
      .sort((a, b) => a - b);
  assert.deepEqual(shardSteps(), [8], 'the resumed run wrote shards for its 8 steps');
  const torchEval = await cli(cwd, 'eval', 'run');
  assert.equal(torchEval.code, 0, torchEval.stderr);
  // Evaluating writes the validation rows and one step of training rows, not the run's whole stream again.
  assert.deepEqual(shardSteps(), [1, 8]);
  const tfjsEval = await cli(cwd, 'eval', 'run', '--engine', 'tfjs');
  assert.equal(tfjsEval.code, 0, tfjsEval.stderr);
  const lossOf = (out: string) => Number(/loss \(MLM \+ NSP\)\s+([\d.]+)/.exec(out)?.[1] ?? /MLM loss\s+([\d.]+)/.exec(out)?.[1]);
  assert.match(torchEval.stdout, /torch-cpu/);
  relClose(lossOf(torchEval.stdout), lossOf(tfjsEval.stdout), 1e-4, 'evaluation loss, torch vs TF.js');
  // And both equal the trainer's own final evaluation (printed to 4 decimals).
  relClose(lossOf(torchEval.stdout), h.of('eval').at(-1)!.loss, 1e-3, 'evaluation loss vs the run');
});

test('killing one rank ends the run with an error, not a hang; --resume continues from the last checkpoint', { timeout: 300_000 }, async (t) => {
  if (skip) return t.skip(skip);
  const cwd = workspace(specText({ steps: 40, checkpointInterval: 2, evalInterval: 100 }));
  const child = spawn(process.execPath, ['--import', TSX, CLI, 'train', 'tiny.convbert.json', '--nproc-per-node', '2', '--out', 'run'], { cwd, env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const runDir = path.join(cwd, 'run');

  // Wait for a checkpoint, then SIGKILL rank 1 (a worker whose environment says RANK=1 and which works in this run).
  const deadline = Date.now() + 180_000;
  let killed: number | undefined;
  while (killed === undefined && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    if (!existsSync(path.join(runDir, 'checkpoints', 'latest'))) continue;
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (env.includes('RANK=1') && cmd.includes('convbert_torch') && realpathSync(`/proc/${pid}/cwd`) === realpathSync(runDir)) {
          process.kill(Number(pid), 'SIGKILL');
          killed = Number(pid);
          break;
        }
      } catch {
        // gone, or not ours
      }
    }
  }
  assert.ok(killed !== undefined, `found no rank 1 to kill; stdout:\n${stdout}\nstderr:\n${stderr}`);
  const t0 = Date.now();
  const code = await exited;
  assert.equal(code, 1, `exit code; stdout:\n${stdout}\nstderr:\n${stderr}`);
  assert.ok(Date.now() - t0 < 60_000, `the CLI took ${Date.now() - t0} ms to end after the kill`);
  assert.match(stdout + stderr, /rank 1|PyTorch workers exited/i);
  assert.doesNotMatch(stdout, NO_STACK);
  const info = await readRunInfo(runDir);
  assert.equal(info?.state, 'error');

  const resumed = await cli(cwd, 'train', '--resume', 'run', '--nproc-per-node', '2');
  assert.equal(resumed.code, 0, resumed.stderr + resumed.stdout);
  assert.match(resumed.stdout, /resuming at step \d+/);
  const h = await history(runDir);
  assert.deepEqual(
    h.of('metrics').map((m) => m.step),
    Array.from({ length: 40 }, (_, i) => i + 1),
  );
  assert.equal((await readRunInfo(runDir))?.state, 'completed');
});

test('the torch engine asked for by name without Python says what to install; auto stays on TF.js', { timeout: 60_000 }, async (t) => {
  if (skip) return t.skip(skip);
  const saved = process.env.CONVBERT_PYTHON;
  process.env.CONVBERT_PYTHON = path.join(os.tmpdir(), 'no-such-python-here');
  try {
    const cwd = workspace();
    const r = await cli(cwd, 'train', 'tiny.convbert.json', '--steps', '1');
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /torch engine cannot run here: .*no-such-python-here: not found.*install PyTorch/);
    assert.doesNotMatch(r.stderr, NO_STACK);
    assert.equal(chooseEngine('auto', 'auto').id, 'tfjs');
    assert.equal(chooseEngine(undefined, undefined).id, 'tfjs');
  } finally {
    if (saved === undefined) delete process.env.CONVBERT_PYTHON;
    else process.env.CONVBERT_PYTHON = saved;
  }
});

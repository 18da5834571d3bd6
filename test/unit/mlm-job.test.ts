/**
 * The masked-LM job on real text (a slice of the bundled State of the Union corpus, vocabulary 500), wasm backend:
 * the same seed gives identical losses (with dropout and gradient accumulation on); save → load → continue equals
 * the uninterrupted run, through a checkpoint on disk; a non-finite loss is reported clearly; and a short run
 * through the trainer loop (flopBudget, metrics, eval, probes, checkpoints) works end to end. That the loss falls
 * is in mlm-train.test.ts.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadBackend } from '../../src/engines/tfjs/backends';
import { computeCost } from '../../src/core/cost';
import { bundledCorpusDir, prepareData, type PreparedData } from '../../src/core/data';
import { resolveSpec, type ResolvedSpec, type SpecFile } from '../../src/core/spec';
import { readCheckpoint, writeCheckpoint } from '../../src/run-format/checkpoint';
import type { JobContext, StepMetrics, TrainingJob } from '../../src/core/train/job';
import { createMlmJob } from '../../src/core/train/mlm-job';
import { readProbe } from '../../src/run-format/probes';
import { Rng, restoreRng, type RngState } from '../../src/core/rng';
import { learningRateAt } from '../../src/core/train/schedule';
import type { TrainerMessage, TrainerMessageOf } from '../../src/protocol';
import { InProcessTrainer } from '../../src/engines/trainer/in-process';
import { tfjsRuntime } from '../../src/engines/tfjs/trainer/deps';

const V = 500;
const dirs: string[] = [];
let corpusDir = '';
let data: PreparedData;

function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** A tiny spec on the corpus slice. */
function specFile(model: SpecFile['model'] = {}, training: SpecFile['training'] = {}): SpecFile {
  return {
    version: 1,
    name: 'tiny',
    extends: 'groupbert-tiny',
    model: { vocabSize: V, maxPositions: 64, hiddenSize: 32, numHeads: 2, numLayers: 1, intermediateSize: 128, ...model },
    training: {
      corpus: ['corpus/*.txt'],
      tokenizer: { vocabSize: V },
      sequenceLength: 32,
      batchSize: 16,
      seed: 3,
      validationFraction: 0.25,
      evalBatches: 4,
      optimizer: { type: 'adamw', biasCorrection: true },
      learningRate: { peak: 1e-2, warmupSteps: 20, decay: 'linear' },
      gradientClipNorm: 1,
      ...training,
    },
  } as SpecFile;
}

interface Made {
  job: TrainingJob;
  ctx: JobContext;
  logs: string[];
}

function makeJob(spec: ResolvedSpec, runDir = tmp('convbert-mlm-run-')): Made {
  const logs: string[] = [];
  const ctx: JobContext = {
    spec,
    runDir,
    backend: 'wasm',
    rng: Rng.fromSeed(spec.training.seed),
    log: (level, message) => logs.push(`${level}: ${message}`),
    warn: (message) => logs.push(`warn: ${message}`),
  };
  return { job: createMlmJob(ctx, { data }), ctx, logs };
}

async function steps(made: Made, spec: ResolvedSpec, from: number, to: number, total: number): Promise<StepMetrics[]> {
  const out: StepMetrics[] = [];
  for (let s = from; s < to; s++) out.push(await made.job.step({ step: s, learningRate: learningRateAt(s, spec.training.learningRate, total) }));
  return out;
}

before(async () => {
  await loadBackend('wasm', { threads: 1, strict: true });
  corpusDir = tmp('convbert-mlm-');
  mkdirSync(join(corpusDir, 'corpus'));
  const bundled = bundledCorpusDir();
  // Four recent speeches: ≈ 57 k tokens at this vocabulary, three documents to train on and one to validate.
  for (const f of readdirSync(bundled).filter((n) => n.endsWith('.txt')).sort().slice(-4)) copyFileSync(join(bundled, f), join(corpusDir, 'corpus', f));
  data = await prepareData({ training: resolveSpec(specFile()).training, specDir: corpusDir, nsp: true });
  assert.equal(data.tokenizer.vocabSize, V);
  assert.ok(data.validation, 'a validation split');
});

after(() => {
  data?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('masked-LM job', () => {
  it('same seed → identical losses; another seed → different ones (dropout and accumulation on)', async () => {
    const run = async (seed: number) => {
      const spec = resolveSpec(specFile({ hiddenDropout: 0.1, attentionDropout: 0.1 }, { seed, gradientAccumulation: 2, batchSize: 4, steps: 4 }));
      const made = makeJob(spec);
      try {
        await made.job.init();
        return (await steps(made, spec, 0, 4, 4)).map((m) => [m.loss, m.gradNorm]);
      } finally {
        made.job.dispose();
      }
    };
    const a = await run(3);
    assert.deepEqual(await run(3), a);
    assert.notDeepEqual(await run(4), a);
  });

  it('save → load → continue equals the uninterrupted run (through a checkpoint on disk)', async () => {
    const total = 8;
    const spec = resolveSpec(specFile({ hiddenDropout: 0.1, attentionDropout: 0.1, layer: { modules: [{ type: 'conv', channelsPerGroup: 8 }, { type: 'attention' }, { type: 'gffn' }] } }, { gradientAccumulation: 2, batchSize: 4, steps: total }));
    const reference = makeJob(spec);
    let want: StepMetrics[];
    try {
      await reference.job.init();
      want = await steps(reference, spec, 0, 4, total);
      await reference.job.evaluate(4); // evaluation (and its probe) must not disturb the trajectory
      want.push(...(await steps(reference, spec, 4, total, total)));
    } finally {
      reference.job.dispose();
    }

    const runDir = tmp('convbert-mlm-resume-');
    const first = makeJob(spec, runDir);
    try {
      await first.job.init();
      const got = await steps(first, spec, 0, 4, total);
      assert.deepEqual(got, want.slice(0, 4));
      const state = await first.job.saveState();
      await writeCheckpoint(runDir, { step: 4, specHash: 'test', tensors: state.tensors, ...(state.optimizer !== undefined ? { optimizer: state.optimizer } : {}), ...(state.data !== undefined ? { data: state.data } : {}), rng: { loop: first.ctx.rng.state() } });
    } finally {
      first.job.dispose();
    }

    const loaded = await readCheckpoint(join(runDir, 'checkpoints', readdirSync(join(runDir, 'checkpoints')).find((n) => n.startsWith('ckpt-'))!));
    const second = makeJob(spec, runDir);
    try {
      await second.job.init(); // initialises from a fresh generator, as a resumed trainer does
      await second.job.loadState({ tensors: loaded.tensors, ...(loaded.optimizer !== undefined ? { optimizer: loaded.optimizer } : {}), ...(loaded.data !== undefined ? { data: loaded.data } : {}) });
      restoreRng(second.ctx.rng, (loaded.rng as { loop: RngState }).loop);
      const rest = await steps(second, spec, 4, total, total);
      assert.deepEqual(rest, want.slice(4), 'losses and gradient norms of steps 5–8');
    } finally {
      second.job.dispose();
    }
  });

  it('a non-finite loss is reported with the values and the skipped update', async () => {
    const spec = resolveSpec(specFile({}, { steps: 2, batchSize: 4 }));
    const made = makeJob(spec);
    try {
      await made.job.init();
      const state = await made.job.saveState();
      const word = state.tensors['weights/embeddings/word']!;
      (word.data as Float32Array).fill(Number.NaN, 0, 64);
      await made.job.loadState(state);
      const [m] = await steps(made, spec, 0, 1, 2);
      assert.ok(Number.isNaN(m!.loss));
      assert.ok(
        made.logs.some((l) => /^error: non-finite values at step 1: loss NaN .*gradient norm NaN.*the update was skipped/.test(l)),
        made.logs.join('\n'),
      );
      // The weights other than the poisoned rows were not touched by the skipped update.
      const after = await made.job.saveState();
      assert.deepEqual(after.tensors['weights/mlm/bias']!.data, state.tensors['weights/mlm/bias']!.data);
    } finally {
      made.job.dispose();
    }
  });

  it('runs in the trainer loop: flopBudget sets the steps; metrics, eval, probes and a checkpoint', async () => {
    const file = specFile({}, { batchSize: 4, evalInterval: 2, evalBatches: 2, checkpointInterval: 2 });
    const spec = resolveSpec(file);
    const flopsPerStep = computeCost(spec).totals.trainingFlopsPerStep;
    const withBudget = { ...file, training: { ...file.training, flopBudget: 2.5 * flopsPerStep } } as SpecFile;
    const specPath = join(corpusDir, 'tiny.convbert.json');
    writeFileSync(specPath, JSON.stringify(withBudget));
    const runDir = join(tmp('convbert-mlm-loop-'), 'run');
    const trainer = new InProcessTrainer({
      runtime: tfjsRuntime,
      createJob: (ctx) => createMlmJob(ctx, { specDir: corpusDir }),
      loadBackend: async (requested) => {
        await loadBackend('wasm', { threads: 1 });
        return { requested, name: 'wasm', skipped: [] };
      },
    });
    const messages: TrainerMessage[] = [];
    const invalid: string[] = [];
    trainer.onMessage((m) => messages.push(m));
    trainer.onInvalid((e) => invalid.push(e));
    trainer.start({ runDir, specPath });
    const exit = await trainer.finished;
    const of = <K extends TrainerMessage['type']>(type: K) => messages.filter((m): m is TrainerMessageOf<K> => m.type === type);
    assert.deepEqual(invalid, []);
    assert.equal(exit.done?.reason, 'completed', JSON.stringify(of('error')));
    assert.equal(of('started')[0]!.totalSteps, 3, 'ceil(2.5 steps of FLOPs)');
    const metrics = of('metrics');
    assert.deepEqual(
      metrics.map((m) => m.step),
      [1, 2, 3],
    );
    for (const m of metrics) {
      assert.ok(m.flopsPerSecond > 0 && m.tokensPerSecond > 0 && m.stepMs > 0 && m.memoryBytes > 0 && m.nspLoss !== undefined);
      assert.ok(Math.abs((m.flopsPerSecond * m.stepMs) / 1000 - flopsPerStep) < 1e-6 * flopsPerStep, 'achieved FLOP/s = cost-model FLOPs per step / step time');
    }
    assert.deepEqual(
      of('eval').map((e) => e.step),
      [2, 3],
    );
    assert.ok(of('eval').every((e) => e.nspAccuracy !== undefined && e.mlmAccuracy >= 0));
    const probes = of('probes');
    assert.equal(probes.length, 2);
    const summary = probes[1]!.summary;
    assert.equal(summary.file, 'probes/step-000000003.probe');
    const probe = await readProbe(join(runDir, summary.file as string));
    assert.equal(probe.step, 3);
    assert.equal(probe.attention.length, 1);
    assert.equal(probe.conv.length, 1);
    assert.equal(probe.tokens[0], '[CLS]');
    assert.deepEqual(
      of('checkpoint').map((c) => c.step),
      [2, 3],
    );
  });
});

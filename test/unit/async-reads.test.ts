/**
 * Training on a backend that reads the device only asynchronously (`syncReads: false`, core/ops/traits.ts; webgpu
 * in Node, where `dataSync` throws), simulated on the cpu backend by declaring its traits so:
 * - the optimizer's device path (no read; clip scale and finite flag as tensors, `where(finite, new, old)`) equals
 *   its host path — weights, moments, update count, reported gradient norm — over AdamW and LAMB steps that include
 *   clipped, unclipped and NaN (skipped) ones;
 * - a masked-LM step, `saveState` and `evaluate` (with probes) make no synchronous read at all, and the step makes
 *   exactly one asynchronous one; and the job's numbers match the same job on the host path.
 * The reads are watched at the engine (`tf.engine().readSync` / `read`, which `dataSync()` / `data()` go through):
 * the cpu backend's own `read` is `readSync` underneath, and its kernels read their inputs with it, so the backend's
 * methods cannot be the tripwire here.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { backendTraits, setBackendTraits } from '../../src/core/ops/traits';
import { Optimizer, type OptimizerConfig, type OptimizerState, type UpdateResult } from '../../src/core/train/optimizer';
import { bundledCorpusDir, prepareData, type PreparedData } from '../../src/core/data';
import { resolveSpec, type SpecFile } from '../../src/core/spec';
import type { JobContext, JobState, StepMetrics } from '../../src/core/train/job';
import { createMlmJob } from '../../src/core/train/mlm-job';
import { Rng } from '../../src/core/rng';
import { learningRateAt } from '../../src/core/train/schedule';

const dirs: string[] = [];
let declared: ReturnType<typeof backendTraits>;

/** Declare the cpu backend with or without synchronous reads. */
function syncReads(on: boolean): void {
  setBackendTraits('cpu', { ...declared, syncReads: on });
}

before(async () => {
  await tf.setBackend('cpu');
  declared = { ...backendTraits() };
  assert.equal(declared.syncReads, true, 'an undeclared backend reads synchronously');
});

after(() => {
  setBackendTraits('cpu', declared);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Relative closeness, with a floor for values near 0. */
function assertClose(actual: number, expected: number, what: string, rel = 1e-6, abs = 1e-9): void {
  if (!Number.isFinite(expected)) return assert.ok(Object.is(actual, expected), `${what}: ${actual}, expected ${expected}`);
  assert.ok(Math.abs(actual - expected) <= abs + rel * Math.max(Math.abs(actual), Math.abs(expected)), `${what}: ${actual} vs ${expected}`);
}

/** Watches the engine's reads: sync ones throw, async ones are counted. Returns the count and a restore. */
function watchReads(): { asyncReads: () => number; restore: () => void } {
  const engine = tf.engine();
  const own = { readSync: Object.getOwnPropertyDescriptor(engine, 'readSync'), read: Object.getOwnPropertyDescriptor(engine, 'read') };
  const read = engine.read.bind(engine);
  let count = 0;
  engine.readSync = () => {
    throw new Error('a synchronous read on a backend without syncReads');
  };
  engine.read = (dataId) => {
    count++;
    return read(dataId);
  };
  return {
    asyncReads: () => count,
    restore: () => {
      for (const key of ['readSync', 'read'] as const) {
        const d = own[key];
        if (d) Object.defineProperty(engine, key, d);
        else delete (engine as unknown as Record<string, unknown>)[key];
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// The optimizer: device path against host path.

const SHAPES: Record<string, number[]> = {
  'layer00/dense/kernel': [3, 4],
  'layer00/dense/bias': [4],
  'layer00/layer_norm/gamma': [4],
  'layer01/conv/glu_gate/kernel': [5],
  'layer01/zero/kernel': [3], // starts at 0: LAMB's trust ratio 1
};

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const initial = (name: string, i: number) => (name === 'layer01/zero/kernel' ? 0 : Math.sin(1 + i + name.length) * 0.5);

/** Step s's gradients: magnitude MAGNITUDES[s] (NaN: one tensor full of NaN). */
const MAGNITUDES = [0.05, 3, 0.2, NaN, 2, 0.1, Infinity, 5];
function gradientsAt(s: number): Record<string, tf.Tensor> {
  const magnitude = MAGNITUDES[s]!;
  return Object.fromEntries(
    Object.entries(SHAPES).map(([name, shape]) => {
      if (!Number.isFinite(magnitude) && name.endsWith('kernel')) return [name, tf.fill(shape, magnitude)];
      const values = Array.from({ length: size(shape) }, (_, i) => (Number.isFinite(magnitude) ? magnitude : 1) * Math.cos(0.7 * i + 1.3 * s + name.length) + 0.01 * s);
      return [name, tf.tensor(values, shape)];
    }),
  );
}

function make(config: OptimizerConfig) {
  const vars = Object.fromEntries(Object.entries(SHAPES).map(([n, shape]) => [n, tf.variable(tf.tensor(Array.from({ length: size(shape) }, (_, i) => initial(n, i)), shape))]));
  return { vars, opt: new Optimizer(vars, config) };
}

async function weightsOf(vars: Record<string, tf.Variable>): Promise<Record<string, Float32Array>> {
  return Object.fromEntries(await Promise.all(Object.entries(vars).map(async ([n, v]) => [n, (await v.data()) as Float32Array] as const)));
}

const BASE: OptimizerConfig = { type: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: 1e-6, biasCorrection: true, weightDecay: 0.1, gradientClipNorm: 1 };

describe('optimizer without synchronous reads', () => {
  for (const type of ['adamw', 'lamb'] as const) {
    for (const clip of [1, 0]) {
      it(`${type}, clipping ${clip ? `at ${clip}` : 'off'}: the device path equals the host path over ${MAGNITUDES.length} steps (clipped, NaN and ∞ ones skipped on both)`, async () => {
        const config = { ...BASE, type, gradientClipNorm: clip };
        const host = make(config);
        const device = make(config);
        try {
          let clipped = 0;
          for (let s = 0; s < MAGNITUDES.length; s++) {
            const grads = gradientsAt(s);
            const lr = 0.01 * (s + 1);
            syncReads(true);
            const want: UpdateResult = host.opt.applyGradients(grads, lr);

            syncReads(false);
            const tensorsBefore = tf.memory().numTensors;
            const watch = watchReads();
            let got: UpdateResult;
            try {
              const update = device.opt.applyGradientsDeferred(grads, lr);
              assert.equal(watch.asyncReads(), 0, 'the update itself reads nothing');
              assert.throws(() => device.opt.applyGradientsDeferred(grads, lr), /not settled/);
              const norm = (await update.gradNorm.data())[0]!;
              update.gradNorm.dispose();
              got = update.settle(norm);
              assert.equal(update.settle(norm), got, 'settling twice gives the same result');
            } finally {
              watch.restore();
              tf.dispose(Object.values(grads));
            }
            assert.equal(tf.memory().numTensors, tensorsBefore - Object.keys(grads).length, 'the device path leaves nothing behind');

            assert.equal(got.applied, want.applied, `step ${s}: applied`);
            assert.equal(got.applied, Number.isFinite(MAGNITUDES[s]!), `step ${s}: only the finite steps apply`);
            assertClose(got.gradNorm, want.gradNorm, `step ${s}: gradient norm`);
            assertClose(got.clipScale, want.clipScale, `step ${s}: clip scale`);
            if (want.clipScale < 1) clipped++;
            assert.equal(device.opt.step, host.opt.step, `step ${s}: update count`);

            const [hw, dw] = [await weightsOf(host.vars), await weightsOf(device.vars)];
            for (const n of Object.keys(SHAPES)) hw[n]!.forEach((x, i) => (clip ? assertClose(dw[n]![i]!, x, `step ${s}: ${n}[${i}]`) : assert.equal(dw[n]![i], x, `step ${s}: ${n}[${i}] bit for bit`)));
          }
          assert.equal(host.opt.step, MAGNITUDES.filter(Number.isFinite).length);
          if (clip) assert.ok(clipped >= 3, `${clipped} clipped steps`);

          syncReads(true);
          const hs: OptimizerState = host.opt.exportState();
          syncReads(false);
          const watch = watchReads();
          let ds: OptimizerState;
          try {
            ds = await device.opt.exportStateAsync();
          } finally {
            watch.restore();
          }
          assert.equal(ds.step, hs.step);
          assert.deepEqual(Object.keys(ds.tensors), Object.keys(hs.tensors));
          for (const [key, h] of Object.entries(hs.tensors)) {
            assert.deepEqual(ds.tensors[key]!.shape, h.shape);
            h.data.forEach((x, i) => assertClose(ds.tensors[key]!.data[i]!, x, `${key}[${i}]`, 2e-6));
          }
        } finally {
          syncReads(true);
          for (const o of [host, device]) {
            o.opt.dispose();
            tf.dispose(Object.values(o.vars));
          }
        }
      });
    }
  }

  it('the host-path form refuses a backend without synchronous reads, clearly; state export waits for the settle', () => {
    const o = make(BASE);
    const grads = gradientsAt(0);
    try {
      syncReads(false);
      assert.throws(() => o.opt.applyGradients(grads, 0.01), /cpu backend reads the device only asynchronously; use applyGradientsDeferred/);
      const update = o.opt.applyGradientsDeferred(grads, 0.01);
      assert.throws(() => o.opt.exportState(), /not settled/);
      assert.equal(o.opt.step, 0, 'not counted before the settle');
      update.settle(0.5);
      assert.equal(o.opt.step, 1);
      update.gradNorm.dispose();
    } finally {
      syncReads(true);
      o.opt.dispose();
      tf.dispose([...Object.values(o.vars), ...Object.values(grads)]);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// The masked-LM job.

function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

const V = 300;
function specFile(): SpecFile {
  return {
    version: 1,
    name: 'tiny',
    extends: 'groupbert-tiny',
    model: { vocabSize: V, maxPositions: 32, hiddenSize: 16, numHeads: 2, numLayers: 1, intermediateSize: 32, layer: { modules: [{ type: 'conv', channelsPerGroup: 8 }, { type: 'attention' }, { type: 'gffn' }] } },
    training: {
      corpus: ['corpus/*.txt'],
      tokenizer: { vocabSize: V },
      sequenceLength: 16,
      batchSize: 4,
      gradientAccumulation: 2,
      seed: 5,
      validationFraction: 0.5,
      evalBatches: 2,
      steps: 3,
      optimizer: { type: 'lamb', biasCorrection: true },
      learningRate: { peak: 1e-2, warmupSteps: 1, decay: 'linear' },
      gradientClipNorm: 0.5,
    },
  } as SpecFile;
}

describe('masked-LM job without synchronous reads', () => {
  let data: PreparedData;
  before(async () => {
    const corpusDir = tmp('convbert-async-');
    mkdirSync(join(corpusDir, 'corpus'));
    const bundled = bundledCorpusDir();
    for (const f of readdirSync(bundled).filter((n) => n.endsWith('.txt')).sort().slice(-2)) copyFileSync(join(bundled, f), join(corpusDir, 'corpus', f));
    data = await prepareData({ training: resolveSpec(specFile()).training, specDir: corpusDir, nsp: true });
  });
  after(() => data?.close());

  /** Three steps, a saveState and an evaluate; on `sync: false` every one watched. */
  const run = async (sync: boolean) => {
    const spec = resolveSpec(specFile());
    const ctx: JobContext = { spec, runDir: tmp('convbert-async-run-'), backend: 'cpu', rng: Rng.fromSeed(spec.training.seed), log: () => {}, warn: () => {} };
    const job = createMlmJob(ctx, { data });
    syncReads(sync);
    try {
      await job.init();
      const metrics: StepMetrics[] = [];
      const readsPerStep: number[] = [];
      for (let s = 0; s < 3; s++) {
        const watch = sync ? undefined : watchReads();
        try {
          metrics.push(await job.step({ step: s, learningRate: learningRateAt(s, spec.training.learningRate, 3) }));
        } finally {
          watch?.restore();
        }
        if (watch) readsPerStep.push(watch.asyncReads());
      }
      const watch = sync ? undefined : watchReads();
      let state: JobState;
      let evaluation;
      try {
        state = await job.saveState();
        evaluation = await job.evaluate(3);
      } finally {
        watch?.restore();
      }
      return { metrics, readsPerStep, state, evaluation, reads: watch?.asyncReads() };
    } finally {
      syncReads(true);
      job.dispose();
    }
  };

  it('a step reads once, asynchronously; saveState and evaluate (with probes) never synchronously; the numbers match the host path', async () => {
    const host = await run(true);
    const device = await run(false);
    assert.deepEqual(device.readsPerStep, [1, 1, 1], 'one async read per step');
    assert.ok(device.reads! > 0, 'saveState and evaluate read asynchronously');

    assert.ok(host.metrics.some((m) => m.gradNorm > 0.5), 'some step was clipped');
    host.metrics.forEach((m, s) => {
      const d = device.metrics[s]!;
      for (const key of ['loss', 'mlmLoss', 'nspLoss', 'gradNorm'] as const) assertClose(d[key]!, m[key]!, `step ${s} ${key}`, 1e-5);
      assert.ok(Number.isFinite(m.loss) && m.nspLoss !== undefined);
    });

    assert.deepEqual(device.state.optimizer, host.state.optimizer, 'same optimizer type and update count');
    assert.deepEqual((device.state.optimizer as { step: number }).step, 3);
    assert.deepEqual(device.state.data, host.state.data);
    assert.deepEqual(Object.keys(device.state.tensors), Object.keys(host.state.tensors));
    for (const [key, h] of Object.entries(host.state.tensors)) {
      const d = device.state.tensors[key]!;
      assert.equal(d.dtype, h.dtype);
      assert.deepEqual(d.shape, h.shape);
      h.data.forEach((x, i) => assertClose(d.data[i]!, x, `${key}[${i}]`, 1e-4, 1e-7));
    }

    assertClose(device.evaluation.loss, host.evaluation.loss, 'eval loss', 1e-5);
    assert.equal(device.evaluation.mlmAccuracy, host.evaluation.mlmAccuracy);
    const summary = device.evaluation.probes?.summary ?? {};
    const [attention, conv, hostAttention] = [summary.attentionMeanDistance, summary.convMeanDistance, host.evaluation.probes?.summary.attentionMeanDistance];
    assert.ok(typeof attention === 'number' && typeof conv === 'number' && typeof hostAttention === 'number', 'probes of the attention and the conv module');
    assert.ok(attention > 0 && conv > 0);
    assertClose(attention, hostAttention, 'attention mean distance', 1e-4);
  });
});

/**
 * Training one backend against another: tiny masked-LM specs reaching every branch of the model, and the masked-LM
 * job (src/core/train/mlm-job.ts, in-process) run for a number of steps from the spec's seed on fresh data, giving
 * its per-step losses. Shared by the webgpu and blas tests (each against wasm).
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { prepareData } from '../src/core/data';
import { Rng } from '../src/core/rng';
import type { ResolvedSpec, SpecFile } from '../src/core/spec';
import type { JobContext } from '../src/core/train/job';
import { createMlmJob } from '../src/core/train/mlm-job';
import { learningRateAt } from '../src/core/train/schedule';
import { loadBackend, type BackendPreference } from '../src/engines/tfjs/backends';
import { CAUSAL_GROUPBERT, EXOTIC, type ModelVariant } from './model-variants';

/** The presets, a causal GroupBERT and a model of the rarer options: every module branch. */
export const VARIANTS: Record<string, ModelVariant> = {
  'bert-tiny': { extends: 'bert-tiny', model: {} },
  'groupbert-tiny': { extends: 'groupbert-tiny', model: {} },
  'groupbert-tiny-causal': CAUSAL_GROUPBERT,
  exotic: EXOTIC,
};

/** A 128-piece vocabulary, 2×16 tokens, 4 predictions on the corpus file `corpus.txt` beside the spec. */
export function tinySpec(variant: string, steps: number): SpecFile {
  const v = VARIANTS[variant]!;
  return {
    version: 1,
    name: `${variant}-small`,
    extends: v.extends,
    model: { vocabSize: 128, maxPositions: 32, ...v.model },
    training: {
      corpus: ['corpus.txt'],
      tokenizer: { vocabSize: 128 },
      sequenceLength: 16,
      batchSize: 2,
      maxPredictions: 4,
      steps,
      seed: 7,
      validationFraction: 0.2,
      evalBatches: 1,
      learningRate: { peak: 3e-3, warmupSteps: 2 },
      gradientClipNorm: 1,
    },
  } as SpecFile;
}

/** The job's losses for `steps` steps on `backend` (loaded by name), from fresh data and the spec's seed. */
export async function jobLosses(spec: ResolvedSpec, backend: BackendPreference, dir: string, steps: number, tfBackend: string = backend): Promise<number[]> {
  const report = await loadBackend(backend, { threads: 1, strict: true });
  assert.equal(report.name, backend);
  const data = await prepareData({ training: spec.training, specDir: dir, nsp: spec.model.heads.nsp });
  const ctx: JobContext = { spec, runDir: dir, backend, rng: Rng.fromSeed(spec.training.seed), log: () => {}, warn: () => {} };
  const job = createMlmJob(ctx, { data, probes: false });
  try {
    await job.init();
    assert.equal(tf.getBackend(), tfBackend);
    const out: number[] = [];
    for (let s = 0; s < steps; s++) {
      const m = await job.step({ step: s, learningRate: learningRateAt(s, spec.training.learningRate, steps) });
      assert.ok(Number.isFinite(m.loss) && Number.isFinite(m.gradNorm), `${backend} step ${s + 1}: loss ${m.loss}, grad norm ${m.gradNorm}`);
      out.push(m.loss);
    }
    return out;
  } finally {
    job.dispose();
    data.close();
  }
}

/** Asserts two loss curves equal step by step within `tol` relative. */
export function assertSameCurve(a: number[], b: number[], tol: number, what: string): void {
  assert.equal(b.length, a.length);
  a.forEach((x, i) => {
    const rel = Math.abs(b[i]! - x) / Math.abs(x);
    assert.ok(rel <= tol, `${what} step ${i + 1}: ${x} vs ${b[i]} (${rel.toExponential(2)} relative)`);
  });
}

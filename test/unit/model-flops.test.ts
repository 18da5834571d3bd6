/**
 * The cost model's matmul FLOPs against the matmul kernels TF.js actually executes (core/ops `countMatmulFlops`
 * under `tf.profile`): one forward pass of tiny BERT and GroupBERT models (and variants) — layers, the MLM head at
 * the masked positions only, pooler and NSP — equals `computeCost(...).totals.forward.matmul`, and a training
 * pass (forward + gradients of every variable) equals forward + backward (3× forward), within 0.1%. On wasm, cpu
 * and webgpu (whatever adapter this machine has, lavapipe in CI; skipped with the loader's reason printed without
 * one).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { loadBackend } from '../../src/engines/tfjs/backends';
import { webgpuOrSkip } from '../webgpu-adapter';
import { loadBlasAddon } from '../../src/engines/tfjs/backends/blas/addon';
import { computeCost } from '../../src/core/cost';
import { buildModel, type ModelInputs } from '../../src/core/model';
import { countMatmulFlops } from '../../src/core/ops';
import { resolveSpec, type ResolvedSpec, type SpecFile } from '../../src/core/spec';

const [B, S, P] = [2, 16, 3];

function tiny(base: string, model: SpecFile['model'] = {}): ResolvedSpec {
  return resolveSpec({
    version: 1,
    extends: base,
    model: { vocabSize: 97, maxPositions: 32, hiddenSize: 32, numHeads: 2, numLayers: 2, intermediateSize: 64, ...model },
    training: { sequenceLength: S, batchSize: B, maxPredictions: P },
  } as SpecFile);
}

const CASES: [string, ResolvedSpec][] = [
  ['BERT', tiny('bert-tiny')],
  ['GroupBERT', tiny('groupbert-tiny', { layer: { modules: [{ type: 'conv', channelsPerGroup: 8 }, { type: 'gffn' }, { type: 'attention' }, { type: 'gffn' }] } })],
  ['GroupBERT, causal conv k4 without GLU, gffn G2 without mixer', tiny('groupbert-tiny', { layer: { modules: [{ type: 'conv', kernelSize: 4, channelsPerGroup: 4, glu: false, padding: 'causal' }, { type: 'gffn', groups: 2, mixer: false }, { type: 'attention', heads: 4 }] } })],
  ['per-layer overrides, NSP without pooler', tiny('groupbert-tiny', { heads: { mlm: true, nsp: true, pooler: false }, layer: { modules: [{ type: 'conv', channelsPerGroup: 16 }, { type: 'attention' }] }, layerOverrides: [{ layers: '1', modules: [{ type: 'ffn', intermediateSize: 48 }, { type: 'attention' }, { type: 'gffn', groups: 8 }] }] })],
  ['MLM only, no token types', tiny('bert-tiny', { tokenTypes: 0, heads: { mlm: true, nsp: false, pooler: false } })],
];

function inputs(): ModelInputs {
  const ids = Int32Array.from({ length: B * S }, (_, i) => (i * 31 + 7) % 97);
  return {
    inputIds: tf.tensor2d(ids, [B, S], 'int32'),
    tokenTypeIds: tf.tensor2d(Int32Array.from({ length: B * S }, (_, i) => (i % S >= S / 2 ? 1 : 0)), [B, S], 'int32'),
    attentionMask: tf.tensor2d(Int32Array.from({ length: B * S }, (_, i) => (i >= S + 12 ? 0 : 1)), [B, S], 'int32'),
    maskedPositions: tf.tensor2d([1, 5, 9, 2, 3, 0], [B, P], 'int32'),
    maskedLabels: tf.tensor2d([4, 8, 15, 16, 23, 0], [B, P], 'int32'),
    maskedWeights: tf.tensor2d([1, 1, 1, 1, 1, 0], [B, P], 'float32'),
    nspLabels: tf.tensor1d([0, 1], 'int32'),
  };
}

function close(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= 1e-3 * expected, `${what}: executed ${actual}, cost model ${expected} (${((actual / expected - 1) * 100).toFixed(3)}%)`);
}

for (const backend of ['wasm', 'cpu', 'webgpu', 'blas'] as const) {
  describe(`executed matmul FLOPs = cost model (${backend})`, () => {
    let skip: string | false = false;
    before(async () => {
      if (backend === 'webgpu') {
        skip = (await webgpuOrSkip()).skip;
        return;
      }
      if (backend === 'blas') {
        const found = await loadBlasAddon();
        if (!found.ok) {
          skip = `no native BLAS addon here: ${found.reason}`;
          console.log(`# skipped: ${skip}`);
          return;
        }
      }
      await loadBackend(backend, { threads: 1, strict: true });
    });

    for (const [label, spec] of CASES) {
      it(label, async (t) => {
        if (skip) return t.skip(skip);
        assert.equal(tf.getBackend(), backend === 'blas' ? 'wasm' : backend);
        const model = buildModel(spec, { seed: 1 });
        const x = inputs();
        try {
          const cost = computeCost(spec, { sequenceLength: S, batchSize: B, maskedPerSequence: P });
          const forward = await countMatmulFlops(() =>
            tf.tidy(() => {
              const out = model.forward(x);
              return [out.hidden, ...(out.mlmLogits ? [out.mlmLogits] : []), ...(out.nspLogits ? [out.nspLogits] : [])];
            }),
          );
          close(forward.total, cost.totals.forward.matmul, `${label}: forward`);
          const training = await countMatmulFlops(() =>
            tf.tidy(() => {
              const { value, grads } = tf.variableGrads(() => model.loss(x, { training: true, seed: 1 }).loss, [...model.variables.values()]);
              return [value, ...Object.values(grads)];
            }),
          );
          close(training.total, cost.totals.forward.matmul + cost.totals.backward.matmul, `${label}: forward + backward`);
        } finally {
          model.dispose();
          tf.dispose(Object.values(x));
        }
      });
    }
  });
}

/**
 * cpu vs wasm: every op's forward values and gradients agree to 1e-4 (max abs difference relative to the largest
 * magnitude). Shapes are large enough that both operand orders of the explicit-transpose matMuls are exercised.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { loadBackend, wasmKernelPatchesApplied } from '../../src/engines/tfjs/backends';
import {
  attention,
  dense,
  gatherRows,
  gelu,
  groupedConv1d,
  groupedDense,
  layerNorm,
  matMulNT,
  matMulTN,
  randn,
  softmaxCrossEntropy,
  swish,
} from '../../src/core/ops';
import { expNonPositive } from '../../src/core/ops/custom';

const TOL = 1e-4;

/** Forward value plus gradients w.r.t. every float32 input, contracted with a fixed dy. */
type Case = () => { inputs: tf.Tensor[]; f: (...xs: tf.Tensor[]) => tf.Tensor };

function evaluate(make: Case): Float32Array[] {
  return tf.tidy(() => {
    const { inputs, f } = make();
    const value = f(...inputs);
    const dy = randn(value.shape, 999);
    const wrt = inputs.map((t, i) => (t.dtype === 'float32' ? i : -1)).filter((i) => i >= 0);
    const grads = tf.grads((...ws: tf.Tensor[]) => f(...inputs.map((t, j) => (wrt.includes(j) ? ws[wrt.indexOf(j)]! : t))))(
      wrt.map((i) => inputs[i]!),
      dy,
    );
    return [value, ...grads].map((t) => Float32Array.from(t.dataSync()));
  });
}

async function compare(name: string, make: Case): Promise<void> {
  await tf.setBackend('cpu');
  const onCpu = evaluate(make);
  await tf.setBackend('wasm');
  const onWasm = evaluate(make);
  assert.equal(onWasm.length, onCpu.length);
  onCpu.forEach((c, i) => {
    const w = onWasm[i]!;
    assert.equal(w.length, c.length);
    let diff = 0;
    let scale = 0;
    for (let j = 0; j < c.length; j++) {
      assert.ok(Number.isFinite(w[j]), `${name}: non-finite on wasm`);
      diff = Math.max(diff, Math.abs(c[j]! - w[j]!));
      scale = Math.max(scale, Math.abs(c[j]!));
    }
    const rel = diff / Math.max(scale, 1e-6);
    assert.ok(rel <= TOL, `${name}: ${i === 0 ? 'value' : `gradient ${i}`} differs by ${rel.toExponential(2)} (cpu vs wasm)`);
  });
}

before(async () => {
  const report = await loadBackend('wasm', { threads: 1 });
  assert.equal(report.name, 'wasm');
  assert.deepEqual(wasmKernelPatchesApplied().sort(), ['Concat', 'GatherV2', 'Identity', 'OneHot', 'Pack', 'Reverse', 'Slice', 'SplitV', 'Sum', 'Transpose', 'Unpack', 'UnsortedSegmentSum'].sort());
});

describe('cpu and wasm agree (values and gradients)', () => {
  it('matMulTN / matMulNT, both operand orders', async () => {
    // [K, M]ᵀ·[K, N]: M small → transpose a; M large → transpose b and the result. Same for a·bᵀ.
    await compare('matMulTN small M', () => ({ inputs: [randn([40, 3], 1), randn([40, 30], 2)], f: (a, b) => matMulTN(a as tf.Tensor2D, b as tf.Tensor2D) }));
    await compare('matMulTN large M', () => ({ inputs: [randn([40, 30], 3), randn([40, 3], 4)], f: (a, b) => matMulTN(a as tf.Tensor2D, b as tf.Tensor2D) }));
    await compare('matMulNT small N', () => ({ inputs: [randn([30, 40], 5), randn([3, 40], 6)], f: (a, b) => matMulNT(a as tf.Tensor2D, b as tf.Tensor2D) }));
    await compare('matMulNT large N', () => ({ inputs: [randn([3, 40], 7), randn([30, 40], 8)], f: (a, b) => matMulNT(a as tf.Tensor2D, b as tf.Tensor2D) }));
  });

  it('dense (with and without bias)', async () => {
    await compare('dense', () => ({
      inputs: [randn([4, 16, 32], 10), randn([32, 24], 11, 0.2), randn([24], 12)],
      f: (x, w, b) => dense(x!, w as tf.Tensor2D, b as tf.Tensor1D),
    }));
    await compare('dense no bias', () => ({ inputs: [randn([64, 8], 13), randn([8, 40], 14)], f: (x, w) => dense(x!, w as tf.Tensor2D) }));
  });

  it('groupedDense', async () => {
    await compare('groupedDense', () => ({
      inputs: [randn([2, 8, 32], 20), randn([4, 8, 4], 21, 0.3), randn([16], 22)],
      f: (x, w, b) => groupedDense(x!, w as tf.Tensor3D, b as tf.Tensor1D),
    }));
  });

  for (const [padding, K] of [
    ['same', 7],
    ['causal', 4],
  ] as const) {
    it(`groupedConv1d ${padding} k${K}`, async () => {
      await compare(`groupedConv1d ${padding}`, () => ({
        inputs: [randn([2, 16, 32], 30 + K), randn([4, K * 8, 8], 40 + K, 0.2)],
        f: (x, w) => groupedConv1d(x as tf.Tensor3D, w as tf.Tensor3D, { kernelSize: K, channelsPerGroup: 8, padding }),
      }));
    });
  }

  it('attention (masked, 4 heads) and its probabilities', async () => {
    const mask = () => tf.tensor2d(Array.from({ length: 32 }, (_, i) => (i % 16 < 16 - 3 * Math.floor(i / 16) ? 1 : 0)), [2, 16]);
    await compare('attention', () => ({
      inputs: [randn([2, 16, 32], 50), randn([2, 16, 32], 51), randn([2, 16, 32], 52), mask()],
      f: (q, k, v, m) => attention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, m!, 4),
    }));
    await compare('attention probs', () => ({
      inputs: [randn([2, 16, 32], 53), mask()],
      f: (q, m) => attention(q as tf.Tensor3D, q as tf.Tensor3D, q as tf.Tensor3D, m!, 4, { returnProbs: true }).context,
    }));
  });

  it('expNonPositive (σ(z)/σ(−z) on wasm) equals e^z for z ≤ 0 to 1e-6', () => {
    const zs = Array.from({ length: 2001 }, (_, i) => -i * 0.05); // 0 … −100
    const got = tf.tidy(() => expNonPositive(tf.tensor1d(zs)).dataSync());
    zs.forEach((z, i) => {
      const want = Math.exp(Math.fround(z)); // of the float32 z the op sees
      const err = Math.abs(got[i]! - want);
      // Results below float32's smallest normal (1.18e-38, z < −87.3) may flush to 0.
      assert.ok(err <= 1e-6 * want + 1.2e-38, `e^${z}: ${got[i]} vs ${want}`);
    });
  });

  it('gatherRows, layerNorm, gelu, swish, softmaxCrossEntropy', async () => {
    await compare('gatherRows', () => ({
      inputs: [randn([50, 16], 60), tf.tensor1d([3, 3, 49, 0, 7, 3], 'int32')],
      f: (t, i) => gatherRows(t as tf.Tensor2D, i!),
    }));
    await compare('layerNorm', () => ({
      inputs: [randn([4, 8, 32], 61, 2), randn([32], 62), randn([32], 63)],
      f: (x, g, b) => layerNorm(x!, g as tf.Tensor1D, b as tf.Tensor1D),
    }));
    await compare('gelu', () => ({ inputs: [randn([16, 32], 64, 2)], f: (x) => gelu(x!) }));
    await compare('gelu tanh', () => ({ inputs: [randn([16, 32], 65, 2)], f: (x) => gelu(x!, 'tanh') }));
    await compare('swish', () => ({ inputs: [randn([16, 32], 66, 2)], f: (x) => swish(x!) }));
    await compare('softmaxCrossEntropy', () => ({
      inputs: [randn([12, 50], 67, 2), tf.tensor1d([0, 1, 2, 3, 4, 49, 48, 47, 46, 45, 10, 10], 'int32')],
      f: (l, y) => softmaxCrossEntropy(l as tf.Tensor2D, y as tf.Tensor1D),
    }));
  });
});

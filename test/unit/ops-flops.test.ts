/**
 * countMatmulFlops: exact counts for known matMuls (plain, transposed, batched, broadcast, fused) and convs, and
 * the fwd+bwd = 3 × fwd relation for the ops with hand-written gradients, on cpu and on wasm (where the backward
 * passes use explicit transposes).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { loadBackend } from '../../src/engines/tfjs/backends';
import { attention, countMatmulFlops, dense, groupedConv1d, groupedDense, kernelFlops, randn } from '../../src/core/ops';

before(async () => {
  await loadBackend('wasm', { threads: 1 });
});

/** Count fwd and fwd+bwd (gradients w.r.t. all inputs) of f. */
async function fwdAndBwd(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[]) {
  const fwd = await countMatmulFlops(() => f(...inputs));
  const both = await countMatmulFlops(() => tf.grads((...xs: tf.Tensor[]) => tf.sum(f(...xs)))(inputs));
  return { fwd: fwd.total, both: both.total, byKernel: both.byKernel };
}

for (const backend of ['cpu', 'wasm']) {
  describe(`countMatmulFlops on ${backend}`, () => {
    before(async () => {
      await tf.setBackend(backend);
    });

    it('counts 2·M·N·K for a plain and a transposed matMul', async () => {
      const a = tf.ones([6, 5]);
      const b = tf.ones([5, 7]);
      assert.deepEqual(await countMatmulFlops(() => tf.matMul(a, b)), {
        total: 2 * 6 * 7 * 5,
        byKernel: { BatchMatMul: 420 },
        calls: { BatchMatMul: 1 },
      });
      const aT = tf.ones([5, 6]);
      const bT = tf.ones([7, 5]);
      assert.equal((await countMatmulFlops(() => tf.matMul(aT, bT, true, true))).total, 420);
      assert.equal((await countMatmulFlops(() => tf.matMul(aT, b, true, false))).total, 420);
      // Square-ish shapes where only the element count tells K apart from M.
      assert.equal((await countMatmulFlops(() => tf.matMul(tf.ones([4, 4]), tf.ones([4, 9])))).total, 2 * 4 * 9 * 4);
      tf.dispose([a, b, aT, bT]);
    });

    it('counts batched, broadcast and fused matMuls, and ignores other kernels', async () => {
      const r = await countMatmulFlops(() => [
        tf.matMul(tf.ones([3, 4, 5]), tf.ones([3, 5, 2])), // 2·3·4·2·5 = 240
        tf.matMul(tf.ones([1, 4, 5]), tf.ones([3, 5, 2])), // broadcast batch: 240
        tf.fused.matMul({ a: tf.ones([4, 5]), b: tf.ones([5, 2]), bias: tf.ones([2]), activation: 'relu' }), // 80
        tf.relu(tf.softmax(tf.ones([8, 8]))),
      ]);
      assert.equal(r.total, 240 + 240 + 80);
      assert.deepEqual(r.byKernel, { BatchMatMul: 480, _FusedMatMul: 80 });
    });

    it('dense, groupedDense, groupedConv1d and attention: fwd+bwd = 3 × fwd = 3 × the analytic count', async () => {
      const [B, T, C] = [2, 8, 32];
      const x = randn([B, T, C], 1);
      const d = await fwdAndBwd((x, w) => dense(x!, w as tf.Tensor2D), [x, randn([C, 24], 2)]);
      assert.equal(d.fwd, 2 * B * T * C * 24);
      assert.equal(d.both, 3 * d.fwd);

      const g = await fwdAndBwd((x, w) => groupedDense(x!, w as tf.Tensor3D), [x, randn([4, 8, 6], 3)]);
      assert.equal(g.fwd, 2 * B * T * (C / 4) * 6 * 4);
      assert.equal(g.both, 3 * g.fwd);

      const K = 7;
      const Cg = 8;
      const c = await fwdAndBwd(
        (x, w) => groupedConv1d(x as tf.Tensor3D, w as tf.Tensor3D, { kernelSize: K, channelsPerGroup: Cg, padding: 'same' }),
        [x, randn([C / Cg, K * Cg, Cg], 4)],
      );
      assert.equal(c.fwd, 2 * B * T * K * Cg * C);
      assert.equal(c.both, 3 * c.fwd);

      const H = 4;
      const a = await fwdAndBwd((q, k, v) => attention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, null, H), [x, randn([B, T, C], 5), randn([B, T, C], 6)]);
      assert.equal(a.fwd, 2 * (2 * B * T * T * C)); // QKᵀ and P·V, each 2·B·T·T·D
      assert.equal(a.both, 3 * a.fwd);
      assert.deepEqual(Object.keys(a.byKernel), ['BatchMatMul']);
    });
  });
}

describe('conv kernels (cpu: wasm has no Conv2DBackpropFilter)', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('conv1d forward = 2·B·T_out·C_out·K·C_in; with both gradients 3×', async () => {
    const [B, T, Cin, Cout, K] = [2, 10, 3, 5, 4];
    const x = randn([B, T, Cin], 7);
    const w = randn([K, Cin, Cout], 8);
    const fwd = await countMatmulFlops(() => tf.conv1d(x as tf.Tensor3D, w as tf.Tensor3D, 1, 'valid'));
    const expected = 2 * B * (T - K + 1) * Cout * K * Cin;
    assert.equal(fwd.total, expected);
    assert.deepEqual(Object.keys(fwd.byKernel), ['Conv2D']);
    const both = await countMatmulFlops(() =>
      tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.conv1d(x as tf.Tensor3D, w as tf.Tensor3D, 1, 'same')))([x, w]),
    );
    const same = 2 * B * T * Cout * K * Cin;
    assert.deepEqual(both.byKernel, { Conv2D: same, Conv2DBackpropInput: same, Conv2DBackpropFilter: same });
  });

  it('depthwise conv2d and its gradients', async () => {
    const x = randn([1, 6, 6, 3], 9) as tf.Tensor4D;
    const w = randn([3, 3, 3, 2], 10) as tf.Tensor4D;
    const perCall = 2 * 6 * 6 * 6 * 3 * 3; // |y| = 1·6·6·(3·2), 3×3 taps
    const both = await countMatmulFlops(() =>
      tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')))([x, w]),
    );
    assert.deepEqual(both.byKernel, {
      DepthwiseConv2dNative: perCall,
      DepthwiseConv2dNativeBackpropInput: perCall,
      DepthwiseConv2dNativeBackpropFilter: perCall,
    });
  });

  it('kernelFlops ignores unknown kernels and malformed shapes', () => {
    assert.equal(kernelFlops('Add', [[2], [2]], [[2]]), undefined);
    assert.equal(kernelFlops('BatchMatMul', [null, [2, 2]], [[2, 2]]), undefined);
    assert.equal(kernelFlops('BatchMatMul', [[0, 3], [3, 4]], [[0, 4]]), 0);
  });
});

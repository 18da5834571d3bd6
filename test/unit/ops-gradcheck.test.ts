/**
 * Finite-difference checks of every op with a hand-written gradient, on the cpu backend (float32 forward passes,
 * float64 sums; central differences; tolerance 1e-2 relative on random projections and single coordinates).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  attention,
  dense,
  gatherRows,
  gelu,
  gradCheck,
  groupedConv1d,
  groupedDense,
  layerNorm,
  randn,
  softmaxCrossEntropy,
  swish,
  type GradCheckResult,
} from '../../src/core/ops';

const TOL = 1e-2;

function expectClose(name: string, res: GradCheckResult): void {
  if (process.env.GRADCHECK_VERBOSE) console.log(name, res.maxRelError.toExponential(2), res.entries.length);
  const w = res.worst;
  assert.ok(
    res.maxRelError < TOL,
    `${name}: relative error ${res.maxRelError.toExponential(2)} at input ${w.input} (${w.kind}${
      w.index !== undefined ? ` #${w.index}` : ''
    }): analytic ${w.analytic} vs numeric ${w.numeric}`,
  );
  assert.ok(res.entries.length > 0, `${name}: nothing was checked`);
}

before(async () => {
  await tf.setBackend('cpu');
});

describe('gradient checks (cpu, central differences)', () => {
  it('dense without and with bias (3-D input)', () => {
    const x = randn([2, 3, 5], 1);
    const w = randn([5, 4], 2, 0.5);
    const b = randn([4], 3);
    expectClose('dense', gradCheck((x, w) => dense(x!, w as tf.Tensor2D), [x, w]));
    expectClose('dense+bias', gradCheck((x, w, b) => dense(x!, w as tf.Tensor2D, b as tf.Tensor1D), [x, w, b]));
  });

  it('groupedDense (G = 3) with bias, and G = 1', () => {
    const x = randn([2, 3, 6], 4);
    const w = randn([3, 2, 4], 5, 0.5);
    const b = randn([12], 6);
    expectClose(
      'groupedDense',
      gradCheck((x, w, b) => groupedDense(x!, w as tf.Tensor3D, b as tf.Tensor1D), [x, w, b]),
    );
    const w1 = randn([1, 6, 3], 7, 0.5);
    expectClose('groupedDense G=1', gradCheck((x, w) => groupedDense(x!, w as tf.Tensor3D), [x, w1]));
  });

  for (const [padding, K] of [
    ['same', 3],
    ['same', 4],
    ['causal', 3],
    ['causal', 2],
  ] as const) {
    it(`groupedConv1d ${padding}, kernel ${K}, 2 groups of 3`, () => {
      const x = randn([2, 5, 6], 10 + K);
      const w = randn([2, K * 3, 3], 20 + K, 0.5);
      const f = (x: tf.Tensor, w: tf.Tensor) =>
        groupedConv1d(x as tf.Tensor3D, w as tf.Tensor3D, { kernelSize: K, channelsPerGroup: 3, padding });
      expectClose(`groupedConv1d ${padding} k${K}`, gradCheck((x, w) => f(x!, w!), [x, w], { coordinates: 6 }));
    });
  }

  it('groupedConv1d keeping the im2col buffer (saveIm2col)', () => {
    const x = randn([2, 5, 6], 33);
    const w = randn([3, 3 * 2, 2], 34, 0.5);
    const f = (x: tf.Tensor, w: tf.Tensor) =>
      groupedConv1d(x as tf.Tensor3D, w as tf.Tensor3D, { kernelSize: 3, channelsPerGroup: 2, padding: 'causal', saveIm2col: true });
    expectClose('groupedConv1d saveIm2col', gradCheck((x, w) => f(x!, w!), [x, w], { coordinates: 6 }));
  });

  it('groupedConv1d with a single group', () => {
    const x = randn([1, 4, 3], 31);
    const w = randn([1, 9, 3], 32, 0.5);
    const f = (x: tf.Tensor, w: tf.Tensor) =>
      groupedConv1d(x as tf.Tensor3D, w as tf.Tensor3D, { kernelSize: 3, channelsPerGroup: 3, padding: 'same' });
    expectClose('groupedConv1d G=1', gradCheck((x, w) => f(x!, w!), [x, w]));
  });

  it('attention with a key mask (2 heads, padded keys)', () => {
    const [B, T, D] = [2, 4, 6];
    const q = randn([B, T, D], 41);
    const k = randn([B, T, D], 42);
    const v = randn([B, T, D], 43);
    const mask = tf.tensor2d([1, 1, 1, 0, 1, 1, 0, 0], [B, T]);
    const f = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
      attention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, mask, 2);
    expectClose('attention masked', gradCheck((q, k, v) => f(q!, k!, v!), [q, k, v], { coordinates: 6 }));
  });

  it('attention without a mask, cross-attention shapes (T_q ≠ T_k), 3 heads', () => {
    const q = randn([1, 3, 6], 51);
    const k = randn([1, 5, 6], 52);
    const v = randn([1, 5, 6], 53);
    const f = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
      attention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, null, 3);
    expectClose('attention', gradCheck((q, k, v) => f(q!, k!, v!), [q, k, v]));
  });

  it('gatherRows (repeated ids, 2-D ids)', () => {
    const table = randn([5, 3], 61);
    const ids = tf.tensor2d([0, 3, 3, 1, 0, 0], [2, 3], 'int32');
    expectClose(
      'gatherRows',
      gradCheck((t, i) => gatherRows(t as tf.Tensor2D, i!), [table, ids], { wrt: [0], coordinates: 8 }),
    );
  });

  it('layerNorm (eps 1e-3)', () => {
    const x = randn([2, 3, 5], 71, 2);
    const gamma = randn([5], 72);
    const beta = randn([5], 73);
    expectClose(
      'layerNorm',
      gradCheck((x, g, b) => layerNorm(x!, g as tf.Tensor1D, b as tf.Tensor1D, 1e-3), [x, gamma, beta], {
        coordinates: 6,
        h: 3e-3,
      }),
    );
  });

  it('gelu (erf and tanh forms) and swish', () => {
    const x = randn([3, 7], 81, 2);
    expectClose('gelu erf', gradCheck((x) => gelu(x!, 'erf'), [x]));
    expectClose('gelu tanh', gradCheck((x) => gelu(x!, 'tanh'), [x]));
    expectClose('swish', gradCheck((x) => swish(x!), [x]));
  });

  it('softmaxCrossEntropy with and without weights', () => {
    const logits = randn([4, 6], 91, 2);
    const labels = tf.tensor1d([0, 5, 2, 2], 'int32');
    const weights = tf.tensor1d([1, 0, 2, 0.5]);
    expectClose(
      'softmaxCrossEntropy',
      gradCheck((l, y) => softmaxCrossEntropy(l as tf.Tensor2D, y as tf.Tensor1D), [logits, labels], { wrt: [0] }),
    );
    expectClose(
      'softmaxCrossEntropy weighted',
      gradCheck((l, y, w) => softmaxCrossEntropy(l as tf.Tensor2D, y as tf.Tensor1D, w as tf.Tensor1D), [logits, labels, weights], {
        wrt: [0],
      }),
    );
  });

  it('the checker itself catches a wrong gradient', () => {
    const wrong = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
      save([x]);
      return { value: tf.square(x), gradFunc: (dy: tf.Tensor, [x]: tf.Tensor[]) => tf.mul(dy, tf.mul(x!, 2.1)) };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    const res = gradCheck((x) => wrong(x!), [randn([3, 4], 99)]);
    assert.ok(res.maxRelError > 0.04, `expected a detectable error, got ${res.maxRelError}`);
  });
});

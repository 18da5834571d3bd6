/**
 * The ops against independent references on the cpu backend: naive loops written here, stock TF.js formulations
 * (tf.conv1d per group, block-diagonal matMul, batched softmax attention, tf.gather, tf.moments, stock losses)
 * for values and for gradients.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  attention,
  convKernelFromReference,
  convKernelFromTorch,
  convKernelToReference,
  convPadding,
  dense,
  gatherRows,
  gelu,
  glu,
  groupedConv1d,
  groupedDense,
  layerNorm,
  randn,
  softmaxCrossEntropy,
  swish,
  type ConvPadding,
} from '../../src/core/ops';

/** max |a − b| / max(max |b|, 1e-6) */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / Math.max(scale, 1e-6);
}

function assertClose(actual: tf.Tensor | ArrayLike<number>, expected: tf.Tensor | ArrayLike<number>, tol: number, what: string) {
  if (actual instanceof tf.Tensor && expected instanceof tf.Tensor) {
    assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  }
  const a = actual instanceof tf.Tensor ? actual.dataSync() : actual;
  const e = expected instanceof tf.Tensor ? expected.dataSync() : expected;
  const d = relDiff(a, e);
  assert.ok(d <= tol, `${what}: relative difference ${d.toExponential(2)} > ${tol}`);
}

before(async () => {
  await tf.setBackend('cpu');
});

// ---------------------------------------------------------------------------------------------------------------
describe('groupedConv1d', () => {
  /**
   * Naive reference in the TF1 GroupBERT layout (groupbert.md §2):
   * c[t, o] = Σ_j Σ_i K[j, i, o] · v[t + j − before, Cg·⌊o/Cg⌋ + i], v = 0 outside [0, T).
   */
  function naiveConvRefLayout(x: tf.Tensor3D, ref: tf.Tensor3D, padding: ConvPadding): Float64Array {
    const [B, T, C] = x.shape;
    const [K, Cg, Cout] = ref.shape;
    const xv = x.dataSync();
    const kv = ref.dataSync();
    const [before] = convPadding(K, padding);
    const out = new Float64Array(B * T * Cout);
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T; t++)
        for (let o = 0; o < Cout; o++) {
          let s = 0;
          const g0 = Cg * Math.floor(o / Cg);
          for (let j = 0; j < K; j++) {
            const src = t + j - before;
            if (src < 0 || src >= T) continue;
            for (let i = 0; i < Cg; i++) s += kv[(j * Cg + i) * Cout + o]! * xv[(b * T + src) * C + g0 + i]!;
          }
          out[(b * T + t) * Cout + o] = s;
        }
    return out;
  }

  const cases: [ConvPadding, number][] = [
    ['same', 7],
    ['same', 3],
    ['same', 4],
    ['causal', 3],
    ['causal', 4],
    ['causal', 1],
  ];
  for (const [padding, K] of cases) {
    it(`matches the naive triple loop: ${padding}, kernel ${K}`, () => {
      tf.tidy(() => {
        const [B, T, Cg, G] = [2, 9, 4, 3];
        const x = randn([B, T, G * Cg], 100 + K) as tf.Tensor3D;
        const ref = randn([K, Cg, G * Cg], 200 + K) as tf.Tensor3D;
        const y = groupedConv1d(x, convKernelFromReference(ref), { kernelSize: K, channelsPerGroup: Cg, padding });
        assert.deepEqual(y.shape, [B, T, G * Cg]);
        assertClose(y.dataSync(), naiveConvRefLayout(x, ref, padding), 1e-5, `${padding} k${K}`);
      });
    });
  }

  it('causal output at t does not depend on inputs after t', () => {
    tf.tidy(() => {
      const x = randn([1, 8, 4], 7) as tf.Tensor3D;
      const w = randn([2, 3 * 2, 2], 8) as tf.Tensor3D;
      const opts = { kernelSize: 3, channelsPerGroup: 2, padding: 'causal' as const };
      const y1 = groupedConv1d(x, w, opts).dataSync();
      const x2 = x.arraySync();
      for (let c = 0; c < 4; c++) x2[0]![5]![c] = 100; // change position 5 only
      const y2 = groupedConv1d(tf.tensor3d(x2), w, opts).dataSync();
      for (let t = 0; t < 5; t++) for (let c = 0; c < 4; c++) assert.equal(y1[t * 4 + c], y2[t * 4 + c]);
      assert.notEqual(y1[5 * 4], y2[5 * 4]);
    });
  });

  for (const padding of ['same', 'causal'] as const) {
    it(`matches stock tf.conv1d per group, values and gradients (${padding})`, () => {
      tf.tidy(() => {
        const [B, T, Cg, G, K] = [2, 7, 3, 2, 5];
        const x = randn([B, T, G * Cg], 300) as tf.Tensor3D;
        const w = randn([G, K * Cg, Cg], 301) as tf.Tensor3D;
        const dy = randn([B, T, G * Cg], 302);
        const ours = (x: tf.Tensor, w: tf.Tensor, saveIm2col = false) =>
          groupedConv1d(x as tf.Tensor3D, w as tf.Tensor3D, { kernelSize: K, channelsPerGroup: Cg, padding, saveIm2col });
        const stock = (x: tf.Tensor, w: tf.Tensor) => {
          const [before, after] = convPadding(K, padding);
          const xp = tf.pad(x, [[0, 0], [before, after], [0, 0]]) as tf.Tensor3D;
          const xs = tf.split(xp, G, 2) as tf.Tensor3D[];
          const ws = tf.unstack(w).map((wg) => wg.reshape([K, Cg, Cg]) as tf.Tensor3D);
          return tf.concat(xs.map((xg, g) => tf.conv1d(xg, ws[g]!, 1, 'valid')), 2);
        };
        assertClose(ours(x, w), stock(x, w), 1e-5, 'value');
        const [gxO, gwO] = tf.grads((x: tf.Tensor, w: tf.Tensor) => ours(x, w))([x, w], dy);
        const [gxS, gwS] = tf.grads((x: tf.Tensor, w: tf.Tensor) => stock(x, w))([x, w], dy);
        assertClose(gxO!, gxS!, 1e-5, 'dx');
        assertClose(gwO!, gwS!, 1e-5, 'dW');
        const [gxK, gwK] = tf.grads((x: tf.Tensor, w: tf.Tensor) => ours(x, w, true))([x, w], dy);
        assertClose(gxK!, gxS!, 1e-5, 'dx (saveIm2col)');
        assertClose(gwK!, gwS!, 1e-5, 'dW (saveIm2col)');
      });
    });
  }

  it('kernel layout conversions: reference ↔ ours round-trip; PyTorch layout matches its naive formula', () => {
    tf.tidy(() => {
      const [K, Cg, G] = [3, 2, 3];
      const ref = randn([K, Cg, G * Cg], 400) as tf.Tensor3D;
      assertClose(convKernelToReference(convKernelFromReference(ref), K), ref, 0, 'round trip');
      // PyTorch Conv1d(groups=G) weight [C_out, Cg, K]: y[t, o] = Σ_i Σ_j w[o, i, j] · x[t + j − before, g(o)·Cg + i]
      const torchW = randn([G * Cg, Cg, K], 401) as tf.Tensor3D;
      const tv = torchW.dataSync();
      const refFromTorch = tf.buffer([K, Cg, G * Cg]);
      for (let o = 0; o < G * Cg; o++)
        for (let i = 0; i < Cg; i++) for (let j = 0; j < K; j++) refFromTorch.set(tv[(o * Cg + i) * K + j]!, j, i, o);
      assertClose(convKernelFromTorch(torchW, G), convKernelFromReference(refFromTorch.toTensor() as tf.Tensor3D), 0, 'torch');
    });
  });

  it('rejects inconsistent shapes with a message that says what is wrong', () => {
    const x = tf.zeros([1, 4, 6]) as tf.Tensor3D;
    assert.throws(
      () => groupedConv1d(x, tf.zeros([2, 9, 3]) as tf.Tensor3D, { kernelSize: 3, channelsPerGroup: 4, padding: 'same' }),
      /6 channels cannot be split into groups of 4/,
    );
    assert.throws(
      () => groupedConv1d(x, tf.zeros([2, 6, 3]) as tf.Tensor3D, { kernelSize: 3, channelsPerGroup: 3, padding: 'same' }),
      /does not match G=2, K=3, Cg=3/,
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('groupedDense', () => {
  it('equals a dense matMul with the block-diagonal matrix (values and gradients)', () => {
    tf.tidy(() => {
      const [G, ki, ko] = [4, 3, 2];
      const x = randn([2, 5, G * ki], 500);
      const w = randn([G, ki, ko], 501) as tf.Tensor3D;
      const b = randn([G * ko], 502) as tf.Tensor1D;
      const dy = randn([2, 5, G * ko], 503);
      // Block-diagonal [G·ki, G·ko] built element by element.
      const wv = w.dataSync();
      const blockDiag = (wv: ArrayLike<number>) => {
        const buf = tf.buffer([G * ki, G * ko]);
        for (let g = 0; g < G; g++)
          for (let i = 0; i < ki; i++) for (let o = 0; o < ko; o++) buf.set(wv[(g * ki + i) * ko + o]!, g * ki + i, g * ko + o);
        return buf.toTensor() as tf.Tensor2D;
      };
      const full = blockDiag(wv);
      const ref = tf.add(tf.matMul(x.reshape([-1, G * ki]), full), b).reshape([2, 5, G * ko]);
      assertClose(groupedDense(x, w, b), ref, 1e-6, 'value');

      const [gx, gw, gb] = tf.grads((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
        groupedDense(x, w as tf.Tensor3D, b as tf.Tensor1D),
      )([x, w, b], dy);
      const [rgx, rfull, rgb] = tf.grads((x: tf.Tensor, m: tf.Tensor, b: tf.Tensor) =>
        tf.add(tf.matMul(x.reshape([-1, G * ki]), m as tf.Tensor2D), b).reshape([2, 5, G * ko]),
      )([x, full, b], dy);
      assertClose(gx!, rgx!, 1e-5, 'dx');
      assertClose(gb!, rgb!, 1e-5, 'db');
      // dW must equal the diagonal blocks of the full-matrix gradient.
      const rf = rfull!.dataSync();
      const expected = new Float32Array(G * ki * ko);
      for (let g = 0; g < G; g++)
        for (let i = 0; i < ki; i++) for (let o = 0; o < ko; o++) expected[(g * ki + i) * ko + o] = rf[(g * ki + i) * G * ko + g * ko + o]!;
      assertClose(gw!.dataSync(), expected, 1e-5, 'dW');
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('dense', () => {
  it('matches tf.matMul + bias with stock gradients', () => {
    tf.tidy(() => {
      const x = randn([3, 4, 5], 600);
      const w = randn([5, 6], 601) as tf.Tensor2D;
      const b = randn([6], 602) as tf.Tensor1D;
      const dy = randn([3, 4, 6], 603);
      const stock = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
        tf.add(tf.matMul(x.reshape([-1, 5]), w as tf.Tensor2D), b).reshape([3, 4, 6]);
      assertClose(dense(x, w, b), stock(x, w, b), 1e-6, 'value');
      const gO = tf.grads((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => dense(x, w as tf.Tensor2D, b as tf.Tensor1D))([x, w, b], dy);
      const gS = tf.grads(stock)([x, w, b], dy);
      gO.forEach((g, i) => assertClose(g, gS[i]!, 1e-5, `grad ${i}`));
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('attention', () => {
  /** softmax(QKᵀ/√d + mask)·V with batched 4-D stock ops. */
  function reference(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, mask: tf.Tensor2D | null, H: number) {
    const [B, Tq, D] = q.shape;
    const Tk = k.shape[1];
    const dh = D / H;
    const split = (x: tf.Tensor, T: number) => x.reshape([B, T, H, dh]).transpose([0, 2, 1, 3]);
    let s = tf.div(tf.matMul(split(q, Tq), split(k, Tk), false, true), Math.sqrt(dh));
    if (mask) s = tf.add(s, tf.mul(tf.sub(1, mask), -10000).reshape([B, 1, 1, Tk]));
    const p = tf.softmax(s);
    const ctx = tf.matMul(p, split(v, Tk)).transpose([0, 2, 1, 3]).reshape([B, Tq, D]);
    return { ctx, p };
  }

  it('matches the straightforward formula (values, probabilities, gradients) with padded keys', () => {
    tf.tidy(() => {
      const [B, T, D, H] = [3, 6, 8, 2];
      const q = randn([B, T, D], 700) as tf.Tensor3D;
      const k = randn([B, T, D], 701) as tf.Tensor3D;
      const v = randn([B, T, D], 702) as tf.Tensor3D;
      const mask = tf.tensor2d([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0], [B, T]);
      const dy = randn([B, T, D], 703);
      const ours = attention(q, k, v, mask, H, { returnProbs: true });
      const ref = reference(q, k, v, mask, H);
      assertClose(ours.context, ref.ctx, 1e-5, 'context');
      assertClose(ours.probs, ref.p, 1e-5, 'probs');
      const gO = tf.grads((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
        attention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, mask, H),
      )([q, k, v], dy);
      const gR = tf.grads((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
        reference(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, mask, H).ctx,
      )([q, k, v], dy);
      ['dq', 'dk', 'dv'].forEach((name, i) => assertClose(gO[i]!, gR[i]!, 1e-4, name));
    });
  });

  it('gives padded keys ~0 probability, and padded keys do not change the real positions', () => {
    tf.tidy(() => {
      const [B, T, D, H] = [2, 5, 4, 2];
      const q = randn([B, T, D], 710) as tf.Tensor3D;
      const k = randn([B, T, D], 711) as tf.Tensor3D;
      const v = randn([B, T, D], 712) as tf.Tensor3D;
      const mask = tf.tensor2d([1, 1, 1, 0, 0, 1, 1, 1, 1, 0], [B, T]);
      const { context, probs } = attention(q, k, v, mask, H, { returnProbs: true });
      const p = probs.arraySync();
      const m = mask.arraySync();
      for (let b = 0; b < B; b++)
        for (let h = 0; h < H; h++)
          for (let i = 0; i < T; i++) {
            const row = p[b]![h]![i]!;
            assert.ok(Math.abs(row.reduce((a, c) => a + c, 0) - 1) < 1e-5, 'rows sum to 1');
            for (let j = 0; j < T; j++) if (m[b]![j] === 0) assert.ok(row[j]! < 1e-6, `p[${b},${h},${i},${j}] = ${row[j]}`);
          }
      // Changing the padded keys/values must not change anything.
      const k2 = tf.where(tf.equal(mask, 0).expandDims(-1).tile([1, 1, D]), tf.fill([B, T, D], 50), k) as tf.Tensor3D;
      const v2 = tf.where(tf.equal(mask, 0).expandDims(-1).tile([1, 1, D]), tf.fill([B, T, D], -50), v) as tf.Tensor3D;
      assertClose(attention(q, k2, v2, mask, H), context, 1e-6, 'context with garbage in padded keys');
    });
  });

  it('without a mask, with T_q ≠ T_k, and H = 1', () => {
    tf.tidy(() => {
      const q = randn([2, 3, 4], 720) as tf.Tensor3D;
      const k = randn([2, 5, 4], 721) as tf.Tensor3D;
      const v = randn([2, 5, 4], 722) as tf.Tensor3D;
      for (const H of [1, 2, 4]) assertClose(attention(q, k, v, null, H), reference(q, k, v, null, H).ctx, 1e-5, `H=${H}`);
    });
  });

  it('returns probabilities that the caller owns (no leak, disposed with the caller scope)', () => {
    const q = randn([1, 4, 4], 730) as tf.Tensor3D;
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      attention(q, q, q, null, 2, { returnProbs: true });
    });
    assert.equal(tf.memory().numTensors, before);
    q.dispose();
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('gatherRows, layerNorm, activations, loss', () => {
  it('gatherRows equals tf.gather, and its gradient sums repeated ids like the stock one', () => {
    tf.tidy(() => {
      const table = randn([6, 3], 800) as tf.Tensor2D;
      const ids = tf.tensor2d([5, 0, 5, 2, 5, 1], [3, 2], 'int32');
      const dy = randn([3, 2, 3], 801);
      assertClose(gatherRows(table, ids), tf.gather(table, ids), 0, 'value');
      const [gO] = tf.grads((t: tf.Tensor) => gatherRows(t as tf.Tensor2D, ids))([table], dy);
      const [gS] = tf.grads((t: tf.Tensor) => tf.gather(t, ids))([table], dy);
      assertClose(gO!, gS!, 1e-6, 'grad');
    });
  });

  it('layerNorm equals the tf.moments formulation (values and gradients)', () => {
    tf.tidy(() => {
      const x = randn([2, 3, 8], 810, 3);
      const gamma = randn([8], 811) as tf.Tensor1D;
      const beta = randn([8], 812) as tf.Tensor1D;
      const dy = randn([2, 3, 8], 813);
      const stock = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(x, -1, true);
        return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-3))), g), b);
      };
      assertClose(layerNorm(x, gamma, beta, 1e-3), stock(x, gamma, beta), 1e-5, 'value');
      const gO = tf.grads((x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D, 1e-3))(
        [x, gamma, beta],
        dy,
      );
      const gS = tf.grads(stock)([x, gamma, beta], dy);
      ['dx', 'dγ', 'dβ'].forEach((n, i) => assertClose(gO[i]!, gS[i]!, 1e-4, n));
    });
  });

  it('gelu (both forms), swish and glu equal their formulas, gradients equal stock autodiff', () => {
    tf.tidy(() => {
      const x = randn([4, 9], 820, 3);
      const dy = randn([4, 9], 821);
      const erfForm = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2))));
      const tanhForm = (x: tf.Tensor) =>
        tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))));
      const swishForm = (x: tf.Tensor) => tf.mul(x, tf.sigmoid(x));
      for (const [name, ours, ref] of [
        ['gelu erf', (x: tf.Tensor) => gelu(x), erfForm],
        ['gelu tanh', (x: tf.Tensor) => gelu(x, 'tanh'), tanhForm],
        ['swish', swish, swishForm],
      ] as const) {
        assertClose(ours(x), ref(x), 1e-6, name);
        assertClose(tf.grad(ours)(x, dy), tf.grad(ref)(x, dy), 1e-5, `${name} grad`);
      }
      // Spot values: GELU(1) = Φ(1) = 0.8413447; tanh form 0.8411920.
      assertClose(gelu(tf.scalar(1)), [0.8413447], 1e-6, 'gelu(1)');
      assertClose(gelu(tf.scalar(1), 'tanh'), [0.841192], 1e-5, 'gelu_tanh(1)');
      assertClose(glu(tf.tensor1d([2, -3]), tf.tensor1d([0, 100])), [1, -3], 1e-6, 'glu');
    });
  });

  it('softmaxCrossEntropy equals tf.losses.softmaxCrossEntropy with one-hot labels (value and gradient)', () => {
    tf.tidy(() => {
      const logits = randn([5, 7], 830, 3) as tf.Tensor2D;
      const labels = tf.tensor1d([0, 6, 3, 3, 1], 'int32');
      const onehot = tf.oneHot(labels, 7);
      assertClose(softmaxCrossEntropy(logits, labels), tf.losses.softmaxCrossEntropy(onehot, logits), 1e-6, 'value');
      assertClose(
        tf.grad((l: tf.Tensor) => softmaxCrossEntropy(l as tf.Tensor2D, labels))(logits),
        tf.grad((l: tf.Tensor) => tf.losses.softmaxCrossEntropy(onehot, l))(logits),
        1e-5,
        'grad',
      );
      // Weighted mean over the real rows only; all-zero weights give 0, not NaN.
      const w = tf.tensor1d([1, 0, 1, 0, 0]);
      const rows = tf.losses.softmaxCrossEntropy(onehot, logits, undefined, undefined, tf.Reduction.NONE).dataSync();
      assertClose(softmaxCrossEntropy(logits, labels, w), [(rows[0]! + rows[2]!) / 2], 1e-6, 'weighted');
      assert.equal(softmaxCrossEntropy(logits, labels, tf.zeros([5]) as tf.Tensor1D).dataSync()[0], 0);
    });
  });
});

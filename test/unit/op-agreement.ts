/**
 * Shared by ops-wasm.test.ts and ops-webgpu.test.ts: every op's forward value and gradients (w.r.t. every float32
 * input, contracted with a fixed dy) computed on cpu and on another backend, compared as the max abs difference
 * relative to the largest magnitude on cpu. cpu's gradients are proven by finite differences in
 * ops-gradcheck.test.ts; the other backends are held to cpu's. Reads are asynchronous (`await t.data()`), since
 * webgpu has no synchronous reads.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
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
  gluHalves,
  softmaxCrossEntropy,
  swish,
} from '../../src/core/ops';
import { expNonPositive } from '../../src/core/ops/custom';

/** The default tolerance: max |cpu − other| / max |cpu|. */
export const AGREEMENT_TOL = 1e-4;

/** Builds the inputs and the function; called once per backend, so the inputs are made on that backend. */
export type Make = () => { inputs: tf.Tensor[]; f: (...xs: tf.Tensor[]) => tf.Tensor };

export interface OpCase {
  name: string;
  make: Make;
}

/** The cases, grouped as one `it` each. */
export interface OpGroup {
  title: string;
  cases: OpCase[];
}

async function evaluate(make: Make): Promise<Float32Array[]> {
  const outs = tf.tidy(() => {
    const { inputs, f } = make();
    const value = f(...inputs);
    const dy = randn(value.shape, 999);
    const wrt = inputs.map((t, i) => (t.dtype === 'float32' ? i : -1)).filter((i) => i >= 0);
    const grads = tf.grads((...ws: tf.Tensor[]) => f(...inputs.map((t, j) => (wrt.includes(j) ? ws[wrt.indexOf(j)]! : t))))(
      wrt.map((i) => inputs[i]!),
      dy,
    );
    return [value, ...grads];
  });
  try {
    const read: Float32Array[] = [];
    for (const t of outs) read.push(Float32Array.from(await t.data()));
    return read;
  } finally {
    tf.dispose(outs);
  }
}

/**
 * Evaluates `make` on cpu and on `backend` (both already registered and initialised) and asserts that values and
 * gradients agree within `tol` and are finite on `backend`. Leaves `backend` active.
 */
export async function compareOnBackends(backend: string, name: string, make: Make, tol = AGREEMENT_TOL): Promise<void> {
  assert.ok(await tf.setBackend('cpu'), 'the cpu backend is available');
  const onCpu = await evaluate(make);
  assert.ok(await tf.setBackend(backend), `the ${backend} backend is available`);
  const onOther = await evaluate(make);
  assert.equal(onOther.length, onCpu.length);
  onCpu.forEach((c, i) => {
    const w = onOther[i]!;
    assert.equal(w.length, c.length);
    let diff = 0;
    let scale = 0;
    for (let j = 0; j < c.length; j++) {
      assert.ok(Number.isFinite(w[j]), `${name}: non-finite on ${backend}`);
      diff = Math.max(diff, Math.abs(c[j]! - w[j]!));
      scale = Math.max(scale, Math.abs(c[j]!));
    }
    const rel = diff / Math.max(scale, 1e-6);
    assert.ok(rel <= tol, `${name}: ${i === 0 ? 'value' : `gradient ${i}`} differs by ${rel.toExponential(2)} (cpu vs ${backend})`);
  });
}

/** Runs every case of a group on cpu and `backend`; `tolOf` may loosen a case (say why where it is set). */
export async function compareGroup(backend: string, group: OpGroup, tolOf: (name: string) => number = () => AGREEMENT_TOL): Promise<void> {
  for (const c of group.cases) await compareOnBackends(backend, c.name, c.make, tolOf(c.name));
}

const mask = (): tf.Tensor2D => tf.tensor2d(Array.from({ length: 32 }, (_, i) => (i % 16 < 16 - 3 * Math.floor(i / 16) ? 1 : 0)), [2, 16]);

/** Shapes are large enough that both operand orders of the explicit-transpose matMuls are exercised. */
export const OP_GROUPS: OpGroup[] = [
  {
    title: 'matMulTN / matMulNT, both operand orders',
    // [K, M]ᵀ·[K, N]: M small → transpose a; M large → transpose b and the result. Same for a·bᵀ.
    cases: [
      { name: 'matMulTN small M', make: () => ({ inputs: [randn([40, 3], 1), randn([40, 30], 2)], f: (a, b) => matMulTN(a as tf.Tensor2D, b as tf.Tensor2D) }) },
      { name: 'matMulTN large M', make: () => ({ inputs: [randn([40, 30], 3), randn([40, 3], 4)], f: (a, b) => matMulTN(a as tf.Tensor2D, b as tf.Tensor2D) }) },
      { name: 'matMulNT small N', make: () => ({ inputs: [randn([30, 40], 5), randn([3, 40], 6)], f: (a, b) => matMulNT(a as tf.Tensor2D, b as tf.Tensor2D) }) },
      { name: 'matMulNT large N', make: () => ({ inputs: [randn([3, 40], 7), randn([30, 40], 8)], f: (a, b) => matMulNT(a as tf.Tensor2D, b as tf.Tensor2D) }) },
    ],
  },
  {
    title: 'dense (with and without bias)',
    cases: [
      {
        name: 'dense',
        make: () => ({ inputs: [randn([4, 16, 32], 10), randn([32, 24], 11, 0.2), randn([24], 12)], f: (x, w, b) => dense(x!, w as tf.Tensor2D, b as tf.Tensor1D) }),
      },
      { name: 'dense no bias', make: () => ({ inputs: [randn([64, 8], 13), randn([8, 40], 14)], f: (x, w) => dense(x!, w as tf.Tensor2D) }) },
    ],
  },
  {
    title: 'groupedDense',
    cases: [
      {
        name: 'groupedDense',
        make: () => ({
          inputs: [randn([2, 8, 32], 20), randn([4, 8, 4], 21, 0.3), randn([16], 22)],
          f: (x, w, b) => groupedDense(x!, w as tf.Tensor3D, b as tf.Tensor1D),
        }),
      },
    ],
  },
  ...(
    [
      ['same', 7],
      ['causal', 4],
    ] as const
  ).map(([padding, K]) => ({
    title: `groupedConv1d ${padding} k${K}`,
    cases: [
      {
        name: `groupedConv1d ${padding}`,
        make: (() => ({
          inputs: [randn([2, 16, 32], 30 + K), randn([4, K * 8, 8], 40 + K, 0.2)],
          f: (x, w) => groupedConv1d(x as tf.Tensor3D, w as tf.Tensor3D, { kernelSize: K, channelsPerGroup: 8, padding }),
        })) as Make,
      },
    ],
  })),
  {
    title: 'attention (masked, 4 heads) and its probabilities',
    cases: [
      {
        name: 'attention',
        make: () => ({
          inputs: [randn([2, 16, 32], 50), randn([2, 16, 32], 51), randn([2, 16, 32], 52), mask()],
          f: (q, k, v, m) => attention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, m!, 4),
        }),
      },
      {
        // Attention dropout's scaled keep mask (rate 0.25: 0 or 4/3), a fixed pattern made inside the op's function.
        name: 'attention with a dropout keep mask',
        make: () => ({
          inputs: [randn([2, 16, 32], 54), randn([2, 16, 32], 55), randn([2, 16, 32], 56), mask()],
          f: (q, k, v, m) => {
            const keep = tf.tensor4d(Float32Array.from({ length: 2 * 4 * 16 * 16 }, (_, i) => ((i * 7919) % 4 === 0 ? 0 : 4 / 3)), [2, 4, 16, 16]);
            return attention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, m!, 4, { keep }) as tf.Tensor3D;
          },
        }),
      },
      {
        name: 'attention probs',
        make: () => ({
          inputs: [randn([2, 16, 32], 53), mask()],
          f: (q, m) => attention(q as tf.Tensor3D, q as tf.Tensor3D, q as tf.Tensor3D, m!, 4, { returnProbs: true }).context,
        }),
      },
    ],
  },
  {
    title: 'gatherRows, layerNorm, gelu, swish, gluHalves, softmaxCrossEntropy',
    cases: [
      { name: 'gatherRows', make: () => ({ inputs: [randn([50, 16], 60), tf.tensor1d([3, 3, 49, 0, 7, 3], 'int32')], f: (t, i) => gatherRows(t as tf.Tensor2D, i!) }) },
      {
        name: 'layerNorm',
        make: () => ({ inputs: [randn([4, 8, 32], 61, 2), randn([32], 62), randn([32], 63)], f: (x, g, b) => layerNorm(x!, g as tf.Tensor1D, b as tf.Tensor1D) }),
      },
      { name: 'gelu', make: () => ({ inputs: [randn([16, 32], 64, 2)], f: (x) => gelu(x!) }) },
      { name: 'gelu tanh', make: () => ({ inputs: [randn([16, 32], 65, 2)], f: (x) => gelu(x!, 'tanh') }) },
      { name: 'swish', make: () => ({ inputs: [randn([16, 32], 66, 2)], f: (x) => swish(x!) }) },
      { name: 'swish, odd size', make: () => ({ inputs: [randn([7, 13], 68, 3)], f: (x) => swish(x!) }) },
      // GLU over the halves of one tensor (the conv module's value|gate product): fused where the backend has it
      { name: 'gluHalves', make: () => ({ inputs: [randn([2, 9, 2 * 24], 69, 2)], f: (y) => gluHalves(y!) }) },
      {
        name: 'softmaxCrossEntropy',
        make: () => ({
          inputs: [randn([12, 50], 67, 2), tf.tensor1d([0, 1, 2, 3, 4, 49, 48, 47, 46, 45, 10, 10], 'int32')],
          f: (l, y) => softmaxCrossEntropy(l as tf.Tensor2D, y as tf.Tensor1D),
        }),
      },
    ],
  },
];

/**
 * expNonPositive equals e^z for z ≤ 0 (0 … −100) on the active backend (σ(z)/σ(−z) where Exp is declared slow,
 * tf.exp elsewhere), within `relTol(z)` relative: 1e-6 unless the caller says otherwise.
 */
export async function checkExpNonPositive(relTol: (z: number) => number = () => 1e-6): Promise<void> {
  const zs = Array.from({ length: 2001 }, (_, i) => -i * 0.05); // 0 … −100
  const out = tf.tidy(() => expNonPositive(tf.tensor1d(zs)));
  const got = await out.data();
  out.dispose();
  zs.forEach((z, i) => {
    const want = Math.exp(Math.fround(z)); // of the float32 z the op sees
    const err = Math.abs(got[i]! - want);
    // Results below float32's smallest normal (1.18e-38, z < −87.3) may flush to 0.
    assert.ok(err <= relTol(z) * want + 1.2e-38, `e^${z} on ${tf.getBackend()}: ${got[i]} vs ${want}`);
  });
}

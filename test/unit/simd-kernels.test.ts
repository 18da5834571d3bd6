/**
 * The wasm SIMD kernels (src/engines/tfjs/backends/wasm/simd): the generated module matches kernels.wat; Φ and the GELU
 * derivative against a float64 reference written here (series and continued fraction for erfc); the fused GELU,
 * LayerNorm, im2col (grouped conv) and AdamW against the stock paths (values and gradients), with a profile proving
 * the fused kernels ran; the SIMD transposes against an index-by-index reference over shapes with and without
 * remainders of 4; the SIMD row sums against a float64 sum.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { FUSED_KERNELS, fusedKernelsAvailable, loadBackend, setSimdKernelsEnabled } from '../../src/engines/tfjs/backends';
import { gelu, groupedConv1d, layerNorm, randn } from '../../src/core/ops';
import { Optimizer } from '../../src/core/train/optimizer';
import { GENERATED_PATH, renderGenerated } from '../../scripts/wasm-assemble';

/** erfc in float64 for a ≥ 0: 1 − (Maclaurin series of erf) below 3, Lentz's continued fraction above (~1e-13 here). */
function erfc64(a: number): number {
  if (a < 3) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-a * a) / n;
      sum += term / (2 * n + 1);
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(a) = e^(−a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + …))))
  let f = a;
  let C = a;
  let D = 0;
  for (let n = 1; n < 300; n++) {
    D = 1 / (a + (n / 2) * D);
    C = a + n / 2 / C;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
}

/** Φ(x) in float64, through erfc on both sides so the lower tail keeps its relative precision. */
const phi64 = (x: number) => (x < 0 ? 0.5 * erfc64(-x / Math.SQRT2) : 1 - 0.5 * erfc64(x / Math.SQRT2));

function values(t: tf.Tensor): Float32Array {
  return Float32Array.from(t.dataSync());
}

/** max |a − b| / max(1, |b|) over the elements. */
function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return worst;
}

/** Value and the gradient of Σ value·dy with respect to each input, with the fused kernels on or off. */
function valueAndGrads(on: boolean, f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], seed: number): Float32Array[] {
  setSimdKernelsEnabled(on);
  try {
    let out: Float32Array[] = [];
    tf.tidy(() => {
      const dy = randn(f(...inputs).shape, seed);
      const g = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), dy)));
      const grads = g(inputs);
      out = [values(f(...inputs)), ...grads.map(values)];
    });
    return out;
  } finally {
    setSimdKernelsEnabled(true);
  }
}

async function kernelNames(fn: () => tf.Tensor): Promise<string[]> {
  const info = await tf.profile(fn);
  return info.kernels.map((k) => k.name);
}

before(async () => {
  await loadBackend('wasm', { threads: 1, strict: true });
});

after(() => setSimdKernelsEnabled(true));

describe('wasm SIMD kernels', () => {
  it('kernels.generated.ts is what kernels.wat assembles to (run npm run generate:wasm after editing the .wat)', async () => {
    assert.equal(readFileSync(GENERATED_PATH, 'utf8'), await renderGenerated());
  });

  it('are available on wasm for sizes that are a multiple of 4, and only there', async () => {
    assert.equal(fusedKernelsAvailable(1024), true);
    assert.equal(fusedKernelsAvailable(1022), false);
    setSimdKernelsEnabled(false);
    assert.equal(fusedKernelsAvailable(1024), false);
    setSimdKernelsEnabled(true);
    await tf.setBackend('cpu');
    assert.equal(fusedKernelsAvailable(1024), false);
    await tf.setBackend('wasm');
  });

  // The GELU kernels take 16 floats per pass (their polynomials written out four times) and the last n mod 16 four at a
  // time through $phi4 / $exp4: each grid is checked whole (mostly the 16-float path) and as 12 spread samples (n < 16,
  // so only the 4-float path), so both copies of each polynomial are checked over the whole range.
  const spread = (xs: number[]) => Array.from({ length: 12 }, (_, i) => xs[Math.round((i * (xs.length - 1)) / 11)]!);

  function geluWorst(xs: number[]): number {
    const x = tf.tensor1d(xs);
    const [y, cdf] = tf.engine().runKernel(FUSED_KERNELS.gelu, { x }) as tf.Tensor[];
    const yv = values(y!);
    const cv = values(cdf!);
    let worst = 0;
    for (let i = 0; i < xs.length; i++) {
      const x64 = Math.fround(xs[i]!);
      const ref = phi64(x64);
      worst = Math.max(worst, Math.abs(cv[i]! - ref), Math.abs(yv[i]! - x64 * ref) / Math.max(1, Math.abs(x64)));
    }
    tf.dispose([x, y!, cdf!]);
    return worst;
  }

  function geluGradWorst(xs: number[]): number {
    const x = tf.tensor1d(xs);
    const dy = tf.onesLike(x);
    const [y, cdf] = tf.engine().runKernel(FUSED_KERNELS.gelu, { x }) as tf.Tensor[];
    const dxT = tf.engine().runKernel(FUSED_KERNELS.geluGrad, { dy, x, cdf: cdf! }) as tf.Tensor;
    const dx = values(dxT);
    let worst = 0;
    for (let i = 0; i < xs.length; i++) {
      const v = Math.fround(xs[i]!);
      const ref = phi64(v) + (v * Math.exp(-v * v / 2)) / Math.sqrt(2 * Math.PI);
      worst = Math.max(worst, Math.abs(dx[i]! - ref));
    }
    tf.dispose([x, dy, y!, cdf!, dxT]);
    return worst;
  }

  it('GELU: Φ(x) and x·Φ(x) within 3e-7 of a float64 reference over [−12, 12] (x·Φ relative to max(1, |x|))', () => {
    const grid = Array.from({ length: 24_004 }, (_, i) => -12 + i * 0.001);
    for (const xs of [grid, spread(grid)]) {
      const worst = geluWorst(xs);
      assert.ok(worst < 3e-7, `${xs.length} values: max |Φ − ref| = ${worst}`);
    }
  });

  it('GELU gradient: Φ(x) + x·φ(x) within 3e-7 of the float64 derivative', () => {
    const grid = Array.from({ length: 8012 }, (_, i) => -10 + i * 0.0025);
    for (const xs of [grid, spread(grid)]) {
      const worst = geluGradWorst(xs);
      assert.ok(worst < 3e-7, `${xs.length} values: max error ${worst}`);
    }
  });

  const cases: { name: string; kernel: string; f: (...xs: tf.Tensor[]) => tf.Tensor; inputs: () => tf.Tensor[]; tol: number }[] = [
    { name: 'gelu', kernel: FUSED_KERNELS.gelu, f: (x) => gelu(x!), inputs: () => [randn([4, 32, 96], 1, 2)], tol: 1e-6 },
    {
      name: 'layerNorm',
      kernel: FUSED_KERNELS.layerNorm,
      f: (x, g, b) => layerNorm(x!, g as tf.Tensor1D, b as tf.Tensor1D, 1e-3),
      inputs: () => [tf.add(randn([3, 40, 64], 3, 2), 1.5), tf.add(randn([64], 4, 0.3), 1), randn([64], 5, 0.3)],
      tol: 2e-5,
    },
    {
      name: 'groupedConv1d (im2col)',
      kernel: FUSED_KERNELS.im2col,
      f: (x, w) => groupedConv1d(x as tf.Tensor3D, w as tf.Tensor3D, { kernelSize: 5, channelsPerGroup: 16, padding: 'same' }),
      inputs: () => [randn([2, 12, 32], 7), randn([2, 80, 16], 8, 0.2)],
      tol: 1e-6,
    },
    {
      name: 'groupedConv1d causal, 6 channels per group (memory.copy runs)',
      kernel: FUSED_KERNELS.im2col,
      f: (x, w) => groupedConv1d(x as tf.Tensor3D, w as tf.Tensor3D, { kernelSize: 4, channelsPerGroup: 6, padding: 'causal', saveIm2col: true }),
      inputs: () => [randn([3, 9, 12], 9), randn([2, 24, 6], 10, 0.2)],
      tol: 1e-6,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: fused values and gradients match the stock composition (and the fused kernel ran)`, async () => {
      const inputs = c.inputs();
      const fused = valueAndGrads(true, c.f, inputs, 11);
      const stock = valueAndGrads(false, c.f, inputs, 11);
      assert.equal(fused.length, inputs.length + 1);
      fused.forEach((v, i) => {
        const d = maxRelDiff(v, stock[i]!);
        assert.ok(d < c.tol, `${c.name} output ${i}: max relative difference ${d}`);
      });
      const names = await kernelNames(() => c.f(...inputs));
      assert.ok(names.includes(c.kernel), `expected ${c.kernel} in ${[...new Set(names)].join(', ')}`);
      setSimdKernelsEnabled(false);
      const stockNames = await kernelNames(() => c.f(...inputs));
      setSimdKernelsEnabled(true);
      assert.ok(!stockNames.includes(c.kernel));
      tf.dispose(inputs);
    });
  }

  it('layerNorm keeps the stock path for rows that are not a multiple of 4 and agrees with it', async () => {
    const x = randn([5, 6], 6);
    const names = await kernelNames(() => layerNorm(x, tf.ones([6]) as tf.Tensor1D, tf.zeros([6]) as tf.Tensor1D));
    assert.ok(!names.includes(FUSED_KERNELS.layerNorm));
    x.dispose();
  });

  it('transposes: batches of matrices and leading-axis swaps equal an index-by-index reference', () => {
    const shapes: { shape: number[]; perm: number[]; dtype: 'float32' | 'int32' }[] = [
      { shape: [4, 4], perm: [1, 0], dtype: 'float32' },
      { shape: [5, 7], perm: [1, 0], dtype: 'float32' },
      { shape: [1, 9], perm: [1, 0], dtype: 'float32' },
      { shape: [9, 1], perm: [1, 0], dtype: 'int32' },
      { shape: [130, 67], perm: [1, 0], dtype: 'float32' },
      { shape: [3, 13, 6], perm: [0, 2, 1], dtype: 'float32' },
      { shape: [2, 3, 13, 6], perm: [0, 1, 3, 2], dtype: 'int32' },
      { shape: [6, 5, 3], perm: [1, 0, 2], dtype: 'float32' },
      { shape: [7, 3, 2, 4], perm: [1, 0, 2, 3], dtype: 'float32' },
      { shape: [7, 3], perm: [1, 0], dtype: 'int32' },
    ];
    for (const { shape, perm, dtype } of shapes) {
      const n = tf.util.sizeFromShape(shape);
      const src = Array.from({ length: n }, (_, i) => (dtype === 'int32' ? i * 3 - 7 : i * 0.25 - 9));
      const x = tf.tensor(src, shape, dtype);
      const y = tf.transpose(x, perm);
      const got = Array.from(y.dataSync());
      const outShape = perm.map((p) => shape[p]!);
      const inStrides = tf.util.computeStrides(shape);
      const outStrides = tf.util.computeStrides(outShape);
      for (let o = 0; o < n; o++) {
        let rem = o;
        let srcIndex = 0;
        for (let d = 0; d < outShape.length; d++) {
          const stride = d < outShape.length - 1 ? outStrides[d]! : 1;
          const coord = Math.floor(rem / stride);
          rem -= coord * stride;
          const inAxis = perm[d]!;
          srcIndex += coord * (inAxis < shape.length - 1 ? inStrides[inAxis]! : 1);
        }
        if (got[o] !== src[srcIndex]) assert.fail(`[${shape}] perm [${perm}]: out[${o}] = ${got[o]}, want ${src[srcIndex]}`);
      }
      tf.dispose([x, y]);
    }
  });

  it('Sum over leading axes (sum_rows) is within 1e-6 of a float64 sum, remainder rows included', () => {
    for (const [rows, cols] of [[1027, 256], [3, 8], [1, 4]] as const) {
      const x = randn([rows, cols], rows);
      const xv = x.dataSync();
      const got = tf.sum(x, 0).dataSync();
      for (let j = 0; j < cols; j++) {
        let ref = 0;
        let mag = 0;
        for (let r = 0; r < rows; r++) {
          ref += xv[r * cols + j]!;
          mag += Math.abs(xv[r * cols + j]!);
        }
        assert.ok(Math.abs(got[j]! - ref) <= 1e-6 * Math.max(1, mag), `[${rows}, ${cols}] column ${j}: ${got[j]} vs ${ref}`);
      }
      x.dispose();
    }
  });

  it('the fused AdamW update equals the stock one over 3 steps (decay on and off, clipping, bias correction)', async () => {
    const ran: string[] = [];
    const run = async (fused: boolean) => {
      setSimdKernelsEnabled(fused);
      const vars = new Map([
        ['layer/dense/kernel', tf.variable(randn([16, 8], 1))],
        ['layer/dense/bias', tf.variable(randn([8], 2))],
        ['odd/kernel', tf.variable(randn([3], 3))], // not a multiple of 4: stock path either way
      ]);
      const opt = new Optimizer(vars, { type: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: 1e-6, biasCorrection: true, weightDecay: 0.01, gradientClipNorm: 1 });
      for (let step = 0; step < 3; step++) {
        const grads = new Map([...vars].map(([name, v], i) => [name, randn(v.shape, 10 + step * 5 + i, 2)] as const));
        const info = await tf.profile(() => void opt.applyGradients(grads, 1e-2));
        if (fused) ran.push(...info.kernels.map((k) => k.name));
        tf.dispose([...grads.values()]);
      }
      const out = [...vars.values()].map(values);
      opt.dispose();
      tf.dispose([...vars.values()]);
      setSimdKernelsEnabled(true);
      return out;
    };
    const fused = await run(true);
    const stock = await run(false);
    assert.equal(ran.filter((k) => k === FUSED_KERNELS.adamw).length, 6, 'two variables × three steps through the fused kernel');
    fused.forEach((f, i) => assert.ok(maxRelDiff(f, stock[i]!) < 1e-6, `variable ${i}: ${maxRelDiff(f, stock[i]!)}`));
    // The update moved the weights (the comparison is not between two untouched copies).
    assert.ok(maxRelDiff(fused[0]!, values(randn([16, 8], 1))) > 1e-3);
  });
});

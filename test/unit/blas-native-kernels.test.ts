/**
 * The blas addon's own kernels (native/fused.c, elementwise.c, random.c) against independent references, first
 * without TF.js: on one WebAssembly.Memory the wasm SIMD module (kernels.wat) and the addon run the same inputs, and
 * they must agree on the sizes the module takes (multiples of 4); odd sizes, and the kernels the module does not
 * have, against plain-JS loops. Then thread invariance (1 vs 2 kernel threads), the bounds checks, planBinary, and
 * the TF.js stock kernels the addon replaces (vs the cpu backend; what goes native, what goes to the stock kernel,
 * and plain wasm putting the stock ones back). Skipped with the reason printed where the addon cannot be built.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { loadBackend } from '../../src/engines/tfjs/backends';
import type { BlasAddon } from '../../src/engines/tfjs/backends/blas/addon';
import { blasKernelCalls, blasKernelsInstalled, planBinary, PATTERN, UNARY_OPS } from '../../src/engines/tfjs/backends/blas/kernels';
import { KERNELS_WASM } from '../../src/engines/tfjs/backends/wasm/simd/kernels.generated';
import type { SimdKernels } from '../../src/engines/tfjs/backends/wasm/simd';
import { fillKeepMask, keepThreshold } from '../../src/core/rng';
import { assertClose, assertEach, assertSame, loadAddonForTests, loadBlasForTests, NativeTestHeap, randArray, WA } from './native-heap';

let skip: string | false = false;
let addon: BlasAddon;
let wat: SimdKernels;
// one heap for both: the wat module imports its memory, the addon takes its bytes
const mem = new NativeTestHeap(64);
const { heap, f32, alloc, reset, put, get } = mem;

before(async () => {
  const found = await loadAddonForTests();
  if (typeof found === 'string') skip = found;
  else {
    addon = found.addon;
    wat = new WA.Instance(new WA.Module(Buffer.from(KERNELS_WASM.plain, 'base64')), { env: { memory: mem.memory } }).exports as unknown as SimdKernels;
  }
});

// ---- float64 references ----
/** erf by its everywhere-positive series e^(−z²)·Σ 2ⁿz^(2n+1)/(1·3·…·(2n+1)) (no cancellation), ±1 far out. */
function erf(z: number): number {
  const a = Math.abs(z);
  if (a > 6) return Math.sign(z);
  let term = a;
  let sum = a;
  for (let n = 1; n < 400 && term > 1e-17 * sum; n++) {
    term *= (2 * a * a) / (2 * n + 1);
    sum += term;
  }
  return Math.sign(z) * Math.min(1, (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum);
}
const Phi = (x: number) => 0.5 + 0.5 * erf(x / Math.SQRT2);

function layernormRef(x: Float32Array, gamma: Float32Array, beta: Float32Array, rows: number, h: number, eps: number) {
  const y = new Float32Array(rows * h);
  const mean = new Float32Array(rows);
  const rstd = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let j = 0; j < h; j++) m += x[r * h + j]!;
    m /= h;
    let v = 0;
    for (let j = 0; j < h; j++) v += (x[r * h + j]! - m) ** 2;
    const rs = 1 / Math.sqrt(v / h + eps);
    for (let j = 0; j < h; j++) y[r * h + j] = (x[r * h + j]! - m) * rs * gamma[j]! + beta[j]!;
    mean[r] = m;
    rstd[r] = rs;
  }
  return { y, mean, rstd };
}

function layernormGradRef(dy: Float32Array, x: Float32Array, gamma: Float32Array, mean: Float32Array, rstd: Float32Array, rows: number, h: number) {
  const dx = new Float32Array(rows * h);
  const dg = new Float64Array(h);
  const db = new Float64Array(h);
  for (let r = 0; r < rows; r++) {
    let sg = 0;
    let sgx = 0;
    for (let j = 0; j < h; j++) {
      const xh = (x[r * h + j]! - mean[r]!) * rstd[r]!;
      const g = dy[r * h + j]! * gamma[j]!;
      sg += g;
      sgx += g * xh;
      dg[j]! += dy[r * h + j]! * xh;
      db[j]! += dy[r * h + j]!;
    }
    for (let j = 0; j < h; j++) {
      const xh = (x[r * h + j]! - mean[r]!) * rstd[r]!;
      dx[r * h + j] = rstd[r]! * (dy[r * h + j]! * gamma[j]! - sg / h - (xh * sgx) / h);
    }
  }
  return { dx, dgamma: Float32Array.from(dg), dbeta: Float32Array.from(db) };
}

const ADAM = { lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-6, c1: 0.271, c2: 0.00299, decay: 0.01, scale: 0.7 };

/** Runs a kernel on inputs placed on the heap; returns the outputs read back. */
function layernormRun(k: 'addon' | 'wat', x: Float32Array, gamma: Float32Array, beta: Float32Array, rows: number, h: number, eps: number) {
  const px = put(x), pg = put(gamma), pb = put(beta), py = alloc(rows * h), pm = alloc(rows), pr = alloc(rows);
  if (k === 'addon') addon.layernorm(heap, px, pg, pb, py, pm, pr, rows, h, eps);
  else wat.layernorm(px, pg, pb, py, pm, pr, rows, h, eps);
  return { y: get(py, rows * h), mean: get(pm, rows), rstd: get(pr, rows) };
}

function layernormGradRun(k: 'addon' | 'wat', dy: Float32Array, x: Float32Array, gamma: Float32Array, mean: Float32Array, rstd: Float32Array, rows: number, h: number) {
  const pdy = put(dy), px = put(x), pg = put(gamma), pm = put(mean), pr = put(rstd), pdx = alloc(rows * h), pdg = alloc(h), pdb = alloc(h);
  if (k === 'addon') addon.layernorm_grad(heap, pdy, px, pg, pm, pr, pdx, pdg, pdb, rows, h);
  else wat.layernorm_grad(pdy, px, pg, pm, pr, pdx, pdg, pdb, rows, h);
  return { dx: get(pdx, rows * h), dgamma: get(pdg, h), dbeta: get(pdb, h) };
}

/** A layernorm and its gradient to hold the addon's to: the wat module's, or the plain-JS loops. */
interface LayernormPair {
  fwd: typeof layernormRef;
  grad: typeof layernormGradRef;
}
const WAT_LAYERNORM: LayernormPair = { fwd: (...a) => layernormRun('wat', ...a), grad: (...a) => layernormGradRun('wat', ...a) };
const JS_LAYERNORM: LayernormPair = { fwd: layernormRef, grad: layernormGradRef };

/**
 * On a reset heap, the addon's layernorm (eps 1e-5), then its layernorm_grad at the reference's mean and rstd, against
 * `ref` (rstd held by `rstdCheck`); inputs from randArray with these seeds: x (0.5 ± 3), gamma (1 ± 1), beta (±0.5), dy.
 */
function layernormVs(ref: LayernormPair, rows: number, h: number, seeds: [number, number, number, number], rstdCheck: typeof assertClose) {
  reset();
  const x = randArray(rows * h, seeds[0], 3, 0.5);
  const gamma = randArray(h, seeds[1], 1, 1);
  const beta = randArray(h, seeds[2], 0.5);
  const dy = randArray(rows * h, seeds[3], 1);
  const got = layernormRun('addon', x, gamma, beta, rows, h, 1e-5);
  const want = ref.fwd(x, gamma, beta, rows, h, 1e-5);
  assertClose(got.y, want.y, `layernorm y ${rows}×${h}`, 1e-5);
  assertClose(got.mean, want.mean, `layernorm mean ${rows}×${h}`, 1e-5);
  rstdCheck(got.rstd, want.rstd, `layernorm rstd ${rows}×${h}`, 1e-5);
  const gg = layernormGradRun('addon', dy, x, gamma, want.mean, want.rstd, rows, h);
  const gw = ref.grad(dy, x, gamma, want.mean, want.rstd, rows, h);
  assertClose(gg.dx, gw.dx, `layernorm_grad dx ${rows}×${h}`, 1e-5);
  assertClose(gg.dgamma, gw.dgamma, `layernorm_grad dgamma ${rows}×${h}`, 1e-5);
  assertClose(gg.dbeta, gw.dbeta, `layernorm_grad dbeta ${rows}×${h}`, 1e-5);
}

function adamwRun(k: 'addon' | 'wat', w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array) {
  const n = w.length;
  const pw = put(w), pg = put(g), pm = put(m), pv = put(v), pw2 = alloc(n), pm2 = alloc(n), pv2 = alloc(n);
  const { lr, b1, b2, eps, c1, c2, decay, scale } = ADAM;
  if (k === 'addon') addon.adamw(heap, pw, pg, pm, pv, pw2, pm2, pv2, n, lr, b1, b2, eps, c1, c2, decay, scale);
  else wat.adamw(pw, pg, pm, pv, pw2, pm2, pv2, n, lr, b1, b2, eps, c1, c2, decay, scale);
  return { w: get(pw2, n), m: get(pm2, n), v: get(pv2, n) };
}

function adamInputs(n: number, seed: number) {
  const v = randArray(n, seed + 3, 0.5, 0.5).map((x) => x * x * 0.01);
  return { w: randArray(n, seed), g: randArray(n, seed + 1, 2), m: randArray(n, seed + 2, 0.1), v };
}

describe('native fused kernels = the wasm SIMD module (sizes multiples of 4)', () => {
  it('gelu and gelu_grad', (t) => {
    if (skip) return t.skip(skip);
    for (const n of [4, 64, 20000]) {
      reset();
      const x = randArray(n, n, 5);
      const px = put(x);
      const [y1, c1, y2, c2] = [alloc(n), alloc(n), alloc(n), alloc(n)];
      addon.gelu(heap, px, y1, c1, n);
      wat.gelu(px, y2, c2, n);
      assertClose(get(y1, n), get(y2, n), `gelu y n=${n}`, 1e-6);
      assertClose(get(c1, n), get(c2, n), `gelu cdf n=${n}`, 1e-6);
      const pdy = put(randArray(n, n + 1, 2));
      const [d1, d2] = [alloc(n), alloc(n)];
      addon.gelu_grad(heap, pdy, px, c2, d1, n);
      wat.gelu_grad(pdy, px, c2, d2, n);
      assertClose(get(d1, n), get(d2, n), `gelu_grad n=${n}`, 1e-6);
    }
  });

  it('layernorm and layernorm_grad', (t) => {
    if (skip) return t.skip(skip);
    for (const [rows, h] of [[1, 4], [7, 64], [300, 256]] as const) layernormVs(WAT_LAYERNORM, rows, h, [h, 2, 3, 9], assertClose);
  });

  it('transpose, swap_leading, swap_leading_batch (vs a loop of swap_leading), copy_rows: bit-identical', (t) => {
    if (skip) return t.skip(skip);
    /** On a reset heap, the addon's and the wat module's kernel on randArray(n, n) (n = the dims' product): bit-identical. */
    const vsWat = (kernel: 'transpose' | 'swap_leading', dims: readonly [number, number, number]) => {
      reset();
      const n = dims[0] * dims[1] * dims[2];
      const src = put(randArray(n, n));
      const [d1, d2] = [alloc(n), alloc(n)];
      addon[kernel](heap, src, d1, ...dims);
      wat[kernel](src, d2, ...dims);
      assertSame(get(d1, n), get(d2, n), `${kernel} ${dims.join('×')}`);
    };
    for (const dims of [[1, 4, 4], [3, 36, 68], [2, 5, 7], [1, 129, 33]] as const) vsWat('transpose', dims);
    for (const [A, B, n] of [[1, 1, 4], [4, 8, 16], [12, 5, 64]] as const) {
      vsWat('swap_leading', [A, B, n]);
      const size = A * B * n;
      const batch = 3;
      const bsrc = put(randArray(batch * size, size + 1));
      const [b1, b2] = [alloc(batch * size), alloc(batch * size)];
      addon.swap_leading_batch(heap, bsrc, b1, batch, A, B, n);
      for (let m = 0; m < batch; m++) wat.swap_leading(bsrc + 4 * m * size, b2 + 4 * m * size, A, B, n);
      assertSame(get(b1, batch * size), get(b2, batch * size), `swap_leading_batch ${batch}×${A}×${B}×${n}`);
    }
    for (const [rows, ss, ds, run] of [[1, 64, 64, 64], [10, 256, 128, 96], [33, 32, 48, 32]] as const) {
      reset();
      const src = put(randArray((rows * ss) / 4, rows));
      const [d1, d2] = [alloc((rows * ds) / 4), alloc((rows * ds) / 4)];
      f32.fill(0, d1 / 4, d1 / 4 + (2 * rows * ds) / 4 + 4);
      addon.copy_rows(heap, src, ss, d1, ds, rows, run);
      wat.copy_rows(src, ss, d2, ds, rows, run);
      assertSame(get(d1, (rows * ds) / 4), get(d2, (rows * ds) / 4), `copy_rows ${rows} rows of ${run} bytes`);
    }
  });

  it('im2col (odd K, several `before`, every group)', (t) => {
    if (skip) return t.skip(skip);
    for (const [B, T, C, Cg, K, before] of [[2, 9, 32, 8, 5, 2], [1, 16, 16, 4, 3, 0], [3, 7, 24, 12, 7, 6], [2, 5, 8, 4, 9, 4]] as const) {
      reset();
      const x = put(randArray(B * T * C, T * C));
      const n = B * T * K * Cg;
      for (let g = 0; g < C / Cg; g++) {
        const [d1, d2] = [alloc(n), alloc(n)];
        addon.im2col(heap, x, d1, B, T, C, g, Cg, K, before);
        wat.im2col(x, d2, B, T, C, g, Cg, K, before);
        assertSame(get(d1, n), get(d2, n), `im2col B${B} T${T} C${C} g${g} Cg${Cg} K${K} before ${before}`);
      }
    }
  });

  it('sum_rows and adamw', (t) => {
    if (skip) return t.skip(skip);
    for (const [rows, cols] of [[1, 4], [5, 64], [1000, 260]] as const) {
      reset();
      const src = put(randArray(rows * cols, rows, 1));
      const [d1, d2] = [alloc(cols), alloc(cols)];
      addon.sum_rows(heap, src, d1, rows, cols);
      wat.sum_rows(src, d2, rows, cols);
      // summed in another order: within float rounding of Σ|x| per column (≈ rows/2 here)
      assertEach(get(d1, cols), get(d2, cols), `sum_rows ${rows}×${cols}`, 0, 1e-6 * rows);
    }
    for (const n of [4, 100, 40000]) {
      reset();
      const { w, g, m, v } = adamInputs(n, n);
      const a = adamwRun('addon', w, g, m, v);
      const b = adamwRun('wat', w, g, m, v);
      assertClose(a.w, b.w, `adamw w n=${n}`, 1e-6);
      assertClose(a.m, b.m, `adamw m n=${n}`, 1e-6);
      assertClose(a.v, b.v, `adamw v n=${n}`, 1e-6);
    }
  });
});

describe('native fused kernels = plain-JS loops (odd sizes)', () => {
  const ODD = [1, 3, 17, 1001];
  it('gelu and gelu_grad', (t) => {
    if (skip) return t.skip(skip);
    for (const n of [...ODD, 20001]) {
      reset();
      const x = randArray(n, n, 5);
      const px = put(x);
      const [py, pc] = [alloc(n), alloc(n)];
      addon.gelu(heap, px, py, pc, n);
      const cdf = x.map(Phi);
      assertEach(get(pc, n), cdf, `gelu cdf n=${n}`, 0, 1e-6);
      assertEach(get(py, n), x.map((v, i) => v * cdf[i]!), `gelu y n=${n}`, 1e-6, 5e-6);
      const dy = randArray(n, n + 7, 2);
      const pdy = put(dy);
      const pcdf = put(cdf);
      const pdx = alloc(n);
      addon.gelu_grad(heap, pdy, px, pcdf, pdx, n);
      const want = x.map((v, i) => dy[i]! * (cdf[i]! + (v * Math.exp((-v * v) / 2)) / Math.sqrt(2 * Math.PI)));
      assertEach(get(pdx, n), want, `gelu_grad n=${n}`, 2e-6, 1e-7);
    }
  });

  it('layernorm and layernorm_grad (h = 5, 33, 1001)', (t) => {
    if (skip) return t.skip(skip);
    for (const [rows, h] of [[1, 5], [3, 5], [17, 33], [70, 33], [3, 1001]] as const) layernormVs(JS_LAYERNORM, rows, h, [rows * h, 4, 5, 11], assertEach);
  });

  it('transpose, swap_leading(_batch), copy_rows, im2col (Cg = 3): exact', (t) => {
    if (skip) return t.skip(skip);
    for (const [batch, rows, cols] of [[1, 1, 1], [1, 3, 17], [2, 33, 5], [1, 1001, 3]] as const) {
      reset();
      const n = batch * rows * cols;
      const x = randArray(n, n);
      const src = put(x);
      const dst = alloc(n);
      addon.transpose(heap, src, dst, batch, rows, cols);
      const want = new Float32Array(n);
      for (let b = 0; b < batch; b++) for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) want[b * rows * cols + c * rows + r] = x[b * rows * cols + r * cols + c]!;
      assertSame(get(dst, n), want, `transpose ${batch}×${rows}×${cols}`);
    }
    for (const [M, A, B, n] of [[1, 1, 1, 1], [1, 3, 5, 17], [3, 5, 3, 1], [2, 7, 3, 1001]] as const) {
      reset();
      const size = M * A * B * n;
      const x = randArray(size, size);
      const src = put(x);
      const dst = alloc(size);
      if (M === 1) addon.swap_leading(heap, src, dst, A, B, n);
      else addon.swap_leading_batch(heap, src, dst, M, A, B, n);
      const want = new Float32Array(size);
      for (let m = 0; m < M; m++)
        for (let a = 0; a < A; a++) for (let b = 0; b < B; b++) for (let j = 0; j < n; j++) want[((m * B + b) * A + a) * n + j] = x[((m * A + a) * B + b) * n + j]!;
      assertSame(get(dst, size), want, `swap_leading ${M}×${A}×${B}×${n}`);
    }
    for (const [rows, ss, ds, run] of [[1, 4, 4, 4], [3, 12, 20, 12], [17, 68, 4004, 68], [5, 4004, 12, 4]] as const) {
      reset();
      const x = randArray((rows * ss) / 4, rows);
      const src = put(x);
      const dst = put(new Float32Array((rows * ds) / 4).fill(-1));
      addon.copy_rows(heap, src, ss, dst, ds, rows, run);
      const want = new Float32Array((rows * ds) / 4).fill(-1);
      for (let r = 0; r < rows; r++) for (let j = 0; j < run / 4; j++) want[(r * ds) / 4 + j] = x[(r * ss) / 4 + j]!;
      assertSame(get(dst, (rows * ds) / 4), want, `copy_rows ${rows} rows of ${run} bytes`);
    }
    for (const [B, T, C, Cg, K, before] of [[2, 5, 9, 3, 3, 1], [1, 17, 3, 3, 5, 4], [3, 1, 6, 3, 3, 1], [1, 4, 9, 3, 7, 0]] as const) {
      reset();
      const x = randArray(B * T * C, T);
      const px = put(x);
      const n = B * T * K * Cg;
      for (let g = 0; g < C / Cg; g++) {
        const dst = alloc(n);
        addon.im2col(heap, px, dst, B, T, C, g, Cg, K, before);
        const want = new Float32Array(n);
        for (let b = 0; b < B; b++)
          for (let t0 = 0; t0 < T; t0++)
            for (let k = 0; k < K; k++) {
              const s = t0 + k - before;
              for (let c = 0; c < Cg; c++) want[(b * T + t0) * K * Cg + k * Cg + c] = s >= 0 && s < T ? x[(b * T + s) * C + g * Cg + c]! : 0;
            }
        assertSame(get(dst, n), want, `im2col B${B} T${T} C${C} g${g} Cg${Cg} K${K} before ${before}`);
      }
    }
  });

  it('sum_rows and adamw', (t) => {
    if (skip) return t.skip(skip);
    for (const [rows, cols] of [[1, 1], [3, 3], [17, 17], [1001, 5], [3, 1001]] as const) {
      reset();
      const x = randArray(rows * cols, rows + cols);
      const src = put(x);
      const dst = alloc(cols);
      addon.sum_rows(heap, src, dst, rows, cols);
      const want = new Float32Array(cols);
      const want64 = new Float64Array(cols);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) want64[c]! += x[r * cols + c]!;
      want.set(want64);
      assertEach(get(dst, cols), want, `sum_rows ${rows}×${cols}`, 0, 1e-6 * rows);
    }
    for (const n of ODD) {
      reset();
      const { w, g, m, v } = adamInputs(n, n + 5);
      const got = adamwRun('addon', w, g, m, v);
      // the parameters arrive as float32 (and 1 − β in float32), as in both kernels
      const [lr, b1, b2, eps, c1, c2, decay, scale] = [ADAM.lr, ADAM.b1, ADAM.b2, ADAM.eps, ADAM.c1, ADAM.c2, ADAM.decay, ADAM.scale].map(Math.fround) as number[] as [number, number, number, number, number, number, number, number];
      const [nb1, nb2] = [Math.fround(1 - b1), Math.fround(1 - b2)];
      const W = new Float32Array(n), M = new Float32Array(n), V = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const gi = g[i]! * scale;
        M[i] = b1 * m[i]! + nb1 * gi;
        V[i] = b2 * v[i]! + nb2 * gi * gi;
        W[i] = w[i]! - lr * (M[i]! / c1 / (Math.sqrt(V[i]! / c2) + eps) + decay * w[i]!);
      }
      assertClose(got.m, M, `adamw m n=${n}`, 1e-6);
      assertClose(got.v, V, `adamw v n=${n}`, 1e-6);
      assertClose(got.w, W, `adamw w n=${n}`, 1e-6);
    }
  });
});

describe('native element-wise kernels = plain-JS loops', () => {
  const OPS = [(a: number, b: number) => a + b, (a: number, b: number) => a - b, (a: number, b: number) => a * b, (a: number, b: number) => a / b];
  const PATTERNS = [PATTERN.full, PATTERN.bias, PATTERN.row, PATTERN.scalar];
  const at = (p: number, o: number, i: number, inner: number) => (p === PATTERN.full ? o * inner + i : p === PATTERN.bias ? i : p === PATTERN.row ? o : 0);
  const extent = (p: number, outer: number, inner: number) => (p === PATTERN.full ? outer * inner : p === PATTERN.bias ? inner : p === PATTERN.row ? outer : 1);

  it('binary: add/sub/mul/div × every pattern for either operand, exactly rounded', (t) => {
    if (skip) return t.skip(skip);
    for (const [outer, inner] of [[1, 1], [3, 17], [17, 3], [1001, 33], [5, 8000]] as const) {
      for (let op = 0; op < 4; op++)
        for (const pa of PATTERNS)
          for (const pb of PATTERNS) {
            reset();
            const a = randArray(extent(pa, outer, inner), op + pa, 3);
            const b = randArray(extent(pb, outer, inner), 10 + op + pb, 2, op === 3 ? 3 : 0);
            const [xa, xb, out] = [put(a), put(b), alloc(outer * inner)];
            addon.binary(heap, op, xa, pa, xb, pb, out, outer, inner);
            const want = new Float32Array(outer * inner);
            for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) want[o * inner + i] = OPS[op]!(a[at(pa, o, i, inner)]!, b[at(pb, o, i, inner)]!);
            assertSame(get(out, outer * inner), want, `binary op ${op} ${outer}×${inner} patterns ${pa}/${pb}`);
          }
    }
  });

  it('unary: ops 0..8 (neg … log); exp saturates to 0 below −87.3 and to Infinity above 88.72', (t) => {
    if (skip) return t.skip(skip);
    assert.deepEqual(Object.values(UNARY_OPS), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const run = (op: number, x: Float32Array) => {
      reset();
      const px = put(x);
      const py = alloc(x.length);
      addon.unary(heap, op, px, py, x.length);
      return get(py, x.length);
    };
    for (const n of [1, 3, 17, 1001, 40001]) {
      const x = randArray(n, n, 8);
      const pos = randArray(n, n + 1, 50, 50.001).map(Math.abs);
      const f = (g: (v: number) => number, src: Float32Array) => Float32Array.from(src, g);
      assertSame(run(UNARY_OPS.Neg, x), f((v) => -v, x), `neg n=${n}`);
      assertSame(run(UNARY_OPS.Square, x), f((v) => v * v, x), `square n=${n}`);
      assertEach(run(UNARY_OPS.Sigmoid, x), f((v) => 1 / (1 + Math.exp(-v)), x), `sigmoid n=${n}`, 2e-6);
      assertEach(run(UNARY_OPS.Exp, x), f(Math.exp, x), `exp n=${n}`, 2e-6);
      assertSame(run(UNARY_OPS.Sqrt, pos), f(Math.sqrt, pos), `sqrt n=${n}`);
      assertEach(run(UNARY_OPS.Rsqrt, pos), f((v) => 1 / Math.sqrt(v), pos), `rsqrt n=${n}`, 2e-7);
      assertSame(run(UNARY_OPS.Reciprocal, x), f((v) => 1 / v, x), `reciprocal n=${n}`);
      assertSame(run(UNARY_OPS.Relu, x), f((v) => Math.max(v, 0), x), `relu n=${n}`);
      assertEach(run(UNARY_OPS.Log, pos), f(Math.log, pos), `log n=${n}`, 1e-6, 1e-7);
    }
    // −87 … 88.3. (88.3, 88.72] is left out: there exp_poly's clamp at 88.3 gives e^88.3 (2.2e38 for e^88.5 = 2.7e38).
    const wide = Float32Array.from({ length: 1001 }, (_, i) => -87 + (175.3 * i) / 1000);
    assertEach(run(UNARY_OPS.Exp, wide), Float32Array.from(wide, Math.exp), 'exp over −87 … 88.3', 2e-6);
    const edges = Float32Array.from([-1000, -100, -87.4, -87.31, 88.73, 89, 100, 1e30, -Infinity, Infinity]);
    assert.deepEqual(Array.from(run(UNARY_OPS.Exp, edges)), [0, 0, 0, 0, Infinity, Infinity, Infinity, Infinity, 0, Infinity]);
    assertEach(run(UNARY_OPS.Sigmoid, Float32Array.from([-30, -10, 0, 10, 30, 100])), Float32Array.from([-30, -10, 0, 10, 30, 100], (v) => 1 / (1 + Math.exp(-v))), 'sigmoid tails', 2e-6);
  });

  it('softmax over rows of h (h odd too) = a float64 reference', (t) => {
    if (skip) return t.skip(skip);
    for (const [rows, h] of [[1, 1], [3, 3], [17, 17], [5, 33], [4, 1001], [300, 128]] as const) {
      reset();
      const x = randArray(rows * h, h, 10);
      const px = put(x);
      const py = alloc(rows * h);
      addon.softmax(heap, px, py, rows, h);
      const want = new Float32Array(rows * h);
      for (let r = 0; r < rows; r++) {
        const row = x.subarray(r * h, r * h + h);
        const mx = Math.max(...row);
        const s = row.reduce((acc, v) => acc + Math.exp(v - mx), 0);
        for (let j = 0; j < h; j++) want[r * h + j] = Math.exp(row[j]! - mx) / s;
      }
      assertEach(get(py, rows * h), want, `softmax ${rows}×${h}`, 2e-6, 1e-12);
    }
  });

  it('sum_squares over several tensors = a float64 sum; no tensors and empty tensors give 0', (t) => {
    if (skip) return t.skip(skip);
    reset();
    const sizes = [1, 3, 17, 1001, 100000, 0, 40000];
    const xs = sizes.map((n, i) => randArray(n, i + 1, 2));
    const offs = xs.map((x) => put(x));
    const got = addon.sum_squares(heap, new Float64Array(offs), new Float64Array(sizes));
    const want = xs.reduce((acc, x) => acc + x.reduce((s, v) => s + v * v, 0), 0);
    assert.ok(Math.abs(got - want) <= 1e-6 * want, `sum_squares ${got} vs ${want}`);
    assert.equal(addon.sum_squares(heap, new Float64Array(0), new Float64Array(0)), 0);
    assert.equal(addon.sum_squares(heap, new Float64Array([0, 64]), new Float64Array([0, 0])), 0);
    const one = addon.sum_squares(heap, new Float64Array([offs[2]!]), new Float64Array([17]));
    assert.ok(Math.abs(one - xs[2]!.reduce((s, v) => s + v * v, 0)) <= 1e-6 * one);
  });

  it('a NaN stays NaN through exp, sigmoid, relu, gelu, swish, softmax (the clamps must not turn it into a number)', (t) => {
    if (skip) return t.skip(skip);
    // A NaN that came out finite would hide a diverged step from the trainer's non-finite check.
    const x = [NaN, 1, -1, 0.5, 100, -100, NaN, 3]; // 8 elements: NaN in a vector lane and in the tail of 4-lane groups
    reset();
    const px = put(x);
    const py = alloc(x.length);
    const pc = alloc(x.length);
    for (const op of ['Sigmoid', 'Exp', 'Relu'] as const) {
      addon.unary(heap, UNARY_OPS[op], px, py, x.length);
      const y = get(py, x.length);
      assert.ok(Number.isNaN(y[0]!) && Number.isNaN(y[6]!), `${op}(NaN) = ${y[0]}, ${y[6]}`);
      assert.ok(Number.isFinite(y[1]!), `${op}(1) = ${y[1]}`);
    }
    addon.gelu(heap, px, py, pc, x.length);
    assert.ok(Number.isNaN(get(py, 1)[0]!) && Number.isNaN(get(pc, 1)[0]!), 'gelu(NaN) and Φ(NaN) are NaN');
    addon.gelu_grad(heap, put(new Array<number>(x.length).fill(1)), px, pc, py, x.length);
    assert.ok(Number.isNaN(get(py, 1)[0]!), 'gelu_grad at NaN is NaN');
    addon.swish(heap, px, py, x.length);
    assert.ok(Number.isNaN(get(py, 1)[0]!), 'swish(NaN) is NaN');
    addon.softmax(heap, px, py, 2, 4); // row 0 holds a NaN, row 1 ([100, −100, NaN, 3]) too
    assert.ok(get(py, 8).every((v) => Number.isNaN(v)), 'a row with a NaN softmaxes to NaN');
  });

  it('keep_mask = fillKeepMask, bit for bit (odd sizes, thresholds 0, 2^31, 2^32)', (t) => {
    if (skip) return t.skip(skip);
    for (const n of [1, 3, 17, 1001, 100003])
      for (const [seed, threshold, scale] of [[0, 2 ** 31, 2], [12345, keepThreshold(0.9), Math.fround(1 / 0.9)], [0xffffffff, 2 ** 32, 1.25], [7, 0, 4]] as const) {
        reset();
        const out = alloc(n);
        addon.keep_mask(heap, out, n, seed, threshold, scale);
        assertSame(get(out, n), fillKeepMask(new Float32Array(n), seed, threshold, scale), `keep_mask n=${n} seed ${seed} threshold ${threshold}`);
      }
  });
});

describe('native kernels: the thread count does not change a bit', () => {
  after(() => {
    if (!skip) addon.kernel_threads(2);
  });
  it('layernorm_grad, sum_rows, sum_squares, sgemm and keep_mask with 1 and 2 kernel threads', (t) => {
    if (skip) return t.skip(skip);
    const runAll = () => {
      reset();
      const rows = 517, h = 96;
      const x = randArray(rows * h, 1, 3);
      const gamma = randArray(h, 2, 1, 1);
      const { mean, rstd } = layernormRef(x, gamma, new Float32Array(h), rows, h, 1e-5);
      const lg = layernormGradRun('addon', randArray(rows * h, 3), x, gamma, mean, rstd, rows, h);
      const src = put(randArray(2000 * 333, 4));
      const sr = alloc(333);
      addon.sum_rows(heap, src, sr, 2000, 333);
      const big = put(randArray(1 << 20, 5));
      const ss = addon.sum_squares(heap, new Float64Array([big, src]), new Float64Array([1 << 20, 2000 * 333]));
      const [m, n, k] = [300, 129, 257];
      const pa = put(randArray(m * k, 6)), pb = put(randArray(k * n, 7)), pc = alloc(m * n);
      addon.sgemm(heap, pa, pb, pc, 1, m, n, k, false, false, 0, 0);
      const km = alloc(1 << 20);
      addon.keep_mask(heap, km, 1 << 20, 99, keepThreshold(0.9), Math.fround(1 / 0.9));
      return { ...lg, sr: get(sr, 333), ss, c: get(pc, m * n), km: get(km, 1 << 20) };
    };
    addon.kernel_threads(1);
    assert.equal(addon.kernel_threads(), 1);
    const one = runAll();
    addon.kernel_threads(2);
    assert.equal(addon.kernel_threads(), 2);
    const two = runAll();
    assertSame(two.dx, one.dx, 'layernorm_grad dx');
    assertSame(two.dgamma, one.dgamma, 'layernorm_grad dgamma');
    assertSame(two.dbeta, one.dbeta, 'layernorm_grad dbeta');
    assertSame(two.sr, one.sr, 'sum_rows');
    assert.equal(two.ss, one.ss, 'sum_squares');
    assertSame(two.c, one.c, 'sgemm');
    assertSame(two.km, one.km, 'keep_mask');
  });
});

describe('native kernels: bounds and arguments', () => {
  // Valid calls on a 4 KiB heap (1024 floats); `ptrs`: the offset arguments that must be multiples of 4; `count`: a count.
  const CALLS: { name: keyof BlasAddon; args: (number | boolean)[]; ptrs: number[]; count: number }[] = [
    { name: 'gelu', args: [0, 256, 512, 16], ptrs: [0, 1, 2], count: 3 },
    { name: 'gelu_grad', args: [0, 128, 256, 384, 16], ptrs: [0, 1, 2, 3], count: 4 },
    { name: 'layernorm', args: [0, 256, 512, 768, 1024, 1280, 4, 8, 1e-5], ptrs: [0, 1, 2, 3, 4, 5], count: 6 },
    { name: 'layernorm_grad', args: [0, 256, 512, 768, 1024, 1280, 1536, 1792, 4, 8], ptrs: [0, 1, 2, 3, 4, 5, 6, 7], count: 8 },
    { name: 'transpose', args: [0, 512, 2, 4, 8], ptrs: [0, 1], count: 2 },
    { name: 'swap_leading', args: [0, 512, 2, 4, 8], ptrs: [0, 1], count: 4 },
    { name: 'swap_leading_batch', args: [0, 512, 2, 2, 4, 8], ptrs: [0, 1], count: 2 },
    { name: 'copy_rows', args: [0, 32, 512, 32, 4, 32], ptrs: [0], count: 4 },
    { name: 'im2col', args: [0, 512, 1, 4, 8, 0, 4, 3, 1], ptrs: [0, 1], count: 2 },
    { name: 'sum_rows', args: [0, 512, 4, 8], ptrs: [0, 1], count: 2 },
    { name: 'adamw', args: [0, 64, 128, 192, 256, 320, 384, 16, 0.01, 0.9, 0.999, 1e-6, 1, 1, 0.01, 1], ptrs: [0, 1, 2, 3, 4, 5, 6], count: 7 },
    { name: 'binary', args: [0, 0, 0, 256, 0, 512, 4, 8], ptrs: [1, 3, 5], count: 7 },
    { name: 'unary', args: [0, 0, 256, 16], ptrs: [1, 2], count: 3 },
    { name: 'softmax', args: [0, 256, 4, 8], ptrs: [0, 1], count: 2 },
    { name: 'keep_mask', args: [0, 16, 1, 2 ** 31, 2], ptrs: [0], count: 1 },
    { name: 'sgemm', args: [0, 64, 128, 1, 2, 2, 2, false, false, 0, 0], ptrs: [0, 1, 2], count: 3 },
    { name: 'sgemm_strided', args: [0, 1024, 2048, 2, 2, 4, 4, 4, 0, 0, 1, 64, 16, 4, 64, 16, 4, 64, 16, 4], ptrs: [0, 1, 2], count: 3 },
    { name: 'conv1d_grouped', args: [0, 512, 1024, 1, 4, 2, 3, 5, 3, 1], ptrs: [0, 1, 2], count: 3 },
    { name: 'conv1d_grouped_filter', args: [0, 512, 1024, 1, 4, 2, 3, 5, 3, 1], ptrs: [0, 1, 2], count: 3 },
    { name: 'swish', args: [0, 512, 16], ptrs: [0, 1], count: 2 },
    { name: 'swish_grad', args: [0, 128, 256, 16], ptrs: [0, 1, 2], count: 3 },
    { name: 'glu', args: [0, 512, 4, 8], ptrs: [0, 1], count: 2 },
    { name: 'glu_grad', args: [0, 256, 512, 4, 8], ptrs: [0, 1, 2], count: 3 },
  ];
  for (const c of CALLS) {
    it(`${c.name}: RangeError past the heap, for a negative or misaligned offset; TypeError for the wrong argument count`, (t) => {
      if (skip) return t.skip(skip);
      const small = new Uint8Array(4096);
      const call = (args: (number | boolean)[]) => (addon[c.name] as (...a: unknown[]) => unknown)(small, ...args);
      const msg = new RegExp(`^convbert_blas\\.${c.name}: `);
      const range = (args: (number | boolean)[], what: string) => assert.throws(() => call(args), (e: Error) => e instanceof RangeError && msg.test(e.message), `${c.name}: ${what}`);
      const withArg = (i: number, v: number) => c.args.map((a, j) => (j === i ? v : a));
      call(c.args); // in bounds: no error
      for (const p of c.ptrs) {
        range(withArg(p, 4096), `offset ${p} at the heap end`);
        range(withArg(p, 1 << 30), `offset ${p} far past the heap end`);
        range(withArg(p, -4), `offset ${p} negative`);
        range(withArg(p, 2), `offset ${p} misaligned`);
      }
      range(withArg(c.count, 1e6), 'a count that runs past the heap');
      range(withArg(c.count, -1), 'a negative count');
      for (const args of [c.args.slice(0, -1), [...c.args, 0]])
        assert.throws(() => call(args), (e: Error) => e instanceof TypeError && msg.test(e.message), `${c.name}: ${args.length} arguments`);
    });
  }
  it('sum_squares and binary/unary ops: the same checks', (t) => {
    if (skip) return t.skip(skip);
    const small = new Uint8Array(4096);
    const F = (...v: number[]) => new Float64Array(v);
    const range = (f: () => unknown, name: string) => assert.throws(f, (e: Error) => e instanceof RangeError && new RegExp(`^convbert_blas\\.${name}: `).test(e.message));
    range(() => addon.sum_squares(small, F(4096), F(1)), 'sum_squares');
    range(() => addon.sum_squares(small, F(0), F(1025)), 'sum_squares');
    range(() => addon.sum_squares(small, F(-4), F(1)), 'sum_squares');
    range(() => addon.sum_squares(small, F(2), F(1)), 'sum_squares');
    range(() => addon.sum_squares(small, F(0, 8), F(1)), 'sum_squares');
    assert.throws(() => (addon.sum_squares as (...a: unknown[]) => number)(small, F(0)), TypeError);
    range(() => addon.binary(small, 4, 0, 0, 256, 0, 512, 4, 8), 'binary');
    range(() => addon.binary(small, 0, 0, 4, 256, 0, 512, 4, 8), 'binary');
    range(() => addon.unary(small, 9, 0, 256, 16), 'unary');
    range(() => addon.keep_mask(small, 0, 16, 1, 2 ** 32 + 1, 2), 'keep_mask');
    range(() => addon.keep_mask(small, 0, 16, 2 ** 32, 2 ** 31, 2), 'keep_mask');
    range(() => addon.keep_mask(small, 0, 16, 1.5, 2 ** 31, 2), 'keep_mask');
    // binary reads a bias operand along inner only: an `a` at the last inner floats is in bounds
    addon.binary(small, 0, 4096 - 32, PATTERN.bias, 0, PATTERN.full, 512, 4, 8);
    range(() => addon.binary(small, 0, 4096 - 28, PATTERN.bias, 0, PATTERN.full, 512, 4, 8), 'binary');
  });
});

describe('planBinary', () => {
  it('splits the output into [outer, inner] with a pattern per operand, or says no', () => {
    assert.deepEqual(planBinary([1024, 256], [256], [1024, 256]), { outer: 1024, inner: 256, a: PATTERN.full, b: PATTERN.bias });
    assert.deepEqual(planBinary([256], [1024, 256], [1024, 256]), { outer: 1024, inner: 256, a: PATTERN.bias, b: PATTERN.full });
    assert.deepEqual(planBinary([8, 4, 128, 128], [8, 4, 128, 1], [8, 4, 128, 128]), { outer: 8 * 4 * 128, inner: 128, a: PATTERN.full, b: PATTERN.row });
    const s = planBinary([], [3, 5], [3, 5]);
    assert.ok(s && s.a === PATTERN.scalar && s.b === PATTERN.full && s.outer * s.inner === 15);
    const s2 = planBinary([3, 5], [1, 1], [3, 5]);
    assert.ok(s2 && s2.a === PATTERN.full && s2.b === PATTERN.scalar && s2.outer * s2.inner === 15);
    assert.equal(planBinary([8, 4, 128, 128], [8, 1, 1, 128], [8, 4, 128, 128]), undefined);
    assert.equal(planBinary([2, 3], [3, 2, 3], [3, 2, 3])?.b, PATTERN.full);
    assert.deepEqual(planBinary([6, 7], [6, 7], [6, 7]), { outer: 1, inner: 42, a: PATTERN.full, b: PATTERN.full });
    assert.deepEqual(planBinary([5, 1], [1, 7], [5, 7]), { outer: 5, inner: 7, a: PATTERN.row, b: PATTERN.bias });
    assert.equal(planBinary([5, 1, 7], [1, 3, 1], [5, 3, 7]), undefined);
  });
});

describe('TF.js on blas: the replaced stock kernels = the cpu backend', () => {
  let tfSkip: string | false = false;
  before(async () => {
    if (!skip) tfSkip = await loadBlasForTests();
  });
  const why = () => skip || tfSkip;

  async function values(backend: string, f: () => tf.Tensor): Promise<Float32Array> {
    await tf.setBackend(backend);
    const t = tf.tidy(f);
    const v = Float32Array.from((await t.data()) as Float32Array);
    t.dispose();
    return v;
  }
  const T = (shape: number[], seed: number, scale = 1, shift = 0) => tf.tensor(randArray(shape.reduce((a, b) => a * b, 1), seed, scale, shift), shape);
  const P = (shape: number[], seed: number) => tf.abs(T(shape, seed, 3, 0.01)).add(0.01);

  const CASES: [string, string, () => tf.Tensor][] = [];
  for (const [op, kernel] of [[tf.add, 'Add'], [tf.sub, 'Sub'], [tf.mul, 'Multiply'], [tf.div, 'RealDiv']] as const) {
    for (const [sa, sb] of [[[33, 17], [33, 17]], [[64, 33], [33]], [[33], [64, 33]], [[8, 4, 16, 16], [8, 4, 16, 1]], [[], [7, 5]], [[7, 5], []], [[2, 3, 5], [1, 3, 5]]] as [number[], number[]][]) {
      CASES.push([`${kernel} [${sa}]·[${sb}]`, kernel, () => op(T(sa, 1), kernel === 'RealDiv' ? P(sb, 2) : T(sb, 2))]);
    }
  }
  const unaries: [string, (x: tf.Tensor) => tf.Tensor, boolean][] = [
    ['Neg', tf.neg, false], ['Square', tf.square, false], ['Sigmoid', tf.sigmoid, false], ['Exp', tf.exp, false], ['Sqrt', tf.sqrt, true],
    ['Rsqrt', tf.rsqrt, true], ['Reciprocal', tf.reciprocal, false], ['Relu', tf.relu, false], ['Log', tf.log, true],
  ];
  for (const [kernel, f, positive] of unaries) CASES.push([`${kernel} [37, 101]`, kernel, () => f(positive ? P([37, 101], 3) : T([37, 101], 3, 5))]);
  for (const shape of [[3, 17], [4, 128], [2, 3, 1001], [5, 1]]) CASES.push([`Softmax [${shape}]`, 'Softmax', () => tf.softmax(T(shape, 4, 8))]);

  for (const [name, kernel, f] of CASES) {
    it(name, async (t) => {
      if (why()) return t.skip(String(why()));
      const want = await values('cpu', f);
      const before = blasKernelCalls()[kernel]?.native ?? 0;
      const got = await values('wasm', f);
      assert.ok((blasKernelCalls()[kernel]?.native ?? 0) > before, `${kernel} ran natively`);
      assertEach(got, want, name, 1e-6, 1e-30);
    });
  }

  it('an int32 add and an unplanned broadcast go to the stock kernel, with the right answer', async (t) => {
    if (why()) return t.skip(String(why()));
    await tf.setBackend('wasm');
    const before = blasKernelCalls().Add ?? { native: 0, stock: 0 };
    const i = tf.add(tf.tensor([1, 2, 3], [3], 'int32'), tf.tensor([10, 20, 30], [3], 'int32'));
    assert.equal(i.dtype, 'int32');
    assert.deepEqual(Array.from(await i.data()), [11, 22, 33]);
    i.dispose();
    const mid = blasKernelCalls().Add!;
    assert.equal(mid.stock, before.stock + 1, 'int32: stock');
    assert.equal(mid.native, before.native, 'int32: not native');
    const f = () => tf.add(T([8, 4, 16, 128], 5), T([8, 1, 1, 128], 6));
    const got = await values('wasm', f);
    const after = blasKernelCalls().Add!;
    assert.equal(after.stock, mid.stock + 1, '[8,4,16,128]+[8,1,1,128]: stock');
    assert.equal(after.native, mid.native, '[8,4,16,128]+[8,1,1,128]: not native');
    assertEach(got, await values('cpu', f), 'unplanned broadcast', 0);
  });

  it('plain wasm puts the stock kernels back (and blas installs them again)', async (t) => {
    if (why()) return t.skip(String(why()));
    const blasAdd = tf.getKernel('Add', 'wasm')!.kernelFunc;
    await loadBackend('wasm', { strict: true, threads: 2 });
    try {
      assert.equal(blasKernelsInstalled(), false);
      assert.notEqual(tf.getKernel('Add', 'wasm')!.kernelFunc, blasAdd);
      const before = blasKernelCalls();
      for (const [name, kernel, f] of CASES.filter((_, i) => i % 5 === 0)) {
        const want = await values('cpu', f);
        const got = await values('wasm', f);
        assertEach(got, want, `${name} on plain wasm`, 2e-6, 1e-30);
        assert.deepEqual(blasKernelCalls()[kernel], before[kernel], `${kernel}: the blas kernel did not run`);
      }
    } finally {
      await loadBackend('blas', { strict: true, threads: 2 });
    }
    assert.ok(blasKernelsInstalled());
    const before = blasKernelCalls().Add!.native;
    const [name, , f] = CASES[0]!;
    assertEach(await values('wasm', f), await values('cpu', f), `${name} on blas again`, 1e-6, 1e-30);
    assert.equal(blasKernelCalls().Add!.native, before + 1, 'Add native again');
  });
});

/**
 * The blas addon's newer kernels against independent references: strided sgemm (native/blas.c `sgemm_strided`:
 * products of matrices where they lie inside tensors), the direct grouped convolution (native/conv.c), the fused
 * swish / GLU (native/elementwise.c), each at the addon level on a WebAssembly.Memory heap against plain-JS float64
 * loops, thread invariance (1 vs 2 kernel threads, bit for bit) and the bounds checks; then through TF.js on blas
 * (core/ops/strided.ts's stridedMatMul, core/ops/grouped.ts's groupedConv1d, core/ops/activations.ts's gluHalves)
 * against tf.matMul / the cpu backend, the FLOP counter, and the pool's late-start deadlock (native/pool.c) in a child
 * process. Skipped with the reason printed where the addon cannot be built.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { BlasAddon } from '../../src/engines/tfjs/backends/blas/addon';
import { blasKernelCalls, BINARY_OPS, PATTERN } from '../../src/engines/tfjs/backends/blas/kernels';
import { packed, stridedMatMul, STRIDED_MATMUL_KERNEL, type MatrixLayout, type StridedMatMulAttrs } from '../../src/core/ops/strided';
import { convPadding, DIRECT_CONV_KERNELS, groupedConv1d, type ConvPadding } from '../../src/core/ops/grouped';
import { ACTIVATION_KERNELS, gluHalves, swish } from '../../src/core/ops/activations';
import { countMatmulFlops } from '../../src/core/ops/flop-counter';
import { assertClose, assertEach, assertSame, loadAddonForTests, loadBlasForTests, NativeTestHeap, randArray, size } from './native-heap';

let skip: string | false = false;
let addon: BlasAddon;
let addonFile: string;
const { heap, alloc, reset, put, get } = new NativeTestHeap(32);

before(async () => {
  const found = await loadAddonForTests();
  if (typeof found === 'string') skip = found;
  else ({ addon, file: addonFile } = found);
});

// ---- strided sgemm: a case, its plain-JS reference, a run on the heap ----
interface Strided {
  b1: number;
  b2: number;
  m: number;
  n: number;
  k: number;
  ta: boolean;
  tb: boolean;
  alpha: number;
  a: MatrixLayout;
  b: MatrixLayout;
  c: MatrixLayout;
}
/** Floats a strided batch of rows × cols matrices spans (0 when empty). */
function span(s: Strided, l: MatrixLayout, rows: number, cols: number): number {
  return s.b1 * s.b2 * rows * cols === 0 ? 0 : (s.b1 - 1) * l.s1 + (s.b2 - 1) * l.s2 + (rows - 1) * l.ld + cols;
}
const aDims = (s: Strided): [number, number] => (s.ta ? [s.k, s.m] : [s.m, s.k]);
const bDims = (s: Strided): [number, number] => (s.tb ? [s.n, s.k] : [s.k, s.n]);

/** C's region after the product, in float64: every element of a C matrix computed, every other one left as it was. */
function stridedRef(s: Strided, A: Float32Array, B: Float32Array, C0: Float32Array): Float64Array {
  const C = Float64Array.from(C0);
  for (let i = 0; i < s.b1; i++)
    for (let j = 0; j < s.b2; j++) {
      const a0 = i * s.a.s1 + j * s.a.s2;
      const b0 = i * s.b.s1 + j * s.b.s2;
      const c0 = i * s.c.s1 + j * s.c.s2;
      for (let r = 0; r < s.m; r++)
        for (let c = 0; c < s.n; c++) {
          let sum = 0;
          for (let q = 0; q < s.k; q++) {
            const av = s.ta ? A[a0 + q * s.a.ld + r]! : A[a0 + r * s.a.ld + q]!;
            const bv = s.tb ? B[b0 + c * s.b.ld + q]! : B[b0 + q * s.b.ld + c]!;
            sum += av * bv;
          }
          C[c0 + r * s.c.ld + c] = s.alpha * sum;
        }
    }
  return C;
}

/** Runs the case on the heap; C's region starts filled with 777 (what the products do not cover must stay so). */
function stridedRun(s: Strided, seed: number) {
  reset();
  const A = randArray(Math.max(span(s, s.a, ...aDims(s)), 1), seed);
  const B = randArray(Math.max(span(s, s.b, ...bDims(s)), 1), seed + 1);
  const C0 = new Float32Array(Math.max(span(s, s.c, s.m, s.n), 1)).fill(777);
  const pa = put(A), pb = put(B), pc = put(C0);
  addon.sgemm_strided(heap, pa, pb, pc, s.b1, s.b2, s.m, s.n, s.k, s.ta ? 1 : 0, s.tb ? 1 : 0, s.alpha, s.a.s1, s.a.s2, s.a.ld, s.b.s1, s.b.s2, s.b.ld, s.c.s1, s.c.s2, s.c.ld);
  return { got: get(pc, C0.length), A, B, C0 };
}

/** Attention heads in [B, T, H·dh] (B=2, T=5, H=3, dh=4): scores, context, and the gradients' products. */
function attentionCases(): [string, Strided][] {
  const [Bn, T, H, dh] = [2, 5, 3, 4];
  const heads: MatrixLayout = { s1: T * H * dh, s2: dh, ld: H * dh };
  const scores = packed(T, T, H);
  return [
    ['scores Q·Kᵀ/√dh (heads in place → packed [B, H, T, T])', { b1: Bn, b2: H, m: T, n: T, k: dh, ta: false, tb: true, alpha: 1 / Math.sqrt(dh), a: heads, b: heads, c: scores }],
    ['context P·V (packed → heads in place)', { b1: Bn, b2: H, m: T, n: dh, k: T, ta: false, tb: false, alpha: 1, a: scores, b: heads, c: heads }],
    ['dV = Pᵀ·dO (transposeA)', { b1: Bn, b2: H, m: T, n: dh, k: T, ta: true, tb: false, alpha: 1, a: scores, b: heads, c: heads }],
    ['dK = dSᵀ·Q·α (transposeA, alpha)', { b1: Bn, b2: H, m: T, n: dh, k: T, ta: true, tb: false, alpha: 0.5, a: scores, b: heads, c: heads }],
    ['dP = dO·Vᵀ (transposeB, both in place)', { b1: Bn, b2: H, m: T, n: T, k: dh, ta: false, tb: true, alpha: -1.5, a: heads, b: heads, c: scores }],
    ['Qᵀ·K per head (both transposed)', { b1: Bn, b2: H, m: dh, n: T, k: T, ta: true, tb: true, alpha: 1, a: heads, b: heads, c: packed(dh, T, H) }],
  ];
}

/** Channel groups of [N, G·n] (G=3): grouped dense x·W_g and its two gradients' products. */
function groupCases(): [string, Strided][] {
  const [N, G, n, o] = [7, 3, 5, 6];
  const x: MatrixLayout = { s1: n, s2: 0, ld: G * n };
  const y: MatrixLayout = { s1: o, s2: 0, ld: G * o };
  return [
    ['y_g = x_g·W_g ([N, G·n] → [N, G·o], b2 = 1)', { b1: G, b2: 1, m: N, n: o, k: n, ta: false, tb: false, alpha: 1, a: x, b: packed(n, o), c: y }],
    ['dx_g = dy_g·W_gᵀ (transposeB)', { b1: G, b2: 1, m: N, n, k: o, ta: false, tb: true, alpha: 1, a: y, b: packed(n, o), c: x }],
    ['dW_g = x_gᵀ·dy_g (transposeA, alpha)', { b1: G, b2: 1, m: n, n: o, k: N, ta: true, tb: false, alpha: 0.25, a: x, b: y, c: packed(n, o) }],
    ['G = 3 as b1 × b2 = 1 × 3 (the groups along the second index)', { b1: 1, b2: G, m: N, n: o, k: n, ta: false, tb: false, alpha: 2, a: { s1: 0, s2: n, ld: G * n }, b: packed(n, o, G), c: { s1: 0, s2: o, ld: G * o } }],
  ];
}

describe('sgemm_strided = a plain-JS triple loop', () => {
  for (const [name, s] of [...attentionCases(), ...groupCases()]) {
    it(name, (t) => {
      if (skip) return t.skip(skip);
      const { got, A, B, C0 } = stridedRun(s, 11);
      const want = stridedRef(s, A, B, C0);
      assertClose(got, want, name, 1e-6);
      // the elements no product covers stay as they were (777), the covered ones do not
      let covered = 0;
      for (let i = 0; i < want.length; i++) if (want[i] !== 777) covered++;
      assert.equal(covered, s.b1 * s.b2 * s.m * s.n, `${name}: every C element written once`);
    });
  }

  it('k = 0: the C matrices zeroed (and nothing else touched)', (t) => {
    if (skip) return t.skip(skip);
    for (const [name, s0] of [attentionCases()[0]!, groupCases()[0]!]) {
      const s = { ...s0, k: 0 };
      // A, B spans are empty; C is the same layout
      const { got } = stridedRun(s, 3);
      const want = stridedRef(s, new Float32Array(0), new Float32Array(0), new Float32Array(got.length).fill(777));
      assertSame(got, Float32Array.from(want), `${name} with k = 0`);
      assert.ok(got.some((v) => v === 0) && got.every((v) => v === 0 || v === 777), `${name}: zeros written`);
    }
  });

  it('an empty batch (b1 = 0, b2 = 0, m = 0) writes nothing and needs no heap', (t) => {
    if (skip) return t.skip(skip);
    const small = new Uint8Array(16);
    new Float32Array(small.buffer).fill(5);
    for (const [b1, b2] of [[0, 3], [2, 0]] as [number, number][]) {
      addon.sgemm_strided(small, 0, 0, 0, b1, b2, 4, 4, 4, 0, 0, 1, 1e6, 1e6, 4, 1e6, 1e6, 4, 1e6, 1e6, 4);
      assert.deepEqual(Array.from(new Float32Array(small.buffer)), [5, 5, 5, 5], `b1=${b1} b2=${b2}`);
    }
    // m = 0: A and C are empty (any strides); B (k × n) is not, and must lie inside the heap
    addon.sgemm_strided(small, 0, 0, 0, 2, 3, 0, 2, 2, 0, 0, 1, 1e6, 1e6, 4, 0, 0, 2, 1e6, 1e6, 4);
    assert.deepEqual(Array.from(new Float32Array(small.buffer)), [5, 5, 5, 5], 'm = 0');
  });

  describe('threads', () => {
    after(() => {
      if (!skip) addon.kernel_threads(2);
    });
    // batch 1 and 2 with m ≥ 32 (row blocks of C split over the pool; m = 70 leaves a short last block), batch 12 (split by matrix)
    const big: [string, Strided][] = [
      ['batch 1, m = 70 (row blocks)', { b1: 1, b2: 1, m: 70, n: 33, k: 41, ta: false, tb: false, alpha: 1, a: packed(70, 41), b: packed(41, 33), c: packed(70, 33) }],
      ['batch 1, m = 64, transposeA and transposeB (row blocks)', { b1: 1, b2: 1, m: 64, n: 20, k: 24, ta: true, tb: true, alpha: 0.5, a: packed(24, 64), b: packed(20, 24), c: packed(64, 20) }],
      ['heads in place, batch 1 × 2, m = 48', { b1: 1, b2: 2, m: 48, n: 8, k: 48, ta: false, tb: false, alpha: 1, a: packed(48, 48, 2), b: { s1: 48 * 16, s2: 8, ld: 16 }, c: { s1: 48 * 16, s2: 8, ld: 16 } }],
      ['batch 3 × 4 (by matrix)', { b1: 3, b2: 4, m: 40, n: 12, k: 9, ta: false, tb: true, alpha: 1, a: { s1: 40 * 36, s2: 9, ld: 36 }, b: packed(12, 9, 4), c: packed(40, 12, 4) }],
    ];
    for (const [name, s] of big) {
      it(`${name}: = the loop, bit-identical with 1, 2 and 3 kernel threads`, (t) => {
        if (skip) return t.skip(skip);
        addon.kernel_threads(1);
        const one = stridedRun(s, 21);
        assertClose(one.got, stridedRef(s, one.A, one.B, one.C0), name, 1e-5);
        for (const n of [2, 3]) {
          addon.kernel_threads(n);
          assert.equal(addon.kernel_threads(), n);
          assertSame(stridedRun(s, 21).got, one.got, `${name}: ${n} threads vs 1`);
        }
      });
    }
  });

  it('bounds and arguments: RangeError, TypeError', (t) => {
    if (skip) return t.skip(skip);
    const small = new Uint8Array(4096); // 1024 floats
    // valid: 2 × 2 products of 4×4 at s1 = 64, s2 = 16 (A: 0 …, B: 256 floats in, C: 512 floats in)
    const args = [0, 1024, 2048, 2, 2, 4, 4, 4, 0, 0, 1, 64, 16, 4, 64, 16, 4, 64, 16, 4];
    const call = (a: number[]) => (addon.sgemm_strided as (...x: unknown[]) => unknown)(small, ...a);
    const range = (a: number[], what: string) => assert.throws(() => call(a), (e: Error) => e instanceof RangeError && /^convbert_blas\.sgemm_strided: /.test(e.message), what);
    const withArg = (i: number, v: number) => args.map((a, j) => (j === i ? v : a));
    call(args);
    // the last matrix ends exactly at the heap's end: fine; one float further: not
    call(withArg(2, 4096 - 4 * (64 + 16 + 3 * 4 + 4)));
    range(withArg(2, 4096 - 4 * (64 + 16 + 3 * 4 + 4) + 16), 'C past the heap');
    range(withArg(11, 1000), 'A: s1 takes its last matrix past the heap');
    range(withArg(15, 16 * 60), 'B: s2 takes its last matrix past the heap');
    range(withArg(19, 300), 'C: ld takes its last row past the heap');
    range(withArg(13, 3), 'lda shorter than a row');
    range(withArg(16, 3), 'ldb shorter than a row');
    range(withArg(19, 3), 'ldc shorter than a row');
    // a transposed A is stored k × m: with m = 8, k = 4, lda = 4 is too short when transposed, fine when not
    range([0, 1024, 2048, 1, 1, 8, 4, 4, 1, 0, 1, 0, 0, 4, 0, 0, 4, 0, 0, 4], 'lda < m with transposeA');
    call([0, 1024, 2048, 1, 1, 8, 4, 4, 0, 0, 1, 0, 0, 4, 0, 0, 4, 0, 0, 4]);
    range(withArg(8, 2), 'transposeA = 2');
    range(withArg(9, 2), 'transposeB = 2');
    range(withArg(8, -1), 'transposeA = -1');
    range(withArg(11, -64), 'a negative stride');
    range(withArg(0, 2), 'a misaligned offset');
    range(withArg(3, 1e6), 'a batch past the heap');
    for (const a of [args.slice(0, -1), [...args, 0]]) assert.throws(() => call(a), (e: Error) => e instanceof TypeError && /^convbert_blas\.sgemm_strided: /.test(e.message), `${a.length} arguments`);
  });
});

// ---- direct grouped convolution ----
/** Each tap of the grouped convolution, as f(xi, wi, yi): x[xi] · w[wi] adds to y[yi] (`before` zeros of padding in front). */
function forEachTap(B: number, T: number, G: number, Ci: number, Co: number, K: number, before: number, f: (xi: number, wi: number, yi: number) => void): void {
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let g = 0; g < G; g++)
        for (let o = 0; o < Co; o++)
          for (let j = 0; j < K; j++) {
            const u = t + j - before;
            if (u < 0 || u >= T) continue;
            for (let i = 0; i < Ci; i++) f((b * T + u) * G * Ci + g * Ci + i, (g * K * Ci + j * Ci + i) * Co + o, (b * T + t) * G * Co + g * Co + o);
          }
}
function convRef(x: Float32Array, w: Float32Array, B: number, T: number, G: number, Ci: number, Co: number, K: number, before: number): Float64Array {
  const y = new Float64Array(B * T * G * Co);
  forEachTap(B, T, G, Ci, Co, K, before, (xi, wi, yi) => (y[yi]! += w[wi]! * x[xi]!));
  return y;
}
function convFilterRef(x: Float32Array, dy: Float32Array, B: number, T: number, G: number, Ci: number, Co: number, K: number, before: number): Float64Array {
  const dw = new Float64Array(G * K * Ci * Co);
  forEachTap(B, T, G, Ci, Co, K, before, (xi, wi, yi) => (dw[wi]! += x[xi]! * dy[yi]!));
  return dw;
}
function convRun(B: number, T: number, G: number, Ci: number, Co: number, K: number, before: number, seed: number) {
  reset();
  const x = randArray(B * T * G * Ci, seed);
  const w = randArray(G * K * Ci * Co, seed + 1);
  const dy = randArray(B * T * G * Co, seed + 2);
  const px = put(x), pw = put(w), pdy = put(dy);
  const py = alloc(B * T * G * Co), pdw = alloc(G * K * Ci * Co);
  addon.conv1d_grouped(heap, px, pw, py, B, T, G, Ci, Co, K, before);
  addon.conv1d_grouped_filter(heap, px, pdy, pdw, B, T, G, Ci, Co, K, before);
  return { x, w, dy, y: get(py, B * T * G * Co), dw: get(pdw, G * K * Ci * Co) };
}

describe('conv1d_grouped / conv1d_grouped_filter = plain-JS loops', () => {
  for (const K of [1, 4, 7])
    for (const before of [...new Set([0, K - 1, Math.floor((K - 1) / 2)])])
      for (const Co of [16, 32, 5, 20])
        for (const Ci of [3, 16]) {
          it(`K=${K} before=${before} Co=${Co} Ci=${Ci} (T = 1 and 9, B = 2, G = 2)`, (t) => {
            if (skip) return t.skip(skip);
            for (const T of [1, 9]) {
              const [B, G] = [2, 2];
              const r = convRun(B, T, G, Ci, Co, K, before, K * 100 + Co + Ci + T);
              const what = `K=${K} before=${before} Co=${Co} Ci=${Ci} T=${T}`;
              assertClose(r.y, convRef(r.x, r.w, B, T, G, Ci, Co, K, before), `${what}: y`, 1e-5);
              assertClose(r.dw, convFilterRef(r.x, r.dy, B, T, G, Ci, Co, K, before), `${what}: dw`, 1e-5);
            }
          });
        }

  describe('threads', () => {
    after(() => {
      if (!skip) addon.kernel_threads(2);
    });
    it('bit-identical with 1 and 2 kernel threads (Co = 32 and 20, K = 7)', (t) => {
      if (skip) return t.skip(skip);
      for (const Co of [32, 20]) {
        const args = [3, 50, 3, 16, Co, 7, 3] as const;
        addon.kernel_threads(1);
        const one = convRun(...args, 5);
        assertClose(one.y, convRef(one.x, one.w, ...args), `Co=${Co}: y`, 1e-5);
        assertClose(one.dw, convFilterRef(one.x, one.dy, ...args), `Co=${Co}: dw`, 1e-5);
        addon.kernel_threads(2);
        const two = convRun(...args, 5);
        assertSame(two.y, one.y, `Co=${Co}: y, 2 threads vs 1`);
        assertSame(two.dw, one.dw, `Co=${Co}: dw, 2 threads vs 1`);
      }
    });
  });

  it('bounds and arguments: RangeError past the heap, TypeError for the wrong argument count', (t) => {
    if (skip) return t.skip(skip);
    const small = new Uint8Array(4096); // 1024 floats
    // B=1, T=4, G=2, Ci=3, Co=5, K=3: x 24 floats, w 90, y / dy 40, dw 90
    const dims = [1, 4, 2, 3, 5, 3, 1];
    for (const name of ['conv1d_grouped', 'conv1d_grouped_filter'] as const) {
      const call = (a: number[]) => (addon[name] as (...x: unknown[]) => unknown)(small, ...a);
      const msg = new RegExp(`^convbert_blas\\.(${name}|conv): `);
      const range = (a: number[], what: string) => assert.throws(() => call(a), (e: Error) => e instanceof RangeError && msg.test(e.message), `${name}: ${what}`);
      const outLen = name === 'conv1d_grouped' ? 40 : 90;
      call([0, 512, 1024, ...dims]);
      call([0, 512, 4096 - 4 * outLen, ...dims]); // the output ends at the heap's end
      range([0, 512, 4096 - 4 * outLen + 16, ...dims], 'the output past the heap');
      range([4096 - 64, 512, 1024, ...dims], 'x past the heap');
      range([0, 4096 - 64, 1024, ...dims], 'the second operand past the heap');
      range([0, 512, 1024, 1e4, ...dims.slice(1)], 'a batch past the heap');
      range([0, 512, 1024, ...dims.slice(0, -1), -1], 'a negative padding');
      range([0, 512, 1026, ...dims], 'a misaligned output');
      for (const a of [[0, 512, 1024, ...dims.slice(0, -1)], [0, 512, 1024, ...dims, 0]]) {
        assert.throws(() => call(a), (e: Error) => e instanceof TypeError && msg.test(e.message), `${name}: ${a.length} arguments`);
      }
    }
  });
});

// ---- fused swish / GLU ----
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

describe('swish, swish_grad, glu, glu_grad = plain-JS loops', () => {
  it('swish / swish_grad (n = 1, 7, 1001, 65537)', (t) => {
    if (skip) return t.skip(skip);
    for (const n of [1, 7, 1001, 65537]) {
      reset();
      const x = randArray(n, n, 12);
      if (n > 10) x.set([0, -0, 1e-30, 80, -80, 200, -200, -1.2784645]);
      const dy = randArray(n, n + 1);
      const px = put(x), pdy = put(dy), py = alloc(n), pdx = alloc(n);
      addon.swish(heap, px, py, n);
      addon.swish_grad(heap, pdy, px, pdx, n);
      assertEach(get(py, n), Array.from(x, (v) => v * sigmoid(v)), `swish n=${n}`, 2e-6, 1e-30);
      const want = Array.from(x, (v, i) => dy[i]! * sigmoid(v) * (1 + v * (1 - sigmoid(v))));
      // swish' has a zero near x ≈ −1.278: an absolute floor there, relative to |dy|
      assertEach(get(pdx, n), want, `swish_grad n=${n}`, 2e-6, 1e-6);
    }
  });

  it('glu / glu_grad (h = 1, 33; rows 1, 5, 301)', (t) => {
    if (skip) return t.skip(skip);
    for (const h of [1, 33])
      for (const rows of [1, 5, 301]) {
        reset();
        const y = randArray(rows * 2 * h, h * rows, 8);
        const dy = randArray(rows * h, h * rows + 1);
        const py = put(y), pdy = put(dy), pout = alloc(rows * h), pd = alloc(rows * 2 * h);
        addon.glu(heap, py, pout, rows, h);
        addon.glu_grad(heap, pdy, py, pd, rows, h);
        const out = new Float64Array(rows * h);
        const d = new Float64Array(rows * 2 * h);
        for (let r = 0; r < rows; r++)
          for (let j = 0; j < h; j++) {
            const v = y[r * 2 * h + j]!, s = sigmoid(y[r * 2 * h + h + j]!), g = dy[r * h + j]!;
            out[r * h + j] = v * s;
            d[r * 2 * h + j] = g * s;
            d[r * 2 * h + h + j] = g * v * s * (1 - s);
          }
        assertEach(get(pout, rows * h), out, `glu h=${h} rows=${rows}`, 2e-6, 1e-37);
        // σ(g)·(1 − σ(g)) loses digits to cancellation where σ(g) ≈ 1: an absolute floor (|dy·v| ≤ 8)
        assertEach(get(pd, rows * 2 * h), d, `glu_grad h=${h} rows=${rows}`, 2e-6, 1e-6);
      }
  });

  it('bounds: RangeError past the heap', (t) => {
    if (skip) return t.skip(skip);
    const small = new Uint8Array(4096);
    const range = (f: () => unknown, what: string) => assert.throws(f, (e: Error) => e instanceof RangeError && /^convbert_blas\.(swish|swish_grad|glu|glu_grad): /.test(e.message), what);
    addon.glu(small, 0, 2048, 64, 4); // y 512 floats, out 256: in bounds
    addon.glu_grad(small, 0, 1024, 2048, 64, 4); // dy 256, y 512, dyFull 512 ending at the heap's end
    range(() => addon.glu(small, 0, 2048, 129, 4), 'glu: y past the heap');
    range(() => addon.glu(small, 0, 3088, 64, 4), 'glu: out past the heap');
    range(() => addon.glu(small, 2064, 0, 64, 4), 'glu: y from the middle past the heap');
    range(() => addon.glu_grad(small, 0, 1024, 2064, 64, 4), 'glu_grad: dyFull past the heap');
    range(() => addon.swish(small, 0, 2048, 513), 'swish: y past the heap');
    range(() => addon.swish_grad(small, 0, 1024, 3072, 257), 'swish_grad: dx past the heap');
  });
});

// ---- the pool's late-start deadlock (native/pool.c) ----
describe('the thread pool: a worker created right before a job takes it (no deadlock)', () => {
  it('kernel_threads(1), then more threads and a job at once, in a child process (5 times)', (t) => {
    if (skip) return t.skip(skip);
    // Workers are only ever added: each raise creates new ones right before the job that follows; before the fix a
    // new worker could read that job's generation as already seen and the job waited for it forever.
    const script = `
      const a = require(${JSON.stringify(addonFile)});
      const mem = new WebAssembly.Memory({ initial: 200 });
      const heap = new Uint8Array(mem.buffer), f = new Float32Array(mem.buffer);
      const n = 1 << 20;
      a.kernel_threads(1);
      const sums = [];
      for (const threads of [3, 4, 5, 6, 7]) {
        for (let i = 0; i < n; i++) { f[i] = i % 7; f[n + i] = (i % 3) + threads; }
        a.kernel_threads(threads);
        a.binary(heap, ${BINARY_OPS.Add}, 0, ${PATTERN.full}, 4 * n, ${PATTERN.full}, 8 * n, 1, n);
        let s = 0;
        for (let i = 0; i < n; i++) s += f[2 * n + i];
        sums.push(s);
      }
      console.log(JSON.stringify({ sums, threads: a.kernel_threads() }));
    `;
    const r = spawnSync(process.execPath, ['-e', script], { timeout: 20000, encoding: 'utf8' });
    assert.equal(r.error, undefined, `the child failed to finish within 20 s (a deadlock?): ${r.error?.message}`);
    assert.equal(r.signal, null, `the child was killed (${r.signal}): a deadlock?`);
    assert.equal(r.status, 0, `child exit ${r.status}: ${r.stderr}`);
    const out = JSON.parse(r.stdout.trim()) as { sums: number[]; threads: number };
    const n = 1 << 20;
    const want = (threads: number) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += (i % 7) + (i % 3) + threads;
      return s;
    };
    assert.deepEqual(out.sums, [3, 4, 5, 6, 7].map(want));
    assert.equal(out.threads, 7);
  });
});

// ---- through TF.js on blas ----
describe('TF.js on blas: strided products, the direct conv and the fused activations', () => {
  let tfSkip: string | false = false;
  before(async () => {
    if (!skip) tfSkip = await loadBlasForTests();
  });
  const why = () => skip || tfSkip;
  const T = (shape: number[], seed: number, scale = 1) => tf.tensor(randArray(size(shape), seed, scale), shape);

  async function values(backend: string, f: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
    await tf.setBackend(backend);
    const ts = tf.tidy(f);
    const list = Array.isArray(ts) ? ts : [ts];
    const out: Float32Array[] = [];
    for (const t of list) out.push(Float32Array.from((await t.data()) as Float32Array));
    tf.dispose(list);
    return out;
  }
  const native = (kernel: string) => blasKernelCalls()[kernel]?.native ?? 0;

  // [name, inputs' shapes, attrs, the same product on cpu from tf.matMul of transposed / sliced operands]
  const [Bn, Tn, H, dh] = [2, 5, 3, 4];
  const [N, G, n, o] = [7, 3, 5, 6];
  const heads: MatrixLayout = { s1: Tn * H * dh, s2: dh, ld: H * dh };
  const split = (q: tf.Tensor) => q.reshape([Bn, Tn, H, dh]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
  const groups = (x: tf.Tensor, w: number) => x.reshape([N, G, w]).transpose([1, 0, 2]) as tf.Tensor3D;
  const CASES: { name: string; a: number[]; b: number[]; attrs: StridedMatMulAttrs; ref: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor }[] = [
    {
      name: 'attention scores Q·Kᵀ·α from [B, T, H·dh]',
      a: [Bn, Tn, H * dh],
      b: [Bn, Tn, H * dh],
      attrs: { b1: Bn, b2: H, m: Tn, n: Tn, k: dh, transposeA: false, transposeB: true, alpha: 0.5, a: heads, b: heads, c: packed(Tn, Tn, H), shape: [Bn, H, Tn, Tn] },
      ref: (q, k) => tf.matMul(split(q), split(k), false, true).mul(0.5),
    },
    {
      name: 'attention context P·V into [B, T, H·dh]',
      a: [Bn, H, Tn, Tn],
      b: [Bn, Tn, H * dh],
      attrs: { b1: Bn, b2: H, m: Tn, n: dh, k: Tn, transposeA: false, transposeB: false, alpha: 1, a: packed(Tn, Tn, H), b: heads, c: heads, shape: [Bn, Tn, H * dh] },
      ref: (p, v) => tf.matMul(p as tf.Tensor4D, split(v)).transpose([0, 2, 1, 3]).reshape([Bn, Tn, H * dh]),
    },
    {
      name: 'grouped dense filter gradient x_gᵀ·dy_g (transposeA) from [N, G·n], [N, G·o]',
      a: [N, G * n],
      b: [N, G * o],
      attrs: { b1: G, b2: 1, m: n, n: o, k: N, transposeA: true, transposeB: false, alpha: 1, a: { s1: n, s2: 0, ld: G * n }, b: { s1: o, s2: 0, ld: G * o }, c: packed(n, o), shape: [G, n, o] },
      ref: (x, dy) => tf.matMul(groups(x, n), groups(dy, o), true, false),
    },
    {
      name: 'grouped dense input gradient dy_g·W_gᵀ (transposeB) into [N, G·n]',
      a: [N, G * o],
      b: [G, n, o],
      attrs: { b1: G, b2: 1, m: N, n, k: o, transposeA: false, transposeB: true, alpha: 1, a: { s1: o, s2: 0, ld: G * o }, b: packed(n, o), c: { s1: n, s2: 0, ld: G * n }, shape: [N, G * n] },
      ref: (dy, w) => tf.matMul(groups(dy, o), w as tf.Tensor3D, false, true).transpose([1, 0, 2]).reshape([N, G * n]),
    },
  ];

  for (const c of CASES) {
    it(`stridedMatMul: ${c.name} = tf.matMul on cpu`, async (t) => {
      if (why()) return t.skip(String(why()));
      const [want] = await values('cpu', () => c.ref(T(c.a, 1), T(c.b, 2)));
      const before = native(STRIDED_MATMUL_KERNEL);
      const got = await values('wasm', () => {
        const out = stridedMatMul(T(c.a, 1), T(c.b, 2), c.attrs);
        assert.deepEqual(out.shape, c.attrs.shape);
        return out;
      });
      assert.equal(native(STRIDED_MATMUL_KERNEL), before + 1, 'ConvbertStridedMatMul ran');
      assertClose(got[0]!, want!, c.name, 1e-6);
    });
  }

  it('stridedMatMul: a matrix outside its tensor, and an output the products do not fill, throw', async (t) => {
    if (why()) return t.skip(String(why()));
    await tf.setBackend('wasm');
    const c = CASES[0]!;
    const a = T(c.a, 1), b = T(c.b, 2);
    try {
      // a heap-valid layout whose last head runs past q's end (s1 one row too long)
      const off = { ...c.attrs, a: { ...heads, s1: heads.s1 + H * dh } };
      assert.throws(() => stridedMatMul(a, b, off), /ConvbertStridedMatMul: a matrix of the batch lies outside its tensor/);
      const offB = { ...c.attrs, b: { ...heads, ld: heads.ld + 1 } };
      assert.throws(() => stridedMatMul(a, b, offB), /lies outside its tensor/);
      // the output: C rows ld apart wider than the output holds
      const offC = { ...c.attrs, c: { ...c.attrs.c, ld: Tn + 1 } };
      assert.throws(() => stridedMatMul(a, b, offC), /lies outside its tensor/);
      assert.throws(() => stridedMatMul(a, b, { ...c.attrs, shape: [Bn, H, Tn, Tn + 1] }), /do not fill an output of shape/);
      assert.throws(() => stridedMatMul(a, b, { ...c.attrs, shape: [Bn, H, Tn] }), /do not fill an output of shape/);
    } finally {
      tf.dispose([a, b]);
    }
  });

  it('countMatmulFlops: one stridedMatMul = 2·batch·m·n·k', async (t) => {
    if (why()) return t.skip(String(why()));
    await tf.setBackend('wasm');
    for (const c of CASES) {
      const a = T(c.a, 1), b = T(c.b, 2);
      const { b1, b2, m, n: nn, k } = c.attrs;
      const count = await countMatmulFlops(() => stridedMatMul(a, b, c.attrs));
      assert.equal(count.total, 2 * b1 * b2 * m * nn * k, c.name);
      assert.equal(count.calls[STRIDED_MATMUL_KERNEL], 1, c.name);
      tf.dispose([a, b]);
    }
  });

  // groupedConv1d on blas (direct kernels) vs cpu: Co not a multiple of 16, causal padding
  const CONV: { name: string; B: number; T: number; G: number; Cg: number; Co: number; K: number; padding: ConvPadding }[] = [
    { name: 'Co = 5, K = 4, same', B: 2, T: 9, G: 3, Cg: 4, Co: 5, K: 4, padding: 'same' },
    { name: 'Co = 20, K = 3, causal', B: 2, T: 11, G: 2, Cg: 16, Co: 20, K: 3, padding: 'causal' },
    { name: 'Co = 16, K = 7, causal', B: 1, T: 13, G: 2, Cg: 16, Co: 16, K: 7, padding: 'causal' },
    { name: 'Co = 32, K = 1, same', B: 2, T: 4, G: 2, Cg: 3, Co: 32, K: 1, padding: 'same' },
  ];
  const convGrads = (c: (typeof CONV)[number]) => () => {
    const x = T([c.B, c.T, c.G * c.Cg], 3) as tf.Tensor3D;
    const w = T([c.G, c.K * c.Cg, c.Co], 4, 0.5) as tf.Tensor3D;
    const up = T([c.B, c.T, c.G * c.Co], 5);
    const opts = { kernelSize: c.K, channelsPerGroup: c.Cg, padding: c.padding };
    const y = groupedConv1d(x, w, opts);
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => groupedConv1d(a as tf.Tensor3D, b as tf.Tensor3D, opts).mul(up).sum())([x, w]);
    return [y, dx!, dw!];
  };

  for (const c of CONV) {
    it(`groupedConv1d ${c.name}: values and gradients = cpu; the direct kernels ran`, async (t) => {
      if (why()) return t.skip(String(why()));
      const want = await values('cpu', convGrads(c));
      const fwd = native(DIRECT_CONV_KERNELS.forward), filt = native(DIRECT_CONV_KERNELS.filter);
      const got = await values('wasm', convGrads(c));
      // forward twice (y, and inside tf.grads) plus the input gradient; the filter gradient once
      assert.equal(native(DIRECT_CONV_KERNELS.forward), fwd + 3, 'ConvbertGroupedConv1d ran');
      assert.equal(native(DIRECT_CONV_KERNELS.filter), filt + 1, 'ConvbertGroupedConv1dFilter ran');
      for (const [i, what] of ['y', 'dx', 'dw'].entries()) assertClose(got[i]!, want[i]!, `${c.name}: ${what}`, 2e-6);
      assert.ok(convPadding(c.K, c.padding)[0] >= 0);
    });
  }

  it('countMatmulFlops of groupedConv1d forward + tf.grads: blas (direct kernels) = cpu', async (t) => {
    if (why()) return t.skip(String(why()));
    for (const c of CONV) {
      await tf.setBackend('cpu');
      const cpu = await countMatmulFlops(convGrads(c));
      await tf.setBackend('wasm');
      const blas = await countMatmulFlops(convGrads(c));
      assert.ok(cpu.total > 0, `${c.name}: cpu counted`);
      assert.equal(blas.total, cpu.total, `${c.name}: ${JSON.stringify(blas.byKernel)} vs ${JSON.stringify(cpu.byKernel)}`);
      assert.equal(blas.calls[DIRECT_CONV_KERNELS.forward], 3, `${c.name}: forward kernel calls`);
      assert.equal(blas.calls[DIRECT_CONV_KERNELS.filter], 1, `${c.name}: filter kernel calls`);
      // y and the forward in tf.grads are each 2·B·T·G·Co·K·Cg; dx and dw too
      assert.equal(blas.total, 4 * 2 * c.B * c.T * c.G * c.Co * c.K * c.Cg, `${c.name}: 4 products' FLOPs`);
    }
  });

  const gluCase = (shape: number[]) => () => {
    const y = T(shape, 6, 4);
    const up = T([...shape.slice(0, -1), shape[shape.length - 1]! / 2], 7);
    const g = tf.grad((v: tf.Tensor) => gluHalves(v).mul(up).sum())(y);
    return [gluHalves(y), g];
  };
  for (const shape of [[5, 7, 66], [3, 2], [1, 1, 34]]) {
    it(`gluHalves [${shape}]: values and gradients = cpu, natively`, async (t) => {
      if (why()) return t.skip(String(why()));
      const want = await values('cpu', gluCase(shape));
      const [g, gg] = [native(ACTIVATION_KERNELS.glu), native(ACTIVATION_KERNELS.gluGrad)];
      const got = await values('wasm', gluCase(shape));
      assert.equal(native(ACTIVATION_KERNELS.glu), g + 2, 'ConvbertGlu ran (twice)');
      assert.equal(native(ACTIVATION_KERNELS.gluGrad), gg + 1, 'ConvbertGluGrad ran');
      assertEach(got[0]!, want[0]!, `gluHalves [${shape}]`, 2e-6, 1e-30);
      // σ(g)·(1 − σ(g)) loses digits where σ(g) ≈ 1 (on either backend): an absolute floor
      assertEach(got[1]!, want[1]!, `gluHalves [${shape}] gradient`, 2e-6, 1e-6);
    });
  }

  it('swish [37, 101]: values and gradients = cpu, natively', async (t) => {
    if (why()) return t.skip(String(why()));
    const f = () => {
      const x = T([37, 101], 8, 6);
      return [swish(x), tf.grad((v: tf.Tensor) => swish(v).sum())(x)];
    };
    const want = await values('cpu', f);
    const [s, sg] = [native(ACTIVATION_KERNELS.swish), native(ACTIVATION_KERNELS.swishGrad)];
    const got = await values('wasm', f);
    assert.equal(native(ACTIVATION_KERNELS.swish), s + 2, 'ConvbertSwish ran (twice)');
    assert.equal(native(ACTIVATION_KERNELS.swishGrad), sg + 1, 'ConvbertSwishGrad ran');
    assertEach(got[0]!, want[0]!, 'swish', 2e-6, 1e-30);
    assertEach(got[1]!, want[1]!, 'swish gradient', 2e-6, 1e-6);
  });
});

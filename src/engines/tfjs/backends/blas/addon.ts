/**
 * Finding and loading the native addon (build/convbert_blas.node, beside ConvBERT Studio's package.json) and saying
 * why not: the build's own status file (build/convbert_blas.json) names what was missing at install. Found and loaded
 * through a `ModuleResolver` like the optional packages, so the tests' stand-in resolvers decide whether it is there.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../../../trainer/entry';
import { createNodeResolver, type ModuleResolver } from '../resolver';

export interface BlasAddon {
  sgemm(heap: Uint8Array, a: number, b: number, c: number, batch: number, m: number, n: number, k: number, transA: boolean, transB: boolean, strideA: number, strideB: number): void;
  /** A b1 × b2 batch of products of matrices where they lie (strides s1, s2 and leading dimension per operand). */
  sgemm_strided(
    heap: Uint8Array, a: number, b: number, c: number, b1: number, b2: number, m: number, n: number, k: number, transA: number, transB: number, alpha: number,
    as1: number, as2: number, lda: number, bs1: number, bs2: number, ldb: number, cs1: number, cs2: number, ldc: number,
  ): void;
  /** Grouped 1-D convolution x [B, T, G·Ci], w [G, K·Ci, Co] → y [B, T, G·Co] (native/conv.c). */
  conv1d_grouped(heap: Uint8Array, x: number, w: number, y: number, B: number, T: number, G: number, Ci: number, Co: number, K: number, before: number): void;
  /** Its filter gradient x, dy → dw [G, K·Ci, Co]. */
  conv1d_grouped_filter(heap: Uint8Array, x: number, dy: number, dw: number, B: number, T: number, G: number, Ci: number, Co: number, K: number, before: number): void;
  config(): string;
  /** The BLAS's threads (sets them when n > 0). */
  threads(n?: number): number;
  /** The element-wise kernels' threads, the caller's included (sets them when n > 0). */
  kernel_threads(n?: number): number;
  // The SIMD module's kernels (src/engines/tfjs/backends/wasm/simd/kernels.wat), the heap first: native/fused.c.
  gelu(heap: Uint8Array, x: number, y: number, cdf: number, n: number): void;
  gelu_grad(heap: Uint8Array, dy: number, x: number, cdf: number, dx: number, n: number): void;
  layernorm(heap: Uint8Array, x: number, gamma: number, beta: number, y: number, mean: number, rstd: number, rows: number, h: number, eps: number): void;
  layernorm_grad(heap: Uint8Array, dy: number, x: number, gamma: number, mean: number, rstd: number, dx: number, dgamma: number, dbeta: number, rows: number, h: number): void;
  transpose(heap: Uint8Array, src: number, dst: number, batch: number, rows: number, cols: number): void;
  swap_leading(heap: Uint8Array, src: number, dst: number, a: number, b: number, n: number): void;
  swap_leading_batch(heap: Uint8Array, src: number, dst: number, batch: number, a: number, b: number, n: number): void;
  copy_rows(heap: Uint8Array, src: number, srcStride: number, dst: number, dstStride: number, rows: number, run: number): void;
  im2col(heap: Uint8Array, x: number, dst: number, B: number, T: number, C: number, g: number, Cg: number, K: number, before: number): void;
  sum_rows(heap: Uint8Array, src: number, dst: number, rows: number, cols: number): void;
  adamw(
    heap: Uint8Array, w: number, g: number, m: number, v: number, w2: number, m2: number, v2: number, n: number,
    lr: number, beta1: number, beta2: number, eps: number, c1: number, c2: number, decay: number, scale: number,
  ): void;
  // Stock kernels' work (native/elementwise.c): ops and operand patterns numbered as in ./kernels.ts.
  binary(heap: Uint8Array, op: number, a: number, patternA: number, b: number, patternB: number, out: number, outer: number, inner: number): void;
  unary(heap: Uint8Array, op: number, x: number, y: number, n: number): void;
  softmax(heap: Uint8Array, x: number, y: number, rows: number, h: number): void;
  swish(heap: Uint8Array, x: number, y: number, n: number): void;
  swish_grad(heap: Uint8Array, dy: number, x: number, dx: number, n: number): void;
  /** y [rows, 2h] = [value | gate] → value·σ(gate) [rows, h]; its gradient → [rows, 2h]. */
  glu(heap: Uint8Array, y: number, out: number, rows: number, h: number): void;
  glu_grad(heap: Uint8Array, dy: number, y: number, dyFull: number, rows: number, h: number): void;
  /** Σ over the tensors (byte offsets, element counts) of Σ x². */
  sum_squares(heap: Uint8Array, offsets: Float64Array, counts: Float64Array): number;
  // Dropout's keep mask (native/random.c), the same integers as core/rng.ts's fillKeepMask.
  keep_mask(heap: Uint8Array, out: number, n: number, seed: number, threshold: number, scale: number): void;
}

export type AddonResult = { ok: true; addon: BlasAddon; file: string } | { ok: false; reason: string };

const cached = new Map<string, AddonResult>();

export async function loadBlasAddon(resolver: ModuleResolver = createNodeResolver(), root: string = packageRoot()): Promise<AddonResult> {
  const file = path.join(root, 'build', 'convbert_blas.node');
  const status = path.join(root, 'build', 'convbert_blas.json');
  let where: string | undefined;
  try {
    where = resolver.resolve(file);
  } catch {
    where = undefined;
  }
  if (!where) {
    let why = 'the native addon was not built (run `npm run build:native`)';
    try {
      const s = JSON.parse(readFileSync(status, 'utf8')) as { ok?: boolean; reason?: string };
      if (s.ok === false && s.reason) why = `the native addon was not built at install: ${s.reason}`;
    } catch {
      // no status file: the install did not try
    }
    return { ok: false, reason: why };
  }
  const known = cached.get(where);
  if (known) return known;
  return loadFrom(resolver, where);
}

async function loadFrom(resolver: ModuleResolver, file: string): Promise<AddonResult> {
  let addon: BlasAddon;
  try {
    addon = (await resolver.load(file)) as BlasAddon;
  } catch (err) {
    return { ok: false, reason: `the native addon does not load (rebuild it: npm run build:native): ${(err as Error).message.split('\n')[0]}` };
  }
  if (typeof addon?.sgemm !== 'function' || typeof addon.keep_mask !== 'function') return { ok: false, reason: `${file} is not ConvBERT Studio's BLAS addon, or an older build of it (rebuild it: npm run build:native)` };
  const result: AddonResult = { ok: true, addon, file };
  cached.set(file, result);
  return result;
}

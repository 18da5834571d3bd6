/**
 * The native kernels on the wasm heap, while `blas` is the loaded backend:
 * - TF.js's BatchMatMul on sgemm (./matmul.ts);
 * - the SIMD module's kernels (GELU, layer norm, AdamW, im2col, transposes, copies, row sums; ../wasm/simd) are
 *   served by the addon instead (native/fused.c), so our fused kernels and the kernel patches run natively, threaded;
 * - TF.js's stock Add, Sub, Multiply, RealDiv (over the broadcasts a model makes: same shape, a bias along the last
 *   axes, one value per row, a scalar), Neg, Square, Sigmoid, Exp, Sqrt, Rsqrt, Reciprocal, Relu, Log and Softmax
 *   are replaced by native ones (native/elementwise.c); anything else (other dtypes, other broadcasts) goes to the
 *   stock kernel;
 * - dropout's keep mask (core/ops/dropout.ts's `ConvbertKeepMask`) is drawn natively (native/random.c), and the
 *   gradient norm's Σ g² over all gradients (core/ops/sum-squares.ts's `ConvbertSumSquares`) is one native pass;
 * - products of matrices where they lie (core/ops/strided.ts's `ConvbertStridedMatMul`) are strided sgemm, and the
 *   grouped convolution and its filter gradient are direct native loops (core/ops/grouped.ts's DIRECT_CONV_KERNELS);
 * - swish and GLU and their gradients are one native pass each (core/ops/activations.ts's ACTIVATION_KERNELS).
 * Removed again, with the stock kernels put back, when plain wasm is asked for.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { KEEP_MASK_KERNEL, type KeepMaskAttrs } from '../../../../core/ops/dropout';
import { ACTIVATION_KERNELS } from '../../../../core/ops/activations';
import { DIRECT_CONV_KERNELS } from '../../../../core/ops/grouped';
import { STRIDED_MATMUL_KERNEL, type StridedMatMulAttrs } from '../../../../core/ops/strided';
import { SUM_SQUARES_KERNEL } from '../../../../core/ops/sum-squares';
import { heapOffset, setSimdKernelProvider, type SimdKernels } from '../wasm/simd';
import type { BlasAddon } from './addon';
import { heap } from './heap';
import { batchMatMulKernel } from './matmul';

type KernelFunc = tf.KernelConfig['kernelFunc'];
type KernelArgs = Parameters<KernelFunc>[0];

/** native/elementwise.c's numbering. */
export const BINARY_OPS = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3 } as const;
export const UNARY_OPS = { Neg: 0, Square: 1, Sigmoid: 2, Exp: 3, Sqrt: 4, Rsqrt: 5, Reciprocal: 6, Relu: 7, Log: 8 } as const;
/** How an operand is read over the output's [outer, inner]: all of it, along inner (a bias), along outer (one value per row), one value. */
export const PATTERN = { full: 0, bias: 1, row: 2, scalar: 3 } as const;
type Pattern = (typeof PATTERN)[keyof typeof PATTERN];

export interface BinaryPlan {
  outer: number;
  inner: number;
  a: Pattern;
  b: Pattern;
}

const prod = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);
const same = (x: readonly number[], y: readonly number[]) => x.length === y.length && x.every((v, i) => v === y[i]);
const ones = (x: readonly number[]) => x.every((v) => v === 1);

/**
 * Splits the output shape at an axis k into [outer, inner] so that each operand is read in one of the patterns;
 * undefined when no split fits (e.g. [8, 4, 128, 128] + [8, 1, 1, 128]): the stock kernel takes those.
 */
export function planBinary(aShape: readonly number[], bShape: readonly number[], out: readonly number[]): BinaryPlan | undefined {
  const r = out.length;
  if (aShape.length > r || bShape.length > r) return undefined;
  const pad = (s: readonly number[]) => [...new Array<number>(r - s.length).fill(1), ...s];
  const a = pad(aShape);
  const b = pad(bShape);
  const pattern = (x: number[], k: number): Pattern | undefined => {
    if (same(x, out)) return PATTERN.full;
    if (ones(x)) return PATTERN.scalar;
    if (ones(x.slice(0, k)) && same(x.slice(k), out.slice(k))) return PATTERN.bias;
    if (same(x.slice(0, k), out.slice(0, k)) && ones(x.slice(k))) return PATTERN.row;
    return undefined;
  };
  for (let k = 0; k <= r; k++) {
    const pa = pattern(a, k);
    const pb = pattern(b, k);
    if (pa !== undefined && pb !== undefined) return { outer: prod(out.slice(0, k)), inner: prod(out.slice(k)), a: pa, b: pb };
  }
  return undefined;
}

/** The addon's kernels with the SIMD module's signatures, bound to a backend's heap. */
function nativeSimd(addon: BlasAddon, backend: BackendWasm): SimdKernels {
  const h = () => heap(backend);
  return {
    gelu: (x, y, cdf, n) => addon.gelu(h(), x, y, cdf, n),
    gelu_grad: (dy, x, cdf, dx, n) => addon.gelu_grad(h(), dy, x, cdf, dx, n),
    layernorm: (x, g, b, y, mean, rstd, rows, hh, eps) => addon.layernorm(h(), x, g, b, y, mean, rstd, rows, hh, eps),
    layernorm_grad: (dy, x, g, mean, rstd, dx, dg, db, rows, hh) => addon.layernorm_grad(h(), dy, x, g, mean, rstd, dx, dg, db, rows, hh),
    transpose: (src, dst, batch, rows, cols) => addon.transpose(h(), src, dst, batch, rows, cols),
    swap_leading: (src, dst, a, b, n) => addon.swap_leading(h(), src, dst, a, b, n),
    swap_leading_batch: (src, dst, batch, a, b, n) => addon.swap_leading_batch(h(), src, dst, batch, a, b, n),
    copy_rows: (src, ss, dst, ds, rows, run) => addon.copy_rows(h(), src, ss, dst, ds, rows, run),
    im2col: (x, dst, B, T, C, g, Cg, K, before) => addon.im2col(h(), x, dst, B, T, C, g, Cg, K, before),
    sum_rows: (src, dst, rows, cols) => addon.sum_rows(h(), src, dst, rows, cols),
    adamw: (w, g, m, v, w2, m2, v2, n, lr, b1, b2, eps, c1, c2, decay, scale) => addon.adamw(h(), w, g, m, v, w2, m2, v2, n, lr, b1, b2, eps, c1, c2, decay, scale),
  };
}

/** Calls per kernel that went native and that went to the stock kernel, so far: what the tests check. */
const calls = new Map<string, { native: number; stock: number }>();
function count(name: string, native: boolean): void {
  const c = calls.get(name) ?? { native: 0, stock: 0 };
  if (native) c.native++;
  else c.stock++;
  calls.set(name, c);
}

function binaryKernel(addon: BlasAddon, name: keyof typeof BINARY_OPS, stock: KernelFunc): KernelFunc {
  const op = BINARY_OPS[name];
  return (args: KernelArgs) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const backend = args.backend as BackendWasm;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return count(name, false), stock(args);
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const plan = planBinary(a.shape, b.shape, outShape);
    if (!plan) return count(name, false), stock(args);
    count(name, true);
    const out = backend.makeOutput(outShape, 'float32');
    if (plan.outer * plan.inner > 0) addon.binary(heap(backend), op, heapOffset(backend, a), plan.a, heapOffset(backend, b), plan.b, heapOffset(backend, out), plan.outer, plan.inner);
    return out;
  };
}

function unaryKernel(addon: BlasAddon, name: keyof typeof UNARY_OPS, stock: KernelFunc): KernelFunc {
  const op = UNARY_OPS[name];
  return (args: KernelArgs) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const backend = args.backend as BackendWasm;
    if (x.dtype !== 'float32') return count(name, false), stock(args);
    count(name, true);
    const out = backend.makeOutput(x.shape, 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    if (n > 0) addon.unary(heap(backend), op, heapOffset(backend, x), heapOffset(backend, out), n);
    return out;
  };
}

function softmaxKernel(addon: BlasAddon, stock: KernelFunc): KernelFunc {
  return (args: KernelArgs) => {
    const { logits } = args.inputs as { logits: tf.TensorInfo };
    const { dim } = args.attrs as { dim: number };
    const backend = args.backend as BackendWasm;
    const r = logits.shape.length;
    if (logits.dtype !== 'float32' || r === 0 || (dim !== -1 && dim !== r - 1)) return count('Softmax', false), stock(args);
    count('Softmax', true);
    const out = backend.makeOutput(logits.shape, 'float32');
    const h = logits.shape[r - 1]!;
    const rows = tf.util.sizeFromShape(logits.shape) / Math.max(h, 1);
    if (rows * h > 0) addon.softmax(heap(backend), heapOffset(backend, logits), heapOffset(backend, out), rows, h);
    return out;
  };
}

function keepMaskKernel(addon: BlasAddon): KernelFunc {
  return (args: KernelArgs) => {
    const { shape, seed, threshold, scale } = args.attrs as unknown as KeepMaskAttrs;
    const backend = args.backend as BackendWasm;
    count(KEEP_MASK_KERNEL, true);
    const out = backend.makeOutput(shape, 'float32');
    const n = tf.util.sizeFromShape(shape);
    if (n > 0) addon.keep_mask(heap(backend), heapOffset(backend, out), n, seed, threshold, scale);
    return out;
  };
}

function sumSquaresKernel(addon: BlasAddon): KernelFunc {
  return (args: KernelArgs) => {
    const xs = Object.values(args.inputs) as tf.TensorInfo[];
    const backend = args.backend as BackendWasm;
    count(SUM_SQUARES_KERNEL, true);
    const offsets = new Float64Array(xs.map((x) => heapOffset(backend, x)));
    const counts = new Float64Array(xs.map((x) => tf.util.sizeFromShape(x.shape)));
    const total = addon.sum_squares(heap(backend), offsets, counts);
    const out = backend.makeOutput([], 'float32');
    new Float32Array(heap(backend).buffer, heapOffset(backend, out), 1)[0] = total;
    return out;
  };
}

function stridedMatMulKernel(addon: BlasAddon): KernelFunc {
  return (args: KernelArgs) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const at = args.attrs as unknown as StridedMatMulAttrs;
    const backend = args.backend as BackendWasm;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error(`${STRIDED_MATMUL_KERNEL}: float32 operands only, got ${a.dtype} and ${b.dtype}`);
    // the addon checks every matrix lies inside the heap; here, before any output is made, that they lie inside
    // their own tensors
    const inside = (shape: number[], l: StridedMatMulAttrs['a'], rows: number, cols: number) =>
      at.b1 * at.b2 * rows * cols === 0 || (at.b1 - 1) * l.s1 + (at.b2 - 1) * l.s2 + (rows - 1) * l.ld + cols <= tf.util.sizeFromShape(shape);
    if (
      !inside(a.shape, at.a, at.transposeA ? at.k : at.m, at.transposeA ? at.m : at.k) ||
      !inside(b.shape, at.b, at.transposeB ? at.n : at.k, at.transposeB ? at.k : at.n) ||
      !inside(at.shape, at.c, at.m, at.n)
    ) {
      throw new Error(`${STRIDED_MATMUL_KERNEL}: a matrix of the batch lies outside its tensor`);
    }
    count(STRIDED_MATMUL_KERNEL, true);
    const out = backend.makeOutput(at.shape, 'float32');
    addon.sgemm_strided(
      heap(backend), heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, out), at.b1, at.b2, at.m, at.n, at.k,
      at.transposeA ? 1 : 0, at.transposeB ? 1 : 0, at.alpha, at.a.s1, at.a.s2, at.a.ld, at.b.s1, at.b.s2, at.b.ld, at.c.s1, at.c.s2, at.c.ld,
    );
    return out;
  };
}

function convKernel(addon: BlasAddon, filter: boolean): KernelFunc {
  const name = filter ? DIRECT_CONV_KERNELS.filter : DIRECT_CONV_KERNELS.forward;
  return (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const { kernelSize: K, before } = args.attrs as unknown as { kernelSize: number; before: number; groups?: number };
    const x = (args.inputs as { x: tf.TensorInfo }).x;
    const other = filter ? (args.inputs as { dy: tf.TensorInfo }).dy : (args.inputs as { w: tf.TensorInfo }).w;
    if (x.dtype !== 'float32' || other.dtype !== 'float32' || x.shape.length !== 3 || other.shape.length !== 3) throw new Error(`${name}: float32 [B, T, C] and 3-D operands only`);
    const [B, T, C] = x.shape as [number, number, number];
    let G: number, Ci: number, Co: number;
    if (filter) {
      G = (args.attrs as unknown as { groups: number }).groups;
      Ci = C / G;
      Co = other.shape[2]! / G;
      if (other.shape[0] !== B || other.shape[1] !== T || !Number.isInteger(Ci) || !Number.isInteger(Co)) throw new Error(`${name}: dy [${other.shape}] does not match x [${x.shape}] in ${G} groups`);
    } else {
      [G, Ci, Co] = [other.shape[0]!, other.shape[1]! / K, other.shape[2]!];
      if (!Number.isInteger(Ci) || G * Ci !== C) throw new Error(`${name}: kernel [${other.shape}] does not match x [${x.shape}] with ${K} taps`);
    }
    count(name, true);
    const out = backend.makeOutput(filter ? [G, K * Ci, Co] : [B, T, G * Co], 'float32');
    (filter ? addon.conv1d_grouped_filter : addon.conv1d_grouped)(heap(backend), heapOffset(backend, x), heapOffset(backend, other), heapOffset(backend, out), B, T, G, Ci, Co, K, before);
    return out;
  };
}

/** The fused activations: float32 only (core/ops/activations.ts checks before calling). */
function activationKernel(addon: BlasAddon, which: keyof typeof ACTIVATION_KERNELS): KernelFunc {
  return (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const inputs = args.inputs as Record<string, tf.TensorInfo>;
    count(ACTIVATION_KERNELS[which], true);
    const at = (t: tf.TensorInfo) => heapOffset(backend, t);
    if (which === 'swish' || which === 'swishGrad') {
      const x = inputs.x!;
      const out = backend.makeOutput(x.shape, 'float32');
      const n = tf.util.sizeFromShape(x.shape);
      if (which === 'swish') addon.swish(heap(backend), at(x), at(out), n);
      else addon.swish_grad(heap(backend), at(inputs.dy!), at(x), at(out), n);
      return out;
    }
    const y = inputs.y!;
    const h2 = y.shape[y.shape.length - 1]!;
    if (h2 % 2 !== 0) throw new Error(`${ACTIVATION_KERNELS.glu}: the last axis (${h2}) must have two halves`);
    const rows = tf.util.sizeFromShape(y.shape) / Math.max(h2, 1);
    if (which === 'glu') {
      const out = backend.makeOutput([...y.shape.slice(0, -1), h2 / 2], 'float32');
      if (rows * h2 > 0) addon.glu(heap(backend), at(y), at(out), rows, h2 / 2);
      return out;
    }
    const out = backend.makeOutput(y.shape, 'float32');
    if (rows * h2 > 0) addon.glu_grad(heap(backend), at(inputs.dy!), at(y), at(out), rows, h2 / 2);
    return out;
  };
}

let installed: { stock: tf.KernelConfig[]; added: string[] } | undefined;

/** Installs the native kernels for the wasm backend (idempotent). */
export function installBlasKernels(addon: BlasAddon): void {
  if (installed) return;
  const stock: tf.KernelConfig[] = [];
  const replace = (name: string, make: (stockFunc: KernelFunc) => KernelFunc) => {
    const k = tf.getKernel(name, 'wasm');
    if (!k) return; // this TF.js has no such wasm kernel: nothing to replace
    stock.push(k);
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...k, kernelFunc: make(k.kernelFunc) });
  };
  if (!tf.getKernel('BatchMatMul', 'wasm')) throw new Error('the wasm backend has no BatchMatMul kernel to replace');
  replace('BatchMatMul', (s) => batchMatMulKernel(addon, s, (native) => count('BatchMatMul', native)));
  for (const name of Object.keys(BINARY_OPS) as (keyof typeof BINARY_OPS)[]) replace(name, (s) => binaryKernel(addon, name, s));
  for (const name of Object.keys(UNARY_OPS) as (keyof typeof UNARY_OPS)[]) replace(name, (s) => unaryKernel(addon, name, s));
  replace('Softmax', (s) => softmaxKernel(addon, s));
  const added: string[] = [];
  const add = (name: string, kernelFunc: KernelFunc) => {
    if (tf.getKernel(name, 'wasm')) return;
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc });
    added.push(name);
  };
  add(KEEP_MASK_KERNEL, keepMaskKernel(addon));
  add(SUM_SQUARES_KERNEL, sumSquaresKernel(addon));
  add(STRIDED_MATMUL_KERNEL, stridedMatMulKernel(addon));
  add(DIRECT_CONV_KERNELS.forward, convKernel(addon, false));
  add(DIRECT_CONV_KERNELS.filter, convKernel(addon, true));
  for (const which of Object.keys(ACTIVATION_KERNELS) as (keyof typeof ACTIVATION_KERNELS)[]) add(ACTIVATION_KERNELS[which], activationKernel(addon, which));
  const bound = new WeakMap<object, SimdKernels>();
  setSimdKernelProvider((backend) => {
    let k = bound.get(backend);
    if (!k) bound.set(backend, (k = nativeSimd(addon, backend)));
    return k;
  });
  installed = { stock, added };
}

/** Puts TF.js's stock kernels and the SIMD module's own back (plain wasm asked for in this process). */
export function removeBlasKernels(): void {
  if (!installed) return;
  for (const k of installed.stock) {
    tf.unregisterKernel(k.kernelName, 'wasm');
    tf.registerKernel(k);
  }
  for (const name of installed.added) tf.unregisterKernel(name, 'wasm');
  setSimdKernelProvider(undefined);
  installed = undefined;
}

export function blasKernelsInstalled(): boolean {
  return installed !== undefined;
}

/** How many products went to sgemm and how many to the stock BatchMatMul, so far in this process. */
export function blasMatMulCalls(): { blas: number; stock: number } {
  const c = calls.get('BatchMatMul');
  return { blas: c?.native ?? 0, stock: c?.stock ?? 0 };
}

/** Per kernel name, the calls that ran natively and those that went to the stock kernel, so far in this process. */
export function blasKernelCalls(): Record<string, { native: number; stock: number }> {
  return Object.fromEntries([...calls.entries()].map(([k, v]) => [k, { ...v }]));
}

/**
 * Kernel replacements for the wasm backend (tfjs-backend-wasm 4.22.0), applied after `setBackend('wasm')`:
 *
 * - `Slice`, `SplitV`, `Unpack`: the stock kernels call `backend.readSync(x)`, which copies the *whole* input out
 *   of the wasm heap on every call (an unstack of 64 pieces copies the tensor 64 times). These versions copy only
 *   the requested block, straight from heap view to heap view.
 * - `UnsortedSegmentSum`: missing from the wasm backend, so the gradient of `tf.gather` fails there. A plain JS
 *   implementation over heap views.
 * - `OneHot` with a non-int32 dtype: the stock kernel ignores the dtype and writes int32 bit patterns, so
 *   `tf.oneHot(ids, n, 1, 0, 'float32')` reads back 1.4e-45 for 1. Int32 requests still go to the stock kernel.
 *
 * - `Transpose` of a matrix ([1, 0]): the stock kernel walks the output with strided reads that miss the cache on
 *   large matrices (a [1024, 256] transpose took 2.1 ms, 8 ns per element; one per dense-layer weight gradient).
 *   Tiled copies instead (0.9 ms). Other permutations stay stock: it is as fast as JS there or faster
 *   ([0, 2, 1] of [32, 128, 128]; [1, 0, 2] with 16-float runs).
 * - `Sum` over leading axes (bias and LayerNorm γ/β gradients): the stock kernel first transposes the reduced axes
 *   to the end (a [1024, 1024] bias gradient took 9 ms). Here: rows accumulated into a float64 buffer.
 * - `GatherV2` on axis 0 without batch dims (embedding lookups): row copies instead of a per-element loop.
 * - `Identity` shares the input's buffer (reference-counted, as the cpu backend and wasm's own Reshape do) instead
 *   of copying it: TF.js clones every tensor a custom gradient saves, ~800 copies per GroupBERT step.
 * Other cases go to the stock kernels.
 *
 * Rule for heap views: `backend.makeOutput()` may grow wasm memory, which detaches every existing view, so each
 * output is allocated *before* the views of it and of the inputs are taken.
 *
 * `applyWasmKernelPatches` is idempotent; `removeWasmKernelPatches` restores the stock kernels (tests, benchmarks).
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type TypedArray = Float32Array | Int32Array | Uint8Array;
type KernelFunc = tf.KernelConfig['kernelFunc'];
type KernelArgs = Parameters<KernelFunc>[0];

const PATCH_MARK = Symbol.for('convbert-studio.wasm-kernel-patch');
export const PATCHED_WASM_KERNELS = ['Slice', 'SplitV', 'Unpack', 'UnsortedSegmentSum', 'OneHot', 'Transpose', 'Sum', 'GatherV2', 'Identity'] as const;
export type PatchedKernelName = (typeof PATCHED_WASM_KERNELS)[number];

/** Stock kernel configs replaced by a patch (undefined when the stock backend had none). */
const stock = new Map<PatchedKernelName, tf.KernelConfig | undefined>();

function heap(backend: BackendWasm, t: tf.TensorInfo): TypedArray {
  return backend.typedArrayFromHeap(t) as TypedArray;
}

/**
 * Copy the block `begin … begin+size` of a row-major tensor of `shape` from `src` into `dst` at `dstOffset`,
 * as runs of contiguous elements (trailing dimensions taken whole are merged into one run).
 */
export function copyBlock(
  src: TypedArray,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  dst: TypedArray,
  dstOffset = 0,
): void {
  const rank = shape.length;
  if (rank === 0) {
    dst[dstOffset] = src[0]!;
    return;
  }
  const total = size.reduce((a, b) => a * b, 1);
  if (total === 0) return;
  const strides = tf.util.computeStrides(shape as number[]);
  // Innermost contiguous run: dims d..rank-1 where every dim after d is taken whole.
  let d = rank - 1;
  let run = size[d]!;
  while (d > 0 && size[d] === shape[d]) {
    d--;
    run *= size[d]!;
  }
  const stride = (i: number) => (i === rank - 1 ? 1 : strides[i]!);
  const base = begin[d]! * stride(d);
  if (d === 0) {
    dst.set(src.subarray(base, base + run), dstOffset);
    return;
  }
  const idx = new Array<number>(d).fill(0);
  let out = dstOffset;
  for (let n = total / run; n > 0; n--) {
    let off = base;
    for (let i = 0; i < d; i++) off += (begin[i]! + idx[i]!) * strides[i]!;
    dst.set(src.subarray(off, off + run), out);
    out += run;
    for (let i = d - 1; i >= 0; i--) {
      if (++idx[i]! < size[i]!) break;
      idx[i] = 0;
    }
  }
}

function sliceBlock(backend: BackendWasm, x: tf.TensorInfo, begin: number[], size: number[], outShape = size) {
  const out = backend.makeOutput(outShape, x.dtype); // may grow memory: views after this
  if (tf.util.sizeFromShape(size) > 0) copyBlock(heap(backend, x), x.shape, begin, size, heap(backend, out));
  return out;
}

function makeSlice(stockSlice: KernelFunc | undefined): KernelFunc {
  return (args: KernelArgs) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string' && stockSlice) return stockSlice(args);
    const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
    return sliceBlock(args.backend as BackendWasm, x, b!, s!);
  };
}

function makeSplitV(stockSplit: KernelFunc | undefined): KernelFunc {
  return (args: KernelArgs) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string' && stockSplit) return stockSplit(args);
    const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
    const begin = new Array<number>(x.shape.length).fill(0);
    const backend = args.backend as BackendWasm;
    return sizes.map((s) => {
      const size = [...x.shape];
      size[ax] = s!;
      const out = sliceBlock(backend, x, [...begin], size);
      begin[ax]! += s;
      return out;
    });
  };
}

function makeUnpack(stockUnpack: KernelFunc | undefined): KernelFunc {
  return (args: KernelArgs) => {
    const { value } = args.inputs as { value: tf.TensorInfo };
    if (value.dtype === 'string' && stockUnpack) return stockUnpack(args);
    let { axis } = args.attrs as unknown as { axis: number };
    const rank = value.shape.length;
    if (axis < 0) axis += rank;
    const outShape = value.shape.filter((_, i) => i !== axis);
    const size = [...value.shape];
    size[axis] = 1;
    const begin = new Array<number>(rank).fill(0);
    const backend = args.backend as BackendWasm;
    const outs: tf.TensorInfo[] = [];
    for (let i = 0; i < value.shape[axis]!; i++) {
      begin[axis] = i;
      outs.push(sliceBlock(backend, value, begin, size, outShape));
    }
    return outs;
  };
}

/** out[ids[i], …] += x[i, …]; ids outside [0, numSegments) are dropped (TF drops negative ids). */
const unsortedSegmentSum: KernelFunc = (args: KernelArgs) => {
  const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const { numSegments } = args.attrs as unknown as { numSegments: number };
  const backend = args.backend as BackendWasm;
  const idRank = segmentIds.shape.length;
  const outShape = [numSegments, ...x.shape.slice(idRank)];
  const out = backend.makeOutput(outShape, x.dtype);
  const ov = heap(backend, out);
  ov.fill(0);
  const nIds = tf.util.sizeFromShape(segmentIds.shape);
  const inner = tf.util.sizeFromShape(x.shape.slice(idRank));
  if (nIds === 0 || inner === 0) return out;
  const xv = heap(backend, x);
  const ids = heap(backend, segmentIds);
  for (let i = 0; i < nIds; i++) {
    const seg = ids[i]!;
    if (seg < 0 || seg >= numSegments) continue;
    const src = i * inner;
    const dst = seg * inner;
    for (let j = 0; j < inner; j++) ov[dst + j]! += xv[src + j]!;
  }
  return out;
};

function makeOneHot(stockOneHot: KernelFunc | undefined): KernelFunc {
  return (args: KernelArgs) => {
    const { dtype, depth, onValue, offValue } = args.attrs as unknown as {
      dtype: tf.DataType;
      depth: number;
      onValue: number;
      offValue: number;
    };
    if (dtype === 'int32' && stockOneHot) return stockOneHot(args);
    const { indices } = args.inputs as { indices: tf.TensorInfo };
    const backend = args.backend as BackendWasm;
    const out = backend.makeOutput([...indices.shape, depth], dtype);
    const ov = heap(backend, out);
    ov.fill(offValue);
    const ids = heap(backend, indices);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id >= 0 && id < depth) ov[i * depth + id] = onValue;
    }
    return out;
  };
}

/** Tiled 2-D transpose of the R×C matrix at src[so…] into dst[do…] (C×R). */
function transposeMatrix(src: TypedArray, so: number, R: number, C: number, dst: TypedArray, dO: number): void {
  const T = 32;
  for (let r0 = 0; r0 < R; r0 += T) {
    const r1 = Math.min(R, r0 + T);
    for (let c0 = 0; c0 < C; c0 += T) {
      const c1 = Math.min(C, c0 + T);
      for (let c = c0; c < c1; c++) {
        const o = dO + c * R;
        for (let r = r0; r < r1; r++) dst[o + r] = src[so + r * C + c]!;
      }
    }
  }
}

function makeTranspose(stockTranspose: KernelFunc | undefined): KernelFunc {
  return (args: KernelArgs) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { perm } = args.attrs as unknown as { perm: number[] };
    const s = x.shape;
    const key = perm.join(',');
    const fast = x.dtype !== 'string' && x.dtype !== 'complex64' && key === '1,0';
    if (!fast || !stockTranspose) {
      if (!stockTranspose) throw new Error('Transpose: no stock kernel');
      return stockTranspose(args);
    }
    const backend = args.backend as BackendWasm;
    const out = backend.makeOutput(perm.map((p) => s[p]!), x.dtype); // views after this
    const xv = heap(backend, x);
    const ov = heap(backend, out);
    transposeMatrix(xv, 0, s[0]!, s[1]!, ov, 0);
    return out;
  };
}

function makeSum(stockSum: KernelFunc | undefined): KernelFunc {
  return (args: KernelArgs) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    if (!leading || x.dtype !== 'float32' || !stockSum) {
      if (!stockSum) throw new Error('Sum: no stock kernel');
      return stockSum(args);
    }
    const kept = x.shape.slice(axes.length);
    const inner = tf.util.sizeFromShape(kept);
    const rows = tf.util.sizeFromShape(x.shape) / inner;
    const backend = args.backend as BackendWasm;
    const out = backend.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, 'float32');
    const xv = heap(backend, x);
    const ov = heap(backend, out);
    const acc = new Float64Array(inner);
    let r = 0;
    for (; r + 4 <= rows; r += 4) {
      // Four rows per pass over the accumulator: 2.3× faster than one.
      const o0 = r * inner;
      const o1 = o0 + inner;
      const o2 = o1 + inner;
      const o3 = o2 + inner;
      for (let j = 0; j < inner; j++) acc[j]! += xv[o0 + j]! + xv[o1 + j]! + (xv[o2 + j]! + xv[o3 + j]!);
    }
    for (; r < rows; r++) {
      const o = r * inner;
      for (let j = 0; j < inner; j++) acc[j]! += xv[o + j]!;
    }
    ov.set(acc);
    return out;
  };
}

function makeGatherV2(stockGather: KernelFunc | undefined): KernelFunc {
  return (args: KernelArgs) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0]!;
    if (ax !== 0 || (batchDims ?? 0) !== 0 || x.dtype === 'string' || x.shape.length < 1 || !stockGather) {
      if (!stockGather) throw new Error('GatherV2: no stock kernel');
      return stockGather(args);
    }
    const V = x.shape[0]!;
    const inner = tf.util.sizeFromShape(x.shape.slice(1));
    const backend = args.backend as BackendWasm;
    const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
    const xv = heap(backend, x);
    const ov = heap(backend, out);
    const ids = heap(backend, indices);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id < 0 || id >= V) throw new Error(`GatherV2: index ${id} is not in [0, ${V - 1}]`);
      ov.set(xv.subarray(id * inner, (id + 1) * inner), i * inner);
    }
    return out;
  };
}

function makeIdentity(stockIdentity: KernelFunc | undefined): KernelFunc {
  return (args: KernelArgs) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string' && stockIdentity) return stockIdentity(args);
    (args.backend as BackendWasm).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

const factories: Record<PatchedKernelName, (stockFn: KernelFunc | undefined) => KernelFunc> = {
  Slice: makeSlice,
  SplitV: makeSplitV,
  Unpack: makeUnpack,
  UnsortedSegmentSum: () => unsortedSegmentSum,
  OneHot: makeOneHot,
  Transpose: makeTranspose,
  Sum: makeSum,
  GatherV2: makeGatherV2,
  Identity: makeIdentity,
};

function isPatched(config: tf.KernelConfig | undefined): boolean {
  return !!config && (config.kernelFunc as unknown as Record<symbol, unknown>)[PATCH_MARK] === true;
}

/**
 * Replace the wasm kernels listed in `PATCHED_WASM_KERNELS`. Safe to call any number of times; returns the names
 * patched by this call (empty when all were already in place). Does not need the wasm backend to be active.
 */
export function applyWasmKernelPatches(): PatchedKernelName[] {
  const done: PatchedKernelName[] = [];
  for (const name of PATCHED_WASM_KERNELS) {
    const existing = tf.getKernel(name, 'wasm');
    if (isPatched(existing)) continue;
    stock.set(name, existing);
    if (existing) tf.unregisterKernel(name, 'wasm');
    const kernelFunc = factories[name](existing?.kernelFunc);
    (kernelFunc as unknown as Record<symbol, unknown>)[PATCH_MARK] = true;
    // Keep the stock setup/dispose hooks: a stock kernelFunc we delegate to may rely on its setup having run.
    tf.registerKernel({
      kernelName: name,
      backendName: 'wasm',
      kernelFunc,
      ...(existing?.setupFunc ? { setupFunc: existing.setupFunc } : {}),
      ...(existing?.disposeFunc ? { disposeFunc: existing.disposeFunc } : {}),
    });
    done.push(name);
  }
  return done;
}

/** Put the stock kernels back (and drop UnsortedSegmentSum, which the stock backend lacks). */
export function removeWasmKernelPatches(): void {
  for (const name of PATCHED_WASM_KERNELS) {
    const existing = tf.getKernel(name, 'wasm');
    if (!isPatched(existing)) continue;
    tf.unregisterKernel(name, 'wasm');
    const original = stock.get(name);
    if (original) tf.registerKernel(original);
  }
}

/** Which of the patches are currently registered. */
export function wasmKernelPatchesApplied(): PatchedKernelName[] {
  return PATCHED_WASM_KERNELS.filter((name) => isPatched(tf.getKernel(name, 'wasm')));
}
